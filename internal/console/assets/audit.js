// The audit trail: CloudTrail LookupEvents with filters, each record's
// JSON, denied requests highlighted.
import { h, clear, field, fmtTime } from './dom.js';

// LookupEvents takes one lookup attribute; the others are applied here to
// the page it returns.
const ATTRS = [['resource', 'ResourceName'], ['user', 'Username'], ['event', 'EventName']];

const isDenied = (code) => /AccessDenied|NotAuthorized|Unauthorized/.test(code || '');

// localInput turns a datetime-local value (the user's local time) into
// epoch seconds.
const toSecs = (v) => (v ? Math.floor(new Date(v).getTime() / 1000) : undefined);

export async function auditView(view, client, params) {
  const inputs = {
    start: h('input', { name: 'start', type: 'datetime-local', value: params.get('start') || '' }),
    end: h('input', { name: 'end', type: 'datetime-local', value: params.get('end') || '' }),
    resource: h('input', { name: 'resource', value: params.get('resource') || '', placeholder: 'key id or ARN', spellcheck: 'false' }),
    user: h('input', { name: 'user', value: params.get('user') || '', spellcheck: 'false' }),
    event: h('input', { name: 'event', value: params.get('event') || '', placeholder: 'e.g. Decrypt', spellcheck: 'false' }),
  };
  const readOnly = h('select', { name: 'readonly' },
    [['', 'Reads and writes'], ['true', 'Reads only'], ['false', 'Writes only']].map(([v, t]) =>
      h('option', { value: v, selected: v === (params.get('readonly') || '') }, t)));
  const deniedOnly = h('input', { name: 'denied', type: 'checkbox', checked: params.get('denied') === '1' });
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('ol', { class: 'events' });
  const more = h('button', { type: 'button', class: 'secondary', id: 'audit-more', hidden: true }, 'Load more');
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter events' },
    field('From (local time)', inputs.start), field('To (local time)', inputs.end), field('Key or resource', inputs.resource),
    field('User', inputs.user), field('Event name', inputs.event), field('Kind', readOnly),
    h('div', { class: 'field check' }, deniedOnly, h('label', { for: (deniedOnly.id = 'denied-only') }, 'Denied only')),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Search')));
  clear(view, h('h1', {}, 'Audit'), form, status, list, more);

  // The last search's request and filters: "Load more" continues it even
  // if the form was edited since (a NextToken fits its own query only).
  let query;
  let count = 0;
  const PAGES = 10; // pages read per click when filtering on the page

  const search = async (append) => {
    if (!append) {
      const v = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
      const input = { MaxResults: 50 };
      if (v.start) input.StartTime = toSecs(v.start);
      if (v.end) input.EndTime = toSecs(v.end);
      const used = ATTRS.filter(([k]) => v[k]);
      if (used.length) input.LookupAttributes = [{ AttributeKey: used[0][1], AttributeValue: v[used[0][0]] }];
      else if (readOnly.value) input.LookupAttributes = [{ AttributeKey: 'ReadOnly', AttributeValue: readOnly.value }];
      // Filters the server did not apply are applied here, page by page.
      const onPage = used.length > 1 || (used.length && readOnly.value) || deniedOnly.checked;
      query = { input, v, readOnly: readOnly.value, denied: deniedOnly.checked, onPage };
      clear(list);
      count = 0;
    }
    const { v, onPage } = query;
    const keep = ({ e, rec }) =>
      (!v.user || e.Username === v.user) && (!v.event || e.EventName === v.event) &&
      (!v.resource || (e.Resources || []).some((r) => r.ResourceName === v.resource || r.ResourceName.endsWith(`/${v.resource}`))) &&
      (!query.readOnly || e.ReadOnly === query.readOnly) && (!query.denied || isDenied(rec.errorCode));
    clear(status, 'Searching…');
    more.hidden = true;
    try {
      // With filters on the page, read on (up to PAGES pages) until a
      // page's worth of matches is found, so that a rare event shows.
      let found = 0;
      for (let page = 0; page < (onPage ? PAGES : 1); page++) {
        const out = await client.lookupEvents(query.input);
        query.input = { ...query.input, NextToken: out.NextToken };
        const events = (out.Events || []).map((e) => ({ e, rec: parse(e.CloudTrailEvent) })).filter(keep);
        list.append(...events.map(({ e, rec }) => eventItem(e, rec)));
        found += events.length;
        if (!out.NextToken || found >= 50) break;
      }
      count += found;
      const next = query.input.NextToken;
      clear(status, `${count} events${next ? ' (more available)' : ''}`);
      more.hidden = !next;
    } catch (e) {
      clear(status, h('span', { class: 'error', role: 'alert' }, String(e)));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search(false);
  });
  more.addEventListener('click', () => search(true));
  await search(false);
}

function parse(s) {
  try {
    return JSON.parse(s || '{}');
  } catch {
    return {};
  }
}

function eventItem(e, rec) {
  const denied = isDenied(rec.errorCode);
  const resources = (e.Resources || []).map((r) => r.ResourceName).join(', ');
  return h('li', { class: `event${denied ? ' denied' : rec.errorCode ? ' failed' : ''}`, 'data-event-name': e.EventName, 'data-read-only': e.ReadOnly },
    h('div', { class: 'event-line' },
      h('time', { datetime: new Date(e.EventTime * 1000).toISOString() }, fmtTime(e.EventTime)),
      h('strong', {}, e.EventName),
      h('span', {}, e.Username || rec.userIdentity?.arn || ''),
      h('span', { class: 'mono small' }, resources),
      denied ? h('span', { class: 'badge denied' }, `Denied: ${rec.errorCode}`) : null,
      !denied && rec.errorCode ? h('span', { class: 'badge failed' }, rec.errorCode) : null),
    rec.errorMessage ? h('p', { class: 'small' }, rec.errorMessage) : null,
    h('details', {}, h('summary', {}, 'Record JSON'), h('pre', {}, JSON.stringify(rec, null, 2))));
}
