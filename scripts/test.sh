#!/usr/bin/env bash
# The whole test suite: installs what the tests need (once), then runs every test.
# The integration tests start one local Synapse on 127.0.0.1 for the run and stop it after.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/synapse.sh install

# Fewer parallel rustc jobs than cores keeps peak memory in check on small machines.
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
start=$(date +%s)
cargo build --all-targets --locked
built=$(date +%s)
echo "[test] build took $((built - start)) s"
cargo test --locked --all-targets -- --test-threads="${PULSEBOT_TEST_THREADS:-4}"
echo "[test] tests took $(( $(date +%s) - built )) s"
