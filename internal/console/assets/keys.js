// The keys table, key creation and a key's page.
import { h, clear, field, select, fmtTime, confirmDialog } from './dom.js';
import { policySection } from './policy.js';

const SPECS = ['SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384',
  'ECC_NIST_P521', 'ECC_SECG_P256K1', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2'];
const USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'];
const STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'PendingReplicaDeletion', 'Unavailable', 'Creating', 'Updating'];

// The usages each spec allows, so the form offers only valid pairs.
function usagesFor(spec) {
  if (spec === 'SYMMETRIC_DEFAULT') return ['ENCRYPT_DECRYPT'];
  if (spec.startsWith('HMAC_')) return ['GENERATE_VERIFY_MAC'];
  if (spec.startsWith('RSA_')) return ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'];
  if (spec === 'SM2') return ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'];
  if (spec === 'ECC_SECG_P256K1') return ['SIGN_VERIFY'];
  return ['SIGN_VERIFY', 'KEY_AGREEMENT'];
}

// The operations that fail while a key is not enabled, by usage.
const OPERATIONS = {
  ENCRYPT_DECRYPT: ['Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair'],
  SIGN_VERIFY: ['Sign', 'Verify', 'GetPublicKey'],
  GENERATE_VERIFY_MAC: ['GenerateMac', 'VerifyMac'],
  KEY_AGREEMENT: ['DeriveSharedSecret', 'GetPublicKey'],
};

export function stateBadge(md) {
  const state = md.KeyState;
  let text = state;
  if (state === 'PendingDeletion' && md.DeletionDate) text = `PendingDeletion (${fmtTime(md.DeletionDate).slice(0, 10)})`;
  return h('span', { class: `badge state-${state}`, title: state === 'PendingDeletion' ? `Deleted on ${fmtTime(md.DeletionDate)}` : null }, text);
}

function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, String(e));
}

// aliasesByKey maps a key id to its alias names.
function aliasesByKey(aliases) {
  const m = new Map();
  for (const a of aliases) {
    if (!a.TargetKeyId) continue;
    if (!m.has(a.TargetKeyId)) m.set(a.TargetKeyId, []);
    m.get(a.TargetKeyId).push(a.AliasName);
  }
  return m;
}

// mapLimit runs fn over items, n at a time, keeping the order.
async function mapLimit(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export async function keysView(view, client) {
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading keys…');
  const fState = select('state', [['', 'Any state'], ...STATES], '');
  const fSpec = select('spec', [['', 'Any spec'], ...SPECS], '');
  const fUsage = select('usage', [['', 'Any usage'], ...USAGES], '');
  const fText = h('input', { name: 'text', type: 'search', placeholder: 'alias, id or description' });
  const tbody = h('tbody');
  const createBtn = h('button', { type: 'button', id: 'create-key' }, 'Create key');
  clear(view,
    h('div', { class: 'titlebar' }, h('h1', {}, 'Keys'), createBtn),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter keys' },
      field('State', fState), field('Key spec', fSpec), field('Key usage', fUsage), field('Alias or text', fText)),
    status,
    h('table', { class: 'keys' },
      h('thead', {}, h('tr', {}, ['Key ID', 'Aliases', 'State', 'Spec', 'Usage', 'Description'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody));

  let rows = [];
  const draw = () => {
    const text = fText.value.trim().toLowerCase();
    const shown = rows.filter(({ md, aliases }) =>
      (!fState.value || md.KeyState === fState.value) &&
      (!fSpec.value || md.KeySpec === fSpec.value) &&
      (!fUsage.value || md.KeyUsage === fUsage.value) &&
      (!text || [md.KeyId, md.Description || '', ...aliases].some((s) => s.toLowerCase().includes(text))));
    clear(tbody, shown.map(({ md, aliases }) => h('tr', { 'data-key-id': md.KeyId },
      h('td', {}, h('a', { href: `#/keys/${encodeURIComponent(md.KeyId)}`, class: 'mono' }, md.KeyId)),
      h('td', {}, aliases.join(', ')),
      h('td', {}, stateBadge(md)),
      h('td', {}, md.KeySpec),
      h('td', {}, md.KeyUsage),
      h('td', {}, md.Description || ''))));
    clear(status, `${shown.length} of ${rows.length} keys`);
  };
  for (const c of [fState, fSpec, fUsage]) c.addEventListener('change', draw);
  fText.addEventListener('input', draw);

  const load = async () => {
    try {
      const [keys, aliases] = await Promise.all([client.listAll('ListKeys', 'Keys'), client.listAll('ListAliases', 'Aliases')]);
      const byKey = aliasesByKey(aliases);
      const mds = await mapLimit(keys, 6, async (k) => {
        try {
          return (await client.kms('DescribeKey', { KeyId: k.KeyId })).KeyMetadata;
        } catch (e) {
          return { KeyId: k.KeyId, KeyState: 'Unknown', Description: String(e) };
        }
      });
      rows = mds.map((md) => ({ md, aliases: byKey.get(md.KeyId) || [] }))
        .sort((a, b) => (b.md.CreationDate || 0) - (a.md.CreationDate || 0));
      draw();
    } catch (e) {
      clear(status, errorBox(e));
    }
  };
  createBtn.addEventListener('click', () => createKeyDialog(client, load));
  await load();
}

function createKeyDialog(client, done) {
  const spec = select('KeySpec', SPECS, 'SYMMETRIC_DEFAULT');
  const usage = select('KeyUsage', usagesFor('SYMMETRIC_DEFAULT'), 'ENCRYPT_DECRYPT');
  spec.addEventListener('change', () => clear(usage, usagesFor(spec.value).map((u) => h('option', { value: u }, u))));
  const desc = h('input', { name: 'Description', maxlength: '8192' });
  const alias = h('input', { name: 'AliasName', placeholder: 'alias/my-app', spellcheck: 'false' });
  const error = h('div', { class: 'dialog-error' });
  const ok = h('button', { type: 'submit', id: 'create-key-submit' }, 'Create');
  const dlg = h('dialog', { 'aria-labelledby': 'create-title' },
    h('form', { class: 'stack' },
      h('h3', { id: 'create-title' }, 'Create a key'),
      field('Key spec', spec), field('Key usage', usage), field('Description', desc),
      field('Alias (optional)', alias, 'An alias name starts with alias/; it is added if missing.'),
      error,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'), ok)));
  dlg.addEventListener('close', () => dlg.remove());
  dlg.querySelector('form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(error);
    ok.disabled = true;
    try {
      const input = { KeySpec: spec.value, KeyUsage: usage.value };
      if (desc.value) input.Description = desc.value;
      const md = (await client.kms('CreateKey', input)).KeyMetadata;
      let name = alias.value.trim();
      if (name) {
        if (!name.startsWith('alias/')) name = `alias/${name}`;
        try {
          await client.kms('CreateAlias', { AliasName: name, TargetKeyId: md.KeyId });
        } catch (e) {
          clear(error, errorBox(`The key ${md.KeyId} was created, but not its alias: ${e}`));
          done();
          return;
        }
      }
      dlg.close();
      done();
    } catch (e) {
      clear(error, errorBox(e));
    } finally {
      ok.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
}

function row(term, value) {
  if (value == null || value === '' || (Array.isArray(value) && !value.length)) return null;
  return [h('dt', {}, term), h('dd', {}, Array.isArray(value) ? value.join(', ') : value)];
}

export async function keyView(view, client, keyId) {
  clear(view, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  let md, aliases;
  try {
    [md, aliases] = await Promise.all([
      client.kms('DescribeKey', { KeyId: keyId }).then((o) => o.KeyMetadata),
      client.listAll('ListAliases', 'Aliases', { KeyId: keyId }).catch(() => []),
    ]);
  } catch (e) {
    clear(view, h('p', {}, h('a', { href: '#/keys' }, '← Keys')), errorBox(e));
    return;
  }
  const names = aliases.map((a) => a.AliasName);
  const actions = h('div', { class: 'actions' });
  const message = h('div', { role: 'status' });
  if (md.KeyState === 'Enabled') {
    actions.append(h('button', { type: 'button', class: 'danger', id: 'disable-key', onclick: () => toggle(false) }, 'Disable key'));
  } else if (md.KeyState === 'Disabled') {
    actions.append(h('button', { type: 'button', id: 'enable-key', onclick: () => toggle(true) }, 'Enable key'));
  }
  if (md.KeyState === 'PendingDeletion') {
    actions.append(h('button', { type: 'button', id: 'cancel-deletion', onclick: cancelDeletion }, 'Cancel deletion'));
  } else if (['Enabled', 'Disabled', 'PendingImport'].includes(md.KeyState) && md.KeyManager !== 'AWS') {
    actions.append(h('button', { type: 'button', class: 'danger', id: 'schedule-deletion', onclick: scheduleDeletion }, 'Schedule deletion'));
  }
  actions.append(h('a', { class: 'button secondary', id: 'key-audit', href: `#/audit?resource=${encodeURIComponent(md.Arn)}` }, 'Audit events of this key'));

  // run calls op on the key and reloads the page, or shows the error.
  async function run(op, input = {}) {
    try {
      await client.kms(op, { KeyId: md.KeyId, ...input });
      keyView(view, client, keyId);
    } catch (e) {
      clear(message, errorBox(e));
    }
  }

  async function scheduleDeletion() {
    const days = h('input', { name: 'PendingWindowInDays', type: 'number', min: '7', max: '30', value: '30', required: true });
    const ops = OPERATIONS[md.KeyUsage] || [];
    const body = h('div', {},
      h('p', {}, `From now on ${md.KeyId} cannot be used for ${ops.join(', ')}${names.length ? ` (nor through ${names.join(', ')})` : ''}. ` +
        'At the end of the waiting period the key and its material are deleted for good: ' +
        (md.KeyUsage === 'ENCRYPT_DECRYPT' ? 'data encrypted under it can never be decrypted again.' : 'nothing it signed or MACed can be verified with it again.')),
      h('p', {}, 'Until then the deletion can be cancelled.'),
      field('Waiting period (days, 7 to 30)', days));
    if (!(await confirmDialog('Schedule deletion of this key?', body, 'Schedule deletion'))) return;
    run('ScheduleKeyDeletion', { PendingWindowInDays: Number(days.value) || 30 });
  }

  async function cancelDeletion() {
    const body = h('p', {}, `The deletion of ${md.KeyId} is cancelled and the key becomes Disabled; enable it to use it again.`);
    if (await confirmDialog('Cancel the deletion?', body, 'Cancel deletion', false)) run('CancelKeyDeletion');
  }

  async function toggle(enable) {
    const ops = OPERATIONS[md.KeyUsage] || [];
    const who = names.length ? `, including through its alias${names.length > 1 ? 'es' : ''} ${names.join(', ')}` : '';
    const body = enable
      ? h('p', {}, `Enabling ${md.KeyId} lets every principal its key policy and grants allow use it again for ${ops.join(', ')}.`)
      : h('div', {},
        h('p', {}, `While ${md.KeyId} is disabled, these operations with it fail with DisabledException${who}:`),
        h('ul', { class: 'ops' }, ops.map((o) => h('li', {}, o))),
        md.KeyUsage === 'ENCRYPT_DECRYPT'
          ? h('p', {}, 'Data encrypted under this key cannot be decrypted until the key is enabled again.') : null);
    if (await confirmDialog(enable ? 'Enable this key?' : 'Disable this key?', body, enable ? 'Enable' : 'Disable', !enable)) {
      run(enable ? 'EnableKey' : 'DisableKey');
    }
  }

  clear(view,
    h('p', {}, h('a', { href: '#/keys' }, '← Keys')),
    h('div', { class: 'titlebar left' }, h('h1', { class: 'mono' }, md.KeyId), stateBadge(md)),
    actions, message,
    h('dl', { class: 'meta' },
      row('ARN', md.Arn), row('Aliases', names), row('Description', md.Description), row('State', md.KeyState),
      row('Deletion date', md.DeletionDate && fmtTime(md.DeletionDate)),
      row('Created', fmtTime(md.CreationDate)), row('Key spec', md.KeySpec), row('Key usage', md.KeyUsage),
      row('Origin', md.Origin), row('Key manager', md.KeyManager), row('Multi-Region', md.MultiRegion ? 'yes' : 'no'),
      row('Encryption algorithms', md.EncryptionAlgorithms), row('Signing algorithms', md.SigningAlgorithms),
      row('MAC algorithms', md.MacAlgorithms), row('Key agreement algorithms', md.KeyAgreementAlgorithms),
      row('Account', md.AWSAccountId)),
    await detailsSection(client, md),
    await policySection(client, md.KeyId));
}

// detailsSection shows the key's tags and rotation, each read on its own
// so that a denied one leaves the other.
async function detailsSection(client, md) {
  const [tags, rotation] = await Promise.all([
    client.listAll('ListResourceTags', 'Tags', { KeyId: md.KeyId }).catch((e) => e),
    md.KeySpec === 'SYMMETRIC_DEFAULT' && md.Origin === 'AWS_KMS'
      ? client.kms('GetKeyRotationStatus', { KeyId: md.KeyId }).catch((e) => e) : null,
  ]);
  const failed = (e) => h('span', { class: 'error small' }, String(e));
  let rot = 'Not available for this key spec or origin';
  if (rotation instanceof Error) rot = failed(rotation);
  else if (rotation) {
    rot = rotation.KeyRotationEnabled
      ? `Enabled, every ${rotation.RotationPeriodInDays || 365} days${rotation.NextRotationDate ? `, next on ${fmtTime(rotation.NextRotationDate)}` : ''}`
      : 'Disabled';
  }
  let tagList;
  if (tags instanceof Error) tagList = failed(tags);
  else if (!tags.length) tagList = h('span', { class: 'muted' }, 'No tags');
  else tagList = h('ul', { class: 'tags' }, tags.map((t) => h('li', {}, h('span', { class: 'badge' }, `${t.TagKey} = ${t.TagValue}`))));
  return h('section', { 'aria-labelledby': 'details-title' }, h('h2', { id: 'details-title' }, 'Tags and rotation'),
    h('dl', { class: 'meta' }, h('dt', {}, 'Tags'), h('dd', { id: 'key-tags' }, tagList),
      h('dt', {}, 'Automatic rotation'), h('dd', { id: 'key-rotation' }, rot)));
}
