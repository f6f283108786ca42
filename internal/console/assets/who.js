// "Who may use it": the key policy's statements and the grants in plain
// words. It reads what the policy says; IAM policies the root principal
// defers to are not expanded.
import { h, clear } from './dom.js';

const list = (v) => (v == null ? [] : Array.isArray(v) ? v : [v]);

function join(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function principalName(p, account) {
  if (p === '*') return 'anyone';
  if (/^\d{12}$/.test(p)) p = `arn:aws:iam::${p}:root`;
  const m = /^arn:aws[\w-]*:(iam|sts)::(\d{12}):(.*)$/.exec(p);
  if (!m) return p;
  const [, , acct, rest] = m;
  const of = acct === account ? '' : ` of account ${acct}`;
  if (rest === 'root') return acct === account ? 'this account (the users and roles its IAM policies allow)' : `account ${acct} (as its IAM policies allow)`;
  const [kind, ...names] = rest.split('/');
  if (kind === 'user') return `user ${names[names.length - 1]}${of}`;
  if (kind === 'role') return `role ${names[names.length - 1]}${of}`;
  if (kind === 'assumed-role') return `session ${names[1]} of role ${names[0]}${of}`;
  return p;
}

function principals(stmt, account) {
  if (stmt.Principal === '*') return ['anyone'];
  const out = [];
  for (const [type, v] of Object.entries(stmt.Principal || {})) {
    for (const p of list(v)) out.push(type === 'AWS' ? principalName(p, account) : type === 'Service' ? `service ${p}` : p);
  }
  if (stmt.NotPrincipal) return [`anyone but ${join(principals({ Principal: stmt.NotPrincipal }, account))}`];
  return out;
}

function actions(stmt) {
  const names = list(stmt.Action).map((a) => (a === '*' || a === 'kms:*' ? null : a.replace(/^kms:/, '')));
  if (stmt.NotAction) return `do anything but ${join(list(stmt.NotAction).map((a) => a.replace(/^kms:/, '')))}`;
  if (names.includes(null)) return 'do anything with the key';
  return join(names);
}

const OPS = { StringEquals: 'is', StringEqualsIgnoreCase: 'is', StringNotEquals: 'is not', StringLike: 'matches',
  StringNotLike: 'does not match', ArnEquals: 'is', ArnLike: 'matches', Bool: 'is', IpAddress: 'is in',
  NotIpAddress: 'is not in', NumericLessThan: '<', NumericLessThanEquals: '≤', NumericGreaterThan: '>',
  NumericGreaterThanEquals: '≥', DateLessThan: 'before', DateGreaterThan: 'after', Null: 'is absent:' };

function condition(op, key, values) {
  const base = op.replace(/^For(AnyValue|AllValues):/, '').replace(/IfExists$/, '');
  const words = OPS[base] || base;
  const vals = values.length > 1 ? `one of ${values.join(', ')}` : values.join('');
  const ctx = /^kms:EncryptionContext:(.+)$/i.exec(key);
  if (ctx) return base === 'StringEquals' ? `the encryption context has ${ctx[1]} = ${vals}` : `the encryption context's ${ctx[1]} ${words} ${vals}`;
  switch (key.toLowerCase()) {
    case 'kms:encryptioncontextkeys': return `the encryption context's keys include ${vals}`;
    case 'kms:viaservice': return `the call comes through ${vals}`;
    case 'kms:calleraccount': return `the caller is in account ${vals}`;
    case 'kms:grantisforawsresource': return 'the grant is for an AWS resource';
    default: return `${key} ${words} ${vals}`;
  }
}

function conditions(stmt) {
  const out = [];
  for (const [op, kv] of Object.entries(stmt.Condition || {})) {
    for (const [key, v] of Object.entries(kv)) out.push(condition(op, key, list(v).map(String)));
  }
  return out.length ? ` when ${out.join(' and ')}` : '';
}

// sentences turns a policy document and grants into [kind, text] pairs.
export function sentences(policy, grants, account) {
  const out = [];
  for (const s of list(policy.Statement)) {
    const deny = s.Effect === 'Deny';
    out.push([deny ? 'deny' : 'allow', `${join(principals(s, account))} may ${deny ? 'not ' : ''}${actions(s)}${conditions(s)}.`]);
  }
  for (const g of grants) {
    const c = g.Constraints || {};
    const ctx = c.EncryptionContextEquals || c.EncryptionContextSubset;
    const when = ctx ? ` when the encryption context ${c.EncryptionContextEquals ? 'is exactly' : 'has'} ` +
      join(Object.entries(ctx).map(([k, v]) => `${k} = ${v}`)) : '';
    out.push(['grant', `${principalName(g.GranteePrincipal, account)} may ${join(g.Operations || [])} (grant ${g.Name || g.GrantId.slice(0, 12)})${when}.`]);
  }
  return out;
}

// whoSection renders the sentences; refresh reads policy and grants again
// (after either changes on the page).
export function whoSection(client, md) {
  const body = h('ul', { id: 'who-may', class: 'who-may' });
  const section = h('section', { 'aria-labelledby': 'who-title' }, h('h2', { id: 'who-title' }, 'Who may use it'),
    h('p', { class: 'muted small' }, 'What the key policy and the grants say. Where the policy lets the account decide, IAM policies grant the rest.'),
    body);
  const refresh = async () => {
    try {
      const [pol, grants] = await Promise.all([
        client.kms('GetKeyPolicy', { KeyId: md.KeyId, PolicyName: 'default' }),
        client.listAll('ListGrants', 'Grants', { KeyId: md.KeyId }),
      ]);
      const cap = (t) => t[0].toUpperCase() + t.slice(1);
      clear(body, sentences(JSON.parse(pol.Policy), grants, md.AWSAccountId).map(([kind, text]) => h('li', { class: kind }, cap(text))));
    } catch (e) {
      clear(body, h('li', { class: 'error' }, String(e)));
    }
  };
  return { section, refresh };
}
