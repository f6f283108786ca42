// The keys table, key creation and a key's page.
import { h, clear, field, select, fmtTime } from './dom.js';

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
export const OPERATIONS = {
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

export function errorBox(e) {
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

// PAGE is how many keys the view lists, describes and tags at a time: an
// account with thousands of keys costs a page's requests per view, not
// thousands.
const PAGE = 100;

export async function keysView(view, client) {
  const status = h('p', { class: 'muted', role: 'status', id: 'keys-status' }, 'Loading keys…');
  const fState = select('state', [['', 'Any state'], ...STATES], '');
  const fSpec = select('spec', [['', 'Any spec'], ...SPECS], '');
  const fUsage = select('usage', [['', 'Any usage'], ...USAGES], '');
  const fText = h('input', { name: 'text', type: 'search', placeholder: 'alias, id or description' });
  const fTag = h('input', { name: 'tag', type: 'search', placeholder: 'key or key=value', spellcheck: 'false' });
  const tbody = h('tbody');
  const createBtn = h('button', { type: 'button', id: 'create-key' }, 'Create key');
  const moreBtn = h('button', { type: 'button', id: 'keys-more', class: 'secondary', hidden: true, 'aria-describedby': 'keys-status' }, 'Load more keys');
  clear(view,
    h('div', { class: 'titlebar' }, h('h1', {}, 'Keys'), createBtn),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter keys' },
      field('State', fState), field('Key spec', fSpec), field('Key usage', fUsage), field('Alias or text', fText), field('Tag', fTag)),
    status,
    h('table', { class: 'keys' },
      h('thead', {}, h('tr', {}, ['Key ID', 'Aliases', 'State', 'Spec', 'Usage', 'Description', 'Tags'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody),
    h('p', {}, moreBtn));

  // rows are the keys loaded so far, newest first; marker is ListKeys'
  // NextMarker while more keys remain; gen drops the answers of a load
  // that a newer one replaced.
  let rows = [], marker, byKey = new Map(), gen = 0;
  const draw = () => {
    const text = fText.value.trim().toLowerCase();
    const [tagKey, tagValue] = fTag.value.trim().split(/=(.*)/s);
    const shown = rows.filter(({ md, aliases, tags }) =>
      (!tagKey || tags.some((t) => t.TagKey === tagKey && (tagValue === undefined || t.TagValue === tagValue))) &&
      (!fState.value || md.KeyState === fState.value) &&
      (!fSpec.value || md.KeySpec === fSpec.value) &&
      (!fUsage.value || md.KeyUsage === fUsage.value) &&
      (!text || [md.KeyId, md.Description || '', ...aliases].some((s) => s.toLowerCase().includes(text))));
    const filtered = text || tagKey || fState.value || fSpec.value || fUsage.value;
    clear(tbody, shown.map(({ md, aliases, tags }) => h('tr', { 'data-key-id': md.KeyId },
      h('td', {}, h('a', { href: `#/keys/${encodeURIComponent(md.KeyId)}`, class: 'mono' }, md.KeyId)),
      h('td', {}, aliases.join(', ')),
      h('td', {}, stateBadge(md)),
      h('td', {}, md.KeySpec),
      h('td', {}, md.KeyUsage),
      h('td', {}, md.Description || ''),
      h('td', { class: 'small' }, tags.map((t) => `${t.TagKey}=${t.TagValue}`).join(', ')))),
    // Nothing matches yet, but the keys not loaded may.
    filtered && !shown.length && marker && h('tr', { class: 'hint' },
      h('td', { colspan: '7' }, 'No loaded key matches. More keys are not loaded yet: Load more keys may find some.')));
    clear(status, `${shown.length} of ${rows.length} ${marker ? 'loaded ' : ''}keys${filtered ? ' match' : ''}${marker ? '; more keys not loaded yet' : ''}`);
    moreBtn.hidden = !marker;
  };
  for (const c of [fState, fSpec, fUsage]) c.addEventListener('change', draw);
  fText.addEventListener('input', draw);
  fTag.addEventListener('input', draw);

  // One DescribeKey and one ListResourceTags per key (the list calls give
  // neither state nor tags), for the keys of the loaded pages only. A
  // denied one leaves the others.
  const describe = async (keyId) => {
    const [md, tags] = await Promise.all([
      client.kms('DescribeKey', { KeyId: keyId }).then((o) => o.KeyMetadata,
        (e) => ({ KeyId: keyId, KeyState: 'Unknown', Description: String(e) })),
      client.listAll('ListResourceTags', 'Tags', { KeyId: keyId }).catch(() => []),
    ]);
    return { md, tags, aliases: byKey.get(keyId) || [] };
  };
  // add puts described keys among the rows (a key already there, such as
  // one just created, is not added twice), newest first.
  const add = (more) => {
    const have = new Set(rows.map((r) => r.md.KeyId));
    rows.push(...more.filter((r) => !have.has(r.md.KeyId)));
    rows.sort((a, b) => (b.md.CreationDate || 0) - (a.md.CreationDate || 0));
  };
  const listPage = (after) => client.kms('ListKeys', { Limit: PAGE, ...(after ? { Marker: after } : {}) });
  // addPage describes and tags the keys of a ListKeys answer and adds them
  // (to no rows, if fresh), unless a newer load started meanwhile.
  const addPage = async (out, g, fresh) => {
    const page = await mapLimit(out.Keys || [], 6, (k) => describe(k.KeyId));
    if (g !== gen) return;
    if (fresh) rows = [];
    marker = out.Truncated ? out.NextMarker : undefined;
    add(page);
  };
  // load starts again from the first page; created, a key just made, is
  // shown even when its page is not loaded.
  const load = async (created) => {
    const g = ++gen;
    try {
      const [aliases, out] = await Promise.all([client.listAll('ListAliases', 'Aliases'), listPage()]);
      if (g !== gen) return;
      byKey = aliasesByKey(aliases);
      await addPage(out, g, true);
      if (created && g === gen && !rows.some((r) => r.md.KeyId === created)) add([await describe(created)]);
      if (g === gen) draw();
    } catch (e) {
      if (g === gen) clear(status, errorBox(e));
    }
  };
  // Load more keys: the next page, appended. aria-disabled rather than
  // disabled while it loads, so the button keeps the keyboard focus.
  moreBtn.addEventListener('click', async () => {
    if (moreBtn.getAttribute('aria-disabled')) return;
    const g = gen;
    moreBtn.setAttribute('aria-disabled', 'true');
    clear(status, 'Loading more keys…');
    try {
      await addPage(await listPage(marker), g, false);
      if (g === gen) draw();
    } catch (e) {
      if (g === gen) clear(status, errorBox(e));
    } finally {
      moreBtn.removeAttribute('aria-disabled');
    }
  });
  createBtn.addEventListener('click', () => createKeyDialog(client, load));
  await load();
}

// parseTags reads "key=value" lines; a line without "=" is a tag with an
// empty value, as AWS allows.
function parseTags(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? { TagKey: l, TagValue: '' } : { TagKey: l.slice(0, i).trim(), TagValue: l.slice(i + 1).trim() };
  });
}

function createKeyDialog(client, done) {
  const spec = select('KeySpec', SPECS, 'SYMMETRIC_DEFAULT');
  const usage = select('KeyUsage', usagesFor('SYMMETRIC_DEFAULT'), 'ENCRYPT_DECRYPT');
  spec.addEventListener('change', () => clear(usage, usagesFor(spec.value).map((u) => h('option', { value: u }, u))));
  const desc = h('input', { name: 'Description', maxlength: '8192' });
  const alias = h('input', { name: 'AliasName', placeholder: 'alias/my-app', spellcheck: 'false' });
  const tags = h('textarea', { name: 'Tags', rows: '2', placeholder: 'team=payments', spellcheck: 'false' });
  const policy = h('textarea', { name: 'Policy', rows: '4', placeholder: 'The default policy (the account decides through IAM) if empty', spellcheck: 'false' });
  const multi = h('input', { type: 'checkbox', name: 'MultiRegion', id: 'create-multi-region' });
  const error = h('div', { class: 'dialog-error' });
  const ok = h('button', { type: 'submit', id: 'create-key-submit' }, 'Create');
  const dlg = h('dialog', { 'aria-labelledby': 'create-title' },
    h('form', { class: 'stack' },
      h('h3', { id: 'create-title' }, 'Create a key'),
      field('Key spec', spec), field('Key usage', usage), field('Description', desc),
      field('Alias (optional)', alias, 'An alias name starts with alias/; it is added if missing.'),
      field('Tags (optional)', tags, 'One key=value a line.'),
      field('Key policy (optional, JSON)', policy),
      h('div', { class: 'field check' }, multi, h('label', { for: multi.id }, 'Multi-Region primary key')),
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
      if (multi.checked) input.MultiRegion = true;
      if (policy.value.trim()) input.Policy = policy.value.trim(); // the server validates it
      const tagList = parseTags(tags.value);
      if (tagList.length) input.Tags = tagList;
      const md = (await client.kms('CreateKey', input)).KeyMetadata;
      let name = alias.value.trim();
      if (name) {
        if (!name.startsWith('alias/')) name = `alias/${name}`;
        try {
          await client.kms('CreateAlias', { AliasName: name, TargetKeyId: md.KeyId });
        } catch (e) {
          clear(error, errorBox(`The key ${md.KeyId} was created, but not its alias: ${e}`));
          done(md.KeyId);
          return;
        }
      }
      dlg.close();
      done(md.KeyId);
    } catch (e) {
      clear(error, errorBox(e));
    } finally {
      ok.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
}
