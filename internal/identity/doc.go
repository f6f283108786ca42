// Package identity is the IAM and STS side of the server: accounts, users,
// roles, their inline policies and access keys, and the temporary
// credentials AssumeRole issues. It answers two questions on every request
// — whose credentials signed it (for sigv4) and which identity policies
// apply to that principal (for authorization) — from in-memory caches that
// every change invalidates at once.
package identity
