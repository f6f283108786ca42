// A key's use per operation over the last days, counted from the audit
// trail (LookupEvents by the key's ARN): a stacked bar chart in SVG and
// the same counts as a table.
import { h, fmtTime } from './dom.js';

const DAYS = 7;
const MAX_PAGES = 10; // 500 events: enough for a glance, bounded for the server
const SERIES = 5; // the busiest operations; the rest count as "other"

// Use means the cryptographic operations: reads of the key's settings
// (the console's own among them) would drown them.
const CRYPTO = new Set(['Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac',
  'DeriveSharedSecret', 'GetPublicKey']);

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

export async function usageSection(client, md) {
  const section = h('section', { 'aria-labelledby': 'usage-title' }, h('h2', { id: 'usage-title' }, `Cryptographic use over the last ${DAYS} days`));
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const start = today.getTime() / 1000 - (DAYS - 1) * 86400;
  const days = Array.from({ length: DAYS }, (_, i) => start + i * 86400);
  const counts = new Map(); // operation -> per-day counts
  let truncated = false;
  try {
    let token;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await client.lookupEvents({ StartTime: start, MaxResults: 50,
        LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: md.Arn }], ...(token ? { NextToken: token } : {}) });
      for (const e of out.Events || []) {
        const d = Math.floor((e.EventTime - start) / 86400);
        if (d < 0 || d >= DAYS || !CRYPTO.has(e.EventName)) continue;
        if (!counts.has(e.EventName)) counts.set(e.EventName, new Array(DAYS).fill(0));
        counts.get(e.EventName)[d]++;
      }
      token = out.NextToken;
      if (!token) break;
      truncated = page === MAX_PAGES - 1;
    }
  } catch (e) {
    section.append(h('p', { class: 'error', role: 'alert' }, String(e)));
    return section;
  }
  const total = (c) => c.reduce((a, b) => a + b, 0);
  let series = [...counts.entries()].sort((a, b) => total(b[1]) - total(a[1]));
  if (series.length > SERIES + 1) {
    const other = new Array(DAYS).fill(0);
    for (const [, c] of series.slice(SERIES)) c.forEach((n, i) => (other[i] += n));
    series = [...series.slice(0, SERIES), ['other', other]];
  }
  if (!series.length) {
    section.append(h('p', { class: 'muted', id: 'usage-none' }, 'No cryptographic operation with this key in this period.'));
    return section;
  }
  const perDay = days.map((_, i) => series.reduce((a, [, c]) => a + c[i], 0));
  const max = Math.max(1, ...perDay);
  const W = 640;
  const H = 160;
  const bw = W / DAYS;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H + 20}`, class: 'usage-chart', role: 'img',
    'aria-label': `Requests with this key per day, by operation, from ${fmtTime(start).slice(0, 10)}; the table below has the counts` });
  days.forEach((day, i) => {
    let y = H;
    series.forEach(([op, c], s) => {
      if (!c[i]) return;
      const hgt = (c[i] / max) * (H - 10);
      y -= hgt;
      chart.append(svg('rect', { x: i * bw + 8, y, width: bw - 16, height: hgt, class: `s${s}` }, svg('title', {}, `${op}: ${c[i]}`)));
    });
    chart.append(svg('text', { x: i * bw + bw / 2, y: H + 15, 'text-anchor': 'middle', class: 'axis' }, fmtTime(day).slice(5, 10)));
  });
  const legend = h('ul', { class: 'legend' }, series.map(([op, c], s) => h('li', {}, h('span', { class: `swatch s${s}` }), `${op} (${total(c)})`)));
  const table = h('table', { id: 'usage-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Operation'), days.map((d) => h('th', { scope: 'col' }, fmtTime(d).slice(0, 10))))),
    h('tbody', {}, series.map(([op, c]) => h('tr', { 'data-op': op }, h('th', { scope: 'row' }, op), c.map((n) => h('td', {}, String(n)))))));
  chart.append(svg('text', { x: 4, y: 12, class: 'axis' }, `${max} per day`));
  section.append(...[chart, legend,
    truncated ? h('p', { class: 'muted small' }, `Counted from the newest ${MAX_PAGES * 50} events only.`) : null,
    h('details', {}, h('summary', {}, 'Counts per day'), table)].filter(Boolean));
  return section;
}
