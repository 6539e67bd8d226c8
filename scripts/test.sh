#!/usr/bin/env bash
# Runs the test suite (the command README.md documents). Heavy tests (fresh safe primes, big
# networks) are #[ignore]d; run them with `scripts/test.sh --run-ignored all`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v m4 >/dev/null 2>&1 || { echo "m4 is required to build GMP: apt-get install m4" >&2; exit 1; }
status=0
cargo nextest run --locked --no-fail-fast "$@" || status=$?
# The CLI's --misbehave mode exists only with the `malicious` feature: its test needs that build.
cargo nextest run --locked --no-fail-fast -p tessera-cli --features malicious --test misbehave "$@" || status=$?
# A forged or replayed ledger command, and a forged approval or a StartSign for an unapproved
# request, are ignored by every node: the ledger's POST /v1/unchecked (a compromised
# coordinator) also exists only with the `malicious` feature.
cargo nextest run --locked --no-fail-fast -p tessera-cli --features malicious --test ledger_forgery --test governance "$@" || status=$?
exit "$status"
