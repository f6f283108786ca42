// Rotation of a key's material: automatic (on or off, with its period),
// on demand, and the history.
import { h, clear, field, fmtTime, confirmDialog } from './dom.js';

export async function rotationSection(client, md, reload) {
  const section = h('section', { 'aria-labelledby': 'rotation-title' }, h('h2', { id: 'rotation-title' }, 'Rotation'));
  if (md.KeySpec !== 'SYMMETRIC_DEFAULT' || md.Origin !== 'AWS_KMS') {
    section.append(h('p', { class: 'muted' }, 'Rotation is for symmetric encryption keys with key material made by KMS.'));
    return section;
  }
  let status;
  let history;
  try {
    [status, history] = await Promise.all([
      client.kms('GetKeyRotationStatus', { KeyId: md.KeyId }),
      client.listAll('ListKeyRotations', 'Rotations', { KeyId: md.KeyId }),
    ]);
  } catch (e) {
    section.append(h('p', { class: 'error', role: 'alert' }, String(e)));
    return section;
  }
  const message = h('div', { role: 'status' });
  const enabled = h('input', { type: 'checkbox', id: 'rotation-enabled', name: 'rotationEnabled', checked: status.KeyRotationEnabled });
  const period = h('input', { type: 'number', name: 'RotationPeriodInDays', min: '90', max: '2560', value: String(status.RotationPeriodInDays || 365) });
  const save = h('button', { type: 'submit', id: 'rotation-save' }, 'Save rotation');
  const now = h('button', { type: 'button', class: 'secondary', id: 'rotate-now' }, 'Rotate now');
  const form = h('form', { class: 'filters', 'aria-label': 'Automatic rotation' },
    h('div', { class: 'field check' }, enabled, h('label', { for: 'rotation-enabled' }, 'Rotate automatically')),
    field('Period (days, 90 to 2560)', period), h('div', { class: 'field' }, save), h('div', { class: 'field' }, now));
  const call = async (op, input) => {
    try {
      await client.kms(op, { KeyId: md.KeyId, ...input });
      reload();
    } catch (e) {
      clear(message, h('p', { class: 'error', role: 'alert' }, String(e)));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (enabled.checked) call('EnableKeyRotation', { RotationPeriodInDays: Number(period.value) });
    else call('DisableKeyRotation');
  });
  now.addEventListener('click', async () => {
    const body = h('p', {}, `New key material is made for ${md.KeyId} and used for encryption from now on. ` +
      'Data encrypted earlier still decrypts: the older material is kept.');
    if (await confirmDialog('Rotate the key material now?', body, 'Rotate now', false)) call('RotateKeyOnDemand');
  });
  const summary = status.KeyRotationEnabled
    ? `Automatic rotation every ${status.RotationPeriodInDays || 365} days` +
      (status.NextRotationDate ? `, next on ${fmtTime(status.NextRotationDate)}.` : '.')
    : 'Automatic rotation is off.';
  section.append(h('p', { id: 'rotation-status' }, summary), form, message,
    history.length
      ? h('table', { id: 'rotation-history' },
        h('caption', {}, 'Rotations so far'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Date'), h('th', { scope: 'col' }, 'Type'))),
        h('tbody', {}, history.slice().reverse().map((r) => h('tr', {}, h('td', {}, fmtTime(r.RotationDate)), h('td', {}, r.RotationType)))))
      : h('p', { class: 'muted', id: 'rotation-history' }, 'Never rotated.'));
  return section;
}
