// The API client: the same KMS, STS and CloudTrail calls an SDK makes, on
// this origin, signed with the signed-in user's credentials.
import { sign } from './sigv4.js';

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
  get denied() {
    return /AccessDenied|NotAuthorized|Unauthorized/.test(this.code);
  }
  toString() {
    return `${this.code}: ${this.message}`;
  }
}

// The codes that mean the credentials themselves no longer work (a
// deleted access key, an expired session), whatever the call.
const CREDENTIALS_GONE = new Set(['UnrecognizedClientException', 'InvalidClientTokenId', 'ExpiredTokenException', 'ExpiredToken']);

export class Client {
  // onCredentialsGone, if given, is called (before the error is thrown)
  // when the server no longer accepts the credentials.
  constructor(creds, region, onCredentialsGone) {
    this.creds = creds;
    this.region = region;
    this.onCredentialsGone = onCredentialsGone;
  }

  fail(err) {
    if (this.onCredentialsGone && CREDENTIALS_GONE.has(err.code)) this.onCredentialsGone(err);
    return err;
  }

  async send(service, headers, body) {
    const signed = await sign({ host: location.host, headers, body, region: this.region, service, creds: this.creds });
    let res;
    try {
      res = await fetch('/', { method: 'POST', headers: signed, body, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw new ApiError('NetworkError', `The server could not be reached (${e.message}).`, 0);
    }
    return res;
  }

  async json(service, target, input) {
    const res = await this.send(service, { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      JSON.stringify(input || {}));
    const text = await res.text();
    let out = {};
    try {
      out = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError('InvalidResponse', `HTTP ${res.status}: ${text.slice(0, 200)}`, res.status);
    }
    if (!res.ok) {
      const code = String(out.__type || res.headers.get('x-amzn-ErrorType') || `HTTP${res.status}`).split('#').pop();
      throw this.fail(new ApiError(code, out.message || out.Message || '', res.status));
    }
    return out;
  }

  kms(op, input) {
    return this.json('kms', `TrentService.${op}`, input);
  }

  lookupEvents(input) {
    return this.json('cloudtrail', 'CloudTrail_20131101.LookupEvents', input);
  }

  // query calls an IAM or STS action (form in, XML out) and returns the
  // parsed document.
  async query(service, action, version, params = {}) {
    const form = new URLSearchParams({ Action: action, Version: version, ...params }).toString();
    const res = await this.send(service, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, form);
    const doc = new DOMParser().parseFromString(await res.text(), 'application/xml');
    const text = (name) => doc.getElementsByTagName(name)[0]?.textContent || '';
    if (!res.ok) {
      throw this.fail(new ApiError(text('Code') || `HTTP${res.status}`, text('Message'), res.status));
    }
    return { doc, text };
  }

  async callerIdentity() {
    const { text } = await this.query('sts', 'GetCallerIdentity', '2011-06-15');
    return { arn: text('Arn'), account: text('Account'), userId: text('UserId') };
  }

  // all pages of a KMS list operation, at each one's largest page size.
  async listAll(op, field, input = {}) {
    const limit = { ListAliases: 100, ListGrants: 100, ListResourceTags: 50 }[op] || 1000;
    const items = [];
    let marker;
    do {
      const out = await this.kms(op, { ...input, Limit: limit, ...(marker ? { Marker: marker } : {}) });
      items.push(...(out[field] || []));
      marker = out.Truncated ? out.NextMarker : undefined;
    } while (marker);
    return items;
  }
}
