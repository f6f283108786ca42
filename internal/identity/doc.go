// Package identity is the IAM and STS side of the server: accounts, users,
// roles, their inline policies and access keys, customer managed policies
// attached to them, and the temporary credentials AssumeRole issues. It
// answers two questions on every request — whose credentials signed it (for
// sigv4) and which identity policies apply to that principal (for
// authorization) — from in-memory caches that every change invalidates at
// once.
//
// # Credentials
//
// [Identity.Lookup] is the [sigv4.Lookup] of the server. Long-term keys
// (AKIA...) are read from the store, their secrets sealed under the root
// key, and kept unsealed in memory until a change to the key or its user.
// Session keys (ASIA...) carry their whole state in the session token,
// sealed with a key derived from the root key ([Session]): nothing is stored
// per session, and a session ends when it expires or its role is deleted.
//
// # Policies
//
// [Identity.Policies] gives the service the parsed inline policies of the
// caller's user or role, with the default version of every managed policy
// attached to it. IAM and STS calls are authorized here, with
// [policy.Authorize]: IAM actions by identity policies alone (the account
// root may do everything in its account), sts:AssumeRole by the role's
// trust policy together with the caller's identity policies.
//
// # Operations
//
// One method per IAM and STS operation, with AWS's parameters, errors and
// response shapes (shapes.go); package api speaks the query protocol for
// them. Every operation is confined to the caller's account, except
// AssumeRole of another account's role that trusts the caller.
// [Identity.CreateAccount] adds an account with root credentials.
package identity
