// A tiny element builder. Text always goes in as text nodes, never as
// HTML, so nothing the server returns can inject markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// fmtTime renders an epoch-seconds timestamp as UTC.
export function fmtTime(secs) {
  if (secs == null) return '';
  return new Date(secs * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

let seq = 0;
export const uid = (p) => `${p}-${++seq}`;

// field is a labelled control: the label's for names the control's id.
export function field(label, control, hint) {
  control.id ||= uid('f');
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control,
    hint ? h('small', {}, hint) : null);
}

export function select(name, options, value) {
  return h('select', { name },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, text);
    }));
}

// confirmDialog shows a modal naming what an action does; it resolves to
// true when the user confirms.
export function confirmDialog(title, body, confirmText, danger = true) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('h3', { id: 'confirm-title' }, title), body,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'danger' : null, id: 'confirm-ok', onclick: () => dlg.close('ok') }, confirmText)));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}
