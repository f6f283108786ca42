// The console's shell: sign-in, sign-out and the hash router. Credentials
// live in this tab's sessionStorage only and go nowhere but into SigV4.
import { Client } from './api.js';
import { h, clear, field } from './dom.js';
import { keysView } from './keys.js';
import { keyView } from './key.js';
import { auditView } from './audit.js';

const STORE = 'kms-console-session';
const view = document.getElementById('view');
let defaultRegion = 'us-east-1';

function session() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || 'null');
  } catch {
    return null;
  }
}

// go shows the view of hash: setting a new hash renders through
// hashchange, the same one does not fire it.
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

// notice is shown once by the next sign-in form.
let notice = '';

function signOut() {
  sessionStorage.removeItem(STORE);
  go('#/signin');
}

// credentialsGone ends the session when the server stops accepting its
// credentials (deleted key, expired session token).
function credentialsGone(e) {
  if (!session()) return;
  notice = `Signed out: the server no longer accepts these credentials (${e.code}: ${e.message})`;
  signOut();
}

function signInView() {
  // autocomplete off: a password manager would keep the secret beyond
  // this tab's session.
  const akid = h('input', { name: 'accessKeyId', autocomplete: 'off', required: true, spellcheck: 'false' });
  const secret = h('input', { name: 'secretAccessKey', type: 'password', autocomplete: 'off', required: true });
  const token = h('input', { name: 'sessionToken', type: 'password', autocomplete: 'off' });
  const region = h('input', { name: 'region', value: defaultRegion, required: true, spellcheck: 'false' });
  const error = h('p', { id: 'signin-error', class: 'error', role: 'alert', hidden: !notice }, notice);
  notice = '';
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Use an access key of this server (or temporary credentials from AssumeRole). ' +
      'They stay in this tab and sign each request; the console has no power of its own.'),
    field('Access key ID', akid), field('Secret access key', secret),
    field('Session token (optional)', token), field('Region', region), error, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const creds = { accessKeyId: akid.value.trim(), secretAccessKey: secret.value, sessionToken: token.value.trim() || undefined };
    try {
      const who = await new Client(creds, region.value.trim()).callerIdentity();
      sessionStorage.setItem(STORE, JSON.stringify({ creds, region: region.value.trim(), arn: who.arn }));
      // A deep link (#/keys/<id>) opened before signing in is kept.
      go(!location.hash || location.hash.startsWith('#/signin') ? '#/keys' : location.hash);
    } catch (e) {
      clear(error, `Sign-in failed: ${e.code}: ${e.message}`);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  clear(view, form);
  akid.focus();
}

function render() {
  const s = session();
  document.getElementById('nav').hidden = !s;
  document.getElementById('signout').hidden = !s;
  clear(document.getElementById('who'), s ? `${s.arn} · ${s.region}` : '');
  if (!s) {
    signInView();
    return;
  }
  const client = new Client(s.creds, s.region, credentialsGone);
  const [path, query] = (location.hash.slice(1) || '/keys').split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  for (const a of document.querySelectorAll('#nav a')) {
    a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${parts[0]}`);
  }
  // Each view gets a fresh container: a view still loading when the user
  // moves on writes into a detached element, not over the next view.
  const el = h('div');
  clear(view, el);
  if (parts[0] === 'keys' && parts[1]) keyView(el, client, decodeURIComponent(parts[1]));
  else if (parts[0] === 'audit') auditView(el, client, params);
  else keysView(el, client);
}

async function start() {
  // WebCrypto exists only in a secure context: HTTPS, or HTTP on loopback.
  if (!window.isSecureContext || !crypto.subtle) {
    clear(view, h('p', { class: 'error', role: 'alert' },
      'The console needs a secure context to sign requests: serve it over HTTPS (--tls-cert), or open it on localhost.'));
    return;
  }
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    defaultRegion = (await res.json()).region || defaultRegion;
  } catch {
    // keep the default: the sign-in form lets the user change it
  }
  document.getElementById('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', render);
  render();
}

start();
