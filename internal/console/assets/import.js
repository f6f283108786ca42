// Imported key material of an EXTERNAL key: import (or re-import) it from a
// file, wrapped in the browser under the server's wrapping key, and delete
// it. The plaintext material leaves the browser only wrapped.
import { h, clear, field, fmtTime, confirmDialog, select } from './dom.js';
import { OPERATIONS, errorBox } from './keys.js';

const b64 = (bytes) => btoa(Array.from(bytes, (c) => String.fromCharCode(c)).join(''));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// The largest material RSAES_OAEP_SHA_256 carries under RSA_4096.
const OAEP_MAX = 512 - 2 * 32 - 2;

// wrapMaterial encrypts the material for ImportKeyMaterial with
// RSAES_OAEP_SHA_256 under the wrapping key of GetParametersForImport.
// RSA private keys are too large for it and need RSA_AES_KEY_WRAP, whose
// AES key wrap with padding (RFC 5649) WebCrypto does not offer: no crypto
// of our own in the browser, so those are imported with the CLI.
async function wrapMaterial(publicKey, material) {
  const rsa = await crypto.subtle.importKey('spki', unb64(publicKey), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, rsa, material));
}

export function importSection(client, md, reload) {
  if (md.Origin !== 'EXTERNAL') return null;
  const section = h('section', { 'aria-labelledby': 'import-title' }, h('h2', { id: 'import-title' }, 'Imported key material'));
  const message = h('div', { role: 'status', id: 'import-message' });
  const hasMaterial = ['Enabled', 'Disabled'].includes(md.KeyState);
  section.append(h('p', { id: 'import-status' }, hasMaterial
    ? (md.ExpirationModel === 'KEY_MATERIAL_EXPIRES' && md.ValidTo ? `The key material expires on ${fmtTime(md.ValidTo)}.` : 'The key material does not expire.')
    : md.KeyState === 'PendingImport' ? 'This key has no key material yet: import it to use the key.' : `Key state ${md.KeyState}.`));
  if (!['PendingImport', 'Enabled', 'Disabled'].includes(md.KeyState)) return section;

  const pair = md.KeySpec !== 'SYMMETRIC_DEFAULT' && !md.KeySpec.startsWith('HMAC_');
  const file = h('input', { type: 'file', name: 'material', required: true });
  const expires = select('ExpirationModel', [['KEY_MATERIAL_DOES_NOT_EXPIRE', 'Does not expire'], ['KEY_MATERIAL_EXPIRES', 'Expires on a date']]);
  const validTo = h('input', { type: 'date', name: 'ValidTo', disabled: true });
  expires.addEventListener('change', () => { validTo.disabled = expires.value !== 'KEY_MATERIAL_EXPIRES'; validTo.required = !validTo.disabled; });
  const desc = md.KeySpec === 'SYMMETRIC_DEFAULT' ? h('input', { name: 'KeyMaterialDescription', spellcheck: 'false' }) : null;
  const submit = h('button', { type: 'submit', id: 'import-submit' }, hasMaterial ? 'Re-import key material' : 'Import key material');
  const form = h('form', { class: 'filters', id: 'import-form', 'aria-label': 'Import key material' },
    field('Key material file', file, pair ? 'The private key, PKCS#8 DER' : `The raw key bytes${md.KeySpec === 'SYMMETRIC_DEFAULT' ? ' (32)' : ''}`),
    field('Expiration', expires), field('Expires on (UTC)', validTo),
    desc && field('Material description (optional)', desc),
    h('div', { class: 'field' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!file.files.length) return;
    submit.disabled = true;
    clear(message, h('p', { class: 'muted' }, 'Importing…'));
    let material = new Uint8Array(await file.files[0].arrayBuffer());
    file.value = '';
    try {
      if (material.length > OAEP_MAX) {
        throw new Error(`${material.length} bytes is more than RSAES_OAEP_SHA_256 wraps (${OAEP_MAX}). ` +
          'RSA private keys need RSA_AES_KEY_WRAP_SHA_256, which browsers cannot do: import them with the AWS CLI and openssl (see the README, "Bring your own key material").');
      }
      const params = await client.kms('GetParametersForImport', { KeyId: md.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' });
      const wrapped = await wrapMaterial(params.PublicKey, material);
      const input = { KeyId: md.KeyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: b64(wrapped), ExpirationModel: expires.value };
      if (!validTo.disabled) input.ValidTo = Date.parse(`${validTo.value}T00:00:00Z`) / 1000;
      if (desc && desc.value.trim()) input.KeyMaterialDescription = desc.value.trim();
      await client.kms('ImportKeyMaterial', input);
      reload();
    } catch (e) {
      clear(message, errorBox(e));
      submit.disabled = false;
    } finally {
      material.fill(0);
      material = null;
    }
  });
  section.append(form, message);

  if (hasMaterial) {
    const del = h('button', { type: 'button', class: 'danger', id: 'delete-material' }, 'Delete imported key material');
    del.addEventListener('click', async () => {
      const ops = OPERATIONS[md.KeyUsage] || [];
      const body = h('div', {},
        h('p', {}, `The key material of ${md.KeyId} is deleted now and the key goes to PendingImport: ${ops.join(', ')} with it fail until the same material is imported again.`),
        md.KeyUsage === 'ENCRYPT_DECRYPT' ? h('p', {}, 'Data encrypted under this key cannot be decrypted until then; without a copy of the material, never.') : null);
      if (!(await confirmDialog('Delete the imported key material?', body, 'Delete key material'))) return;
      try {
        await client.kms('DeleteImportedKeyMaterial', { KeyId: md.KeyId });
        reload();
      } catch (e) {
        clear(message, errorBox(e));
      }
    });
    section.append(h('div', { class: 'actions' }, del));
  }
  return section;
}
