// A key's page: metadata, state changes, tags, rotation, last use, imported
// key material, multi-Region replicas, grants and the key policy.
import { h, clear, field, fmtTime, confirmDialog } from './dom.js';
import { OPERATIONS, errorBox, stateBadge } from './keys.js';
import { policySection } from './policy.js';
import { rotationSection } from './rotation.js';
import { grantsSection } from './grants.js';
import { whoSection } from './who.js';
import { usageSection } from './usage.js';
import { importSection } from './import.js';
import { replicasSection } from './replicas.js';

function row(term, value) {
  if (value == null || value === '' || (Array.isArray(value) && !value.length)) return null;
  return [h('dt', {}, term), h('dd', {}, Array.isArray(value) ? value.join(', ') : value)];
}

export async function keyView(view, client, keyId) {
  clear(view, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  let md, aliases;
  try {
    md = (await client.kms('DescribeKey', { KeyId: keyId })).KeyMetadata;
    // By key id: keyId may be an alias, which ListAliases does not take.
    aliases = await client.listAll('ListAliases', 'Aliases', { KeyId: md.KeyId }).catch(() => []);
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

  const who = whoSection(client, md);
  clear(view,
    h('p', {}, h('a', { href: '#/keys' }, '← Keys')),
    h('div', { class: 'titlebar left' }, h('h1', { class: 'mono' }, md.KeyId), stateBadge(md)),
    actions, message,
    h('dl', { class: 'meta' },
      row('ARN', md.Arn), row('Description', md.Description), row('State', md.KeyState),
      row('Deletion date', md.DeletionDate && fmtTime(md.DeletionDate)),
      row('Created', fmtTime(md.CreationDate)), row('Key spec', md.KeySpec), row('Key usage', md.KeyUsage),
      row('Origin', md.Origin), row('Key manager', md.KeyManager), row('Multi-Region', md.MultiRegion ? 'yes' : 'no'),
      row('Encryption algorithms', md.EncryptionAlgorithms), row('Signing algorithms', md.SigningAlgorithms),
      row('MAC algorithms', md.MacAlgorithms), row('Key agreement algorithms', md.KeyAgreementAlgorithms),
      row('Account', md.AWSAccountId)),
    ...(await Promise.all([
      detailsSection(client, md, names, () => keyView(view, client, keyId)),
      who.refresh().then(() => who.section),
      usageSection(client, md),
      importSection(client, md, () => keyView(view, client, keyId)),
      replicasSection(client, md, () => keyView(view, client, keyId)),
      rotationSection(client, md, () => keyView(view, client, keyId)),
      grantsSection(client, md, who.refresh),
      policySection(client, md.KeyId, who.refresh),
    ])));
}

// tagEditor lists the tags with a remove button each, and a form to add
// one (TagResource replaces the value of an existing key).
function tagEditor(client, md, tags, reload) {
  const message = h('div', { role: 'status' });
  const call = async (op, input) => {
    try {
      await client.kms(op, { KeyId: md.KeyId, ...input });
      reload();
    } catch (e) {
      clear(message, errorBox(e));
    }
  };
  const remove = async (t) => {
    const body = h('p', {}, `Key policies, IAM policies and grants that test aws:ResourceTag/${t.TagKey} stop matching ${md.KeyId}.`);
    if (await confirmDialog(`Remove the tag ${t.TagKey} = ${t.TagValue}?`, body, 'Remove tag')) call('UntagResource', { TagKeys: [t.TagKey] });
  };
  const key = h('input', { name: 'TagKey', spellcheck: 'false', required: true });
  const value = h('input', { name: 'TagValue', spellcheck: 'false' });
  const form = h('form', { class: 'filters', id: 'tag-form', 'aria-label': 'Add a tag' },
    field('Tag key', key), field('Tag value', value), h('div', { class: 'field' }, h('button', { type: 'submit', class: 'secondary' }, 'Add tag')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    call('TagResource', { Tags: [{ TagKey: key.value.trim(), TagValue: value.value.trim() }] });
  });
  return h('div', {},
    tags.length
      ? h('ul', { class: 'tags' }, tags.map((t) => h('li', { 'data-tag-key': t.TagKey }, h('span', { class: 'badge' }, `${t.TagKey} = ${t.TagValue}`),
        h('button', { type: 'button', class: 'link', 'aria-label': `Remove the tag ${t.TagKey}`, onclick: () => remove(t) }, '×'))))
      : h('span', { class: 'muted' }, 'No tags'),
    form, message);
}

// aliasEditor lists the key's aliases with a remove button each, and a
// form to add one.
function aliasEditor(client, md, names, reload) {
  const message = h('div', { role: 'status' });
  const call = async (op, input) => {
    try {
      await client.kms(op, input);
      reload();
    } catch (e) {
      clear(message, errorBox(e));
    }
  };
  const remove = async (name) => {
    const body = h('p', {}, `Requests that name ${name} fail with NotFoundException; the key itself and requests by its id or ARN are not affected.`);
    if (await confirmDialog(`Delete the alias ${name}?`, body, 'Delete alias')) call('DeleteAlias', { AliasName: name });
  };
  const input = h('input', { name: 'NewAlias', placeholder: 'alias/my-app', spellcheck: 'false', required: true });
  const form = h('form', { class: 'filters', id: 'alias-form', 'aria-label': 'Add an alias' },
    field('New alias', input), h('div', { class: 'field' }, h('button', { type: 'submit', class: 'secondary' }, 'Add alias')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    call('CreateAlias', { AliasName: name.startsWith('alias/') ? name : `alias/${name}`, TargetKeyId: md.KeyId });
  });
  return h('div', {},
    names.length
      ? h('ul', { class: 'tags', id: 'key-aliases' }, names.map((n) => h('li', { 'data-alias': n }, h('span', { class: 'mono' }, n),
        h('button', { type: 'button', class: 'link', 'aria-label': `Delete the alias ${n}`, onclick: () => remove(n) }, '×'))))
      : h('span', { class: 'muted', id: 'key-aliases' }, 'No aliases'),
    form, message);
}

// detailsSection shows the key's aliases, tags and last use, each read on
// its own so that a denied one leaves the others.
async function detailsSection(client, md, names, reload) {
  const [tags, last] = await Promise.all([
    client.listAll('ListResourceTags', 'Tags', { KeyId: md.KeyId }).catch((e) => e),
    client.kms('GetKeyLastUsage', { KeyId: md.KeyId }).catch((e) => e),
  ]);
  const failed = (e) => h('span', { class: 'error small' }, String(e));
  const tagList = tags instanceof Error ? failed(tags) : tagEditor(client, md, tags, reload);
  let lastUse;
  if (last instanceof Error) lastUse = failed(last);
  else if (last.KeyLastUsage?.Operation) {
    const u = last.KeyLastUsage;
    lastUse = h('span', {}, `${u.Operation} on ${fmtTime(u.Timestamp)} `,
      u.CloudTrailEventId ? h('a', { href: `#/audit?resource=${encodeURIComponent(md.Arn)}&event=${encodeURIComponent(u.Operation)}` }, '(in the audit trail)') : null);
  } else {
    lastUse = h('span', { class: 'muted' }, last.TrackingStartDate ? `Not used since ${fmtTime(last.TrackingStartDate)}` : 'Never used');
  }
  return h('section', { 'aria-labelledby': 'details-title' }, h('h2', { id: 'details-title' }, 'Aliases, tags and use'),
    h('dl', { class: 'meta' }, h('dt', {}, 'Aliases'), h('dd', {}, aliasEditor(client, md, names, reload)),
      h('dt', {}, 'Tags'), h('dd', { id: 'key-tags' }, tagList),
      h('dt', {}, 'Last used'), h('dd', { id: 'key-last-use' }, lastUse)));
}
