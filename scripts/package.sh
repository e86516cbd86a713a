#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed here on first use, pinned).
#   scripts/package.sh                 release build (about 15 minutes on 2 cores), then the .deb
#   scripts/package.sh --debug         the .deb of the debug binary the test suite already built
#                                      (for the package test; never for production)
#   scripts/package.sh --install-tool  only make sure cargo-deb is installed
# Prints the path of the .deb as the last line. Install it with `dpkg -i FILE` (as root).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# 3.8.0 builds with rustc 1.95 (its rust-version is 1.85); --locked uses its own lock file.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "[package] installing cargo-deb $CARGO_DEB_VERSION from crates.io (once)" >&2
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked >&2
fi

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT="$TARGET/debian"
mkdir -p "$OUT/debug"
case "${1:-}" in
  --install-tool)
    exit 0
    ;;
  --debug)
    if [ ! -x "$TARGET/debug/pulsebot" ]; then
      echo "[package] $TARGET/debug/pulsebot is missing: run cargo build --locked first" >&2
      exit 1
    fi
    # The test suite's binary as it is; stripped and quickly compressed to keep the test short.
    cargo deb -p pulsebot --no-build --profile dev --strip --fast -o "$OUT/debug" >&2
    deb=$(ls -t "$OUT"/debug/pulsebot_*.deb | head -1)
    ;;
  "")
    cargo deb -p pulsebot --locked -o "$OUT" >&2
    deb=$(ls -t "$OUT"/pulsebot_*.deb | head -1)
    ;;
  *)
    echo "usage: scripts/package.sh [--debug | --install-tool]" >&2
    exit 2
    ;;
esac
echo "$deb"
