#!/usr/bin/env bash
# The whole test suite: gofmt, vet and staticcheck, then every test (unit, conformance, fuzz seed
# corpora, integration against the real server, AWS CLI smoke) under the race
# detector. Needs Go, gcc (for -race), the AWS CLI and boto3 (in the machine's
# image), openssl, PostgreSQL's server binaries, SoftHSM2 and Chromium (all
# installed here if missing). The tests start PostgreSQL themselves (internal/pgtest: initdb in
# a temporary directory, a free 127.0.0.1 port, stopped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v aws >/dev/null || { echo "test.sh: the AWS CLI (aws) must be on PATH" >&2; exit 1; }
# The README's import walk-through is tested with openssl, as customers run it.
need=()
command -v openssl >/dev/null || need+=(openssl)
{ command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; } || need+=(postgresql)
# The PKCS#11 seal is tested against SoftHSM2 (internal/hsmtest: a throwaway token per test).
{ command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ]; } || need+=(softhsm2)
# The web console's end-to-end tests drive Debian's Chromium, headless (internal/console).
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || { echo "test.sh: gofmt needed on: $unformatted" >&2; exit 1; }
go vet ./...
go tool staticcheck ./...
go test -race -count=1 -timeout 15m ./...
