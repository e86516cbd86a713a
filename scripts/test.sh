#!/usr/bin/env bash
# The whole test suite: installs what the tests need (once), then runs every test.
# The integration tests start one local Synapse on 127.0.0.1 for the run and stop it after.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/synapse.sh install

# Headless Chromium (Debian's package) for the HTML report test; installed once.
if ! command -v chromium >/dev/null 2>&1; then
  echo "[test] installing chromium (Debian package) for the HTML report test"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "[test] chromium is missing and installing it needs root: run" >&2
    echo "[test]   sudo apt-get install chromium" >&2
    echo "[test] once (or run scripts/test.sh as root), then run scripts/test.sh again." >&2
    exit 1
  fi
fi

# cargo-deb (pinned, from crates.io) for the Debian package test; installed once.
bash scripts/package.sh --install-tool

# Fewer parallel rustc jobs than cores keeps peak memory in check on small machines.
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
start=$(date +%s)
cargo build --workspace --all-targets --locked
built=$(date +%s)
echo "[test] build took $((built - start)) s"
cargo test --workspace --locked --all-targets -- --test-threads="${PULSEBOT_TEST_THREADS:-4}"
echo "[test] tests took $(( $(date +%s) - built )) s"
