// A key's grants: list, create, revoke.
import { h, clear, field, confirmDialog } from './dom.js';
import { OPERATIONS } from './keys.js';

// The grant operations that make sense for a key of each usage.
const GRANT_OPS = {
  ENCRYPT_DECRYPT: ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
    'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'DescribeKey', 'CreateGrant', 'RetireGrant'],
  SIGN_VERIFY: ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant'],
  GENERATE_VERIFY_MAC: ['GenerateMac', 'VerifyMac', 'DescribeKey', 'CreateGrant', 'RetireGrant'],
  KEY_AGREEMENT: ['DeriveSharedSecret', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant'],
};

function constraints(c) {
  if (!c) return '';
  const ctx = c.EncryptionContextEquals || c.EncryptionContextSubset;
  if (!ctx) return '';
  const pairs = Object.entries(ctx).map(([k, v]) => `${k}=${v}`).join(', ');
  return c.EncryptionContextEquals ? `context equals ${pairs}` : `context includes ${pairs}`;
}

export async function grantsSection(client, md, onChange = () => {}) {
  const section = h('section', { 'aria-labelledby': 'grants-title' }, h('h2', { id: 'grants-title' }, 'Grants'));
  const message = h('div', { role: 'status' });
  const list = h('div', { id: 'grants-list' });
  const load = async () => {
    try {
      const grants = await client.listAll('ListGrants', 'Grants', { KeyId: md.KeyId });
      clear(list, grants.length
        ? h('table', { class: 'grants' },
          h('thead', {}, h('tr', {}, ['Grantee', 'Operations', 'Constraints', 'Name', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, grants.map((g) => h('tr', { 'data-grant-id': g.GrantId },
            h('td', { class: 'mono small' }, g.GranteePrincipal),
            h('td', {}, (g.Operations || []).join(', ')),
            h('td', {}, constraints(g.Constraints)),
            h('td', {}, g.Name || ''),
            h('td', {}, h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke the grant to ${g.GranteePrincipal}`,
              onclick: () => revoke(g) }, 'Revoke'))))))
        : h('p', { class: 'muted' }, 'No grants.'));
    } catch (e) {
      clear(list, h('p', { class: 'error', role: 'alert' }, String(e)));
    }
  };
  const revoke = async (g) => {
    const body = h('p', {}, `${g.GranteePrincipal} loses ${(g.Operations || []).join(', ')} on ${md.KeyId} at once, ` +
      'including through grant tokens it was given.');
    if (!(await confirmDialog('Revoke this grant?', body, 'Revoke'))) return;
    try {
      await client.kms('RevokeGrant', { KeyId: md.KeyId, GrantId: g.GrantId });
      clear(message);
      await load();
      onChange();
    } catch (e) {
      clear(message, h('p', { class: 'error', role: 'alert' }, String(e)));
    }
  };

  // The create form: grantee, operations (checkboxes), optional name.
  const grantee = h('input', { name: 'GranteePrincipal', placeholder: 'arn:aws:iam::111122223333:role/app', spellcheck: 'false', required: true });
  const name = h('input', { name: 'Name' });
  const ops = (GRANT_OPS[md.KeyUsage] || []).map((op) => {
    const box = h('input', { type: 'checkbox', name: 'op', value: op, id: `grant-op-${op}`, checked: (OPERATIONS[md.KeyUsage] || []).slice(0, 2).includes(op) });
    return [box, h('label', { for: box.id }, op)];
  });
  const form = h('form', { class: 'stack', id: 'grant-form', 'aria-label': 'Create a grant' },
    field('Grantee principal (ARN)', grantee),
    h('fieldset', { class: 'ops' }, h('legend', {}, 'Operations'), ops.map(([box, label]) => h('span', { class: 'check' }, box, label))),
    field('Name (optional)', name),
    h('div', {}, h('button', { type: 'submit', id: 'grant-create' }, 'Create grant')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const chosen = ops.filter(([box]) => box.checked).map(([box]) => box.value);
    const input = { KeyId: md.KeyId, GranteePrincipal: grantee.value.trim(), Operations: chosen };
    if (name.value.trim()) input.Name = name.value.trim();
    try {
      await client.kms('CreateGrant', input);
      clear(message, h('p', { class: 'ok' }, `Grant created for ${input.GranteePrincipal}.`));
      grantee.value = '';
      name.value = '';
      await load();
      onChange();
    } catch (e) {
      clear(message, h('p', { class: 'error', role: 'alert' }, String(e)));
    }
  });
  await load();
  section.append(list, message, h('details', {}, h('summary', {}, 'Create a grant'), form));
  return section;
}
