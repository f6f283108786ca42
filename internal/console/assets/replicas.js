// The multi-Region keys of a key's page: the primary and its replicas, and
// ReplicateKey from the primary to another region.
import { h, clear, field } from './dom.js';
import { errorBox } from './keys.js';

const REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3',
  'eu-central-1', 'eu-north-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-south-1', 'sa-east-1'];

export function replicasSection(client, md, reload) {
  if (!md.MultiRegion) return null;
  const cfg = md.MultiRegionConfiguration || {};
  const section = h('section', { 'aria-labelledby': 'replicas-title' }, h('h2', { id: 'replicas-title' }, 'Multi-Region keys'));
  const keys = [...(cfg.PrimaryKey ? [{ ...cfg.PrimaryKey, role: 'Primary' }] : []), ...(cfg.ReplicaKeys || []).map((k) => ({ ...k, role: 'Replica' }))];
  section.append(
    h('p', {}, cfg.MultiRegionKeyType === 'PRIMARY' ? 'This key is the primary key.' : 'This key is a replica; replicas are made from the primary key.'),
    h('table', { id: 'replicas-list' },
      h('caption', {}, 'The primary key and its replicas'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Region'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'ARN'))),
      h('tbody', {}, keys.map((k) => h('tr', { 'data-region': k.Region }, h('td', {}, k.Region), h('td', {}, k.role), h('td', { class: 'mono' }, k.Arn))))));
  if (cfg.MultiRegionKeyType !== 'PRIMARY') return section;

  const taken = new Set(keys.map((k) => k.Region));
  const list = h('datalist', { id: 'replica-regions' }, REGIONS.filter((r) => !taken.has(r)).map((r) => h('option', { value: r })));
  const region = h('input', { name: 'ReplicaRegion', list: 'replica-regions', spellcheck: 'false', required: true });
  const message = h('div', { role: 'status', id: 'replicate-message' });
  const form = h('form', { class: 'filters', id: 'replicate-form', 'aria-label': 'Replicate to a region' },
    field('Replica region', region), list, h('div', { class: 'field' }, h('button', { type: 'submit', class: 'secondary', id: 'replicate-submit' }, 'Replicate to region')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await client.kms('ReplicateKey', { KeyId: md.KeyId, ReplicaRegion: region.value.trim() });
      reload();
    } catch (e) {
      clear(message, errorBox(e));
    }
  });
  section.append(form, message);
  return section;
}
