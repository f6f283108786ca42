#!/usr/bin/env bash
# The whole test suite: gofmt, vet and staticcheck, then every test (unit, conformance, fuzz seed
# corpora, integration against the real server, AWS CLI smoke) under the race
# detector. Needs Go, gcc (for -race), the AWS CLI and boto3 (in the machine's
# image) and openssl (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v aws >/dev/null || { echo "test.sh: the AWS CLI (aws) must be on PATH" >&2; exit 1; }
# The README's import walk-through is tested with openssl, as customers run it.
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || { echo "test.sh: gofmt needed on: $unformatted" >&2; exit 1; }
go vet ./...
go tool staticcheck ./...
go test -race -count=1 -timeout 15m ./...
