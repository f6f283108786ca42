// The key policy editor: edit, review the change as a diff, save. The
// server validates (MalformedPolicyDocumentException is shown in place);
// the browser only checks that the text is JSON.
import { h, clear } from './dom.js';

// lineDiff returns [op, line] pairs (' ', '-', '+') from an LCS of lines;
// policies are at most 32 KB, so the quadratic table is small.
export function lineDiff(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  const t = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i][j] = x[i] === y[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      out.push([' ', x[i++]]);
      j++;
    } else if (j < m && (i === n || t[i][j + 1] >= t[i + 1][j])) {
      out.push(['+', y[j++]]);
    } else {
      out.push(['-', x[i++]]);
    }
  }
  return out;
}

// pretty re-indents JSON so that diffs compare structure, not spacing.
const pretty = (text) => JSON.stringify(JSON.parse(text), null, 2);

export async function policySection(client, keyId, onChange = () => {}) {
  const section = h('section', { class: 'policy', 'aria-labelledby': 'policy-title' }, h('h2', { id: 'policy-title' }, 'Key policy'));
  let saved;
  try {
    saved = pretty((await client.kms('GetKeyPolicy', { KeyId: keyId, PolicyName: 'default' })).Policy);
  } catch (e) {
    section.append(h('p', { class: 'error', role: 'alert' }, String(e)));
    return section;
  }
  const editor = h('textarea', { id: 'policy-text', name: 'policy', rows: '16', spellcheck: 'false', 'aria-label': 'Key policy JSON' });
  editor.value = saved;
  const message = h('div', { id: 'policy-message', role: 'status' });
  const diff = h('pre', { id: 'policy-diff', class: 'diff', hidden: true, 'aria-label': 'Changes to the key policy' });
  const review = h('button', { type: 'button', id: 'policy-review', class: 'secondary' }, 'Review changes');
  const save = h('button', { type: 'button', id: 'policy-save', disabled: true }, 'Save policy');
  const reset = h('button', { type: 'button', class: 'secondary', id: 'policy-reset' }, 'Discard changes');

  const showDiff = () => {
    clear(message);
    let next;
    try {
      next = pretty(editor.value);
    } catch (e) {
      clear(message, h('p', { class: 'error', role: 'alert' }, `Not valid JSON: ${e.message}`));
      diff.hidden = true;
      save.disabled = true;
      return;
    }
    const lines = lineDiff(saved, next);
    const changed = lines.some(([op]) => op !== ' ');
    clear(diff, lines.map(([op, line]) => h('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : null }, `${op} ${line}`)));
    diff.hidden = !changed;
    save.disabled = !changed;
    if (!changed) clear(message, h('p', { class: 'muted' }, 'No change.'));
  };
  review.addEventListener('click', showDiff);
  editor.addEventListener('input', () => {
    save.disabled = true; // review before saving
    diff.hidden = true;
  });
  reset.addEventListener('click', () => {
    editor.value = saved;
    diff.hidden = true;
    save.disabled = true;
    clear(message);
  });
  save.addEventListener('click', async () => {
    save.disabled = true;
    const next = pretty(editor.value);
    try {
      await client.kms('PutKeyPolicy', { KeyId: keyId, PolicyName: 'default', Policy: next });
      saved = next;
      editor.value = saved;
      diff.hidden = true;
      clear(message, h('p', { class: 'ok' }, 'Policy saved.'));
      onChange();
    } catch (e) {
      // The server's own words, e.g. MalformedPolicyDocumentException.
      clear(message, h('p', { class: 'error', role: 'alert' }, String(e)));
      save.disabled = false;
    }
  });
  section.append(editor, h('div', { class: 'actions' }, review, save, reset), message, diff);
  return section;
}
