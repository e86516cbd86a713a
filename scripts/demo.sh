#!/usr/bin/env bash
# The local demo: a homeserver, the bot and simulated users on this machine, nothing outside.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/synapse.sh install
cargo build --locked -p pulsebot-sim --bin pulsebot-sim
exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/pulsebot-sim" demo --dir "$ROOT/.demo" "$@"
