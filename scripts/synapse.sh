#!/usr/bin/env bash
# A local Synapse for the demo and the tests: loopback only, relaxed rate limits, SQLite.
#
#   scripts/synapse.sh install                 venv with Synapse from PyPI (skipped when present)
#   scripts/synapse.sh start DIR PORT [OWNER]  fresh server in DIR on 127.0.0.1:PORT; prints the
#                                              shared registration secret's file. With OWNER (a
#                                              pid), the server stops by itself when OWNER ends.
#   scripts/synapse.sh stop DIR                stops the server started in DIR
#
# The venv lives in $PULSEBOT_SYNAPSE_VENV (default: .synapse-venv in the project).
set -euo pipefail

SYNAPSE_VERSION=1.163.2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${PULSEBOT_SYNAPSE_VENV:-$ROOT/.synapse-venv}
PY=$VENV/bin/python

log() { printf '[synapse] %s\n' "$*" >&2; }

install() {
  if [ -x "$PY" ] && "$PY" -c "import synapse, sys; sys.exit(0 if synapse.__version__ == '$SYNAPSE_VERSION' else 1)" 2>/dev/null; then
    return 0
  fi
  log "installing Synapse $SYNAPSE_VERSION into $VENV (once; about 20 s)"
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  "$PY" -m pip install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
  "$PY" -c "import synapse; print('[synapse] installed', synapse.__version__)" >&2
}

write_config() {
  local dir=$1 port=$2 secret=$3
  local rl='{per_second: 1000, burst_count: 1000}'
  cat > "$dir/homeserver.yaml" <<YAML
server_name: localhost
pid_file: $dir/homeserver.pid
public_baseurl: http://127.0.0.1:$port/
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: $dir/homeserver.db
log_config: $dir/log.config
media_store_path: $dir/media
signing_key_path: $dir/signing.key
registration_shared_secret: "$secret"
enable_registration: false
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence:
  enabled: false
bcrypt_rounds: 4
rc_message: $rl
rc_registration: $rl
rc_registration_token_validity: $rl
rc_login:
  address: $rl
  account: $rl
  failed_attempts: $rl
rc_admin_redaction: $rl
rc_joins:
  local: $rl
  remote: $rl
rc_joins_per_room: $rl
rc_3pid_validation: $rl
rc_invites:
  per_room: $rl
  per_user: $rl
  per_issuer: $rl
rc_third_party_invite: $rl
rc_key_requests: $rl
rc_media_create: $rl
rc_presence:
  per_user: $rl
rc_delayed_event_mgmt: $rl
rc_room_creation: $rl
rc_reports: $rl
rc_user_directory: $rl
rc_profile: $rl
# Chat history (issue 15): retention policies are honoured, rooms with a short lifetime (the
# tests' DMs) are purged every few seconds, the rest daily; redacted content is purged from the
# database after a minute (docs/operations.md, "Chat history").
retention:
  enabled: true
  allowed_lifetime_min: 1s
  allowed_lifetime_max: 3650d
  purge_jobs:
    - longest_max_lifetime: 1h
      interval: 5s
    - shortest_max_lifetime: 1h
      interval: 1d
redaction_retention_period: 1m
YAML
  cat > "$dir/log.config" <<YAML
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(levelname)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $dir/homeserver.log
root:
  level: WARNING
  handlers: [file]
loggers:
  # PULSEBOT_SYNAPSE_ACCESS_LOG=1 logs every request (for profiling the benchmark).
  synapse.access.http:
    level: $([ -n "${PULSEBOT_SYNAPSE_ACCESS_LOG:-}" ] && echo INFO || echo WARNING)
disable_existing_loggers: false
YAML
}

start() {
  local dir=$1 port=$2 owner=${3:-}
  install
  mkdir -p "$dir"
  local secret
  # A restart on the same directory keeps its database and its registration secret.
  if [ -s "$dir/registration_secret" ]; then
    secret=$(cat "$dir/registration_secret")
  else
    secret=$("$PY" -c 'import secrets; print(secrets.token_hex(24))')
  fi
  printf '%s' "$secret" > "$dir/registration_secret"
  chmod 600 "$dir/registration_secret"
  write_config "$dir" "$port" "$secret"
  "$PY" -m synapse.app.homeserver -c "$dir/homeserver.yaml" --generate-keys >/dev/null 2>&1
  # setsid: the server must not die with the shell that started it, only with its owner.
  setsid "$PY" -m synapse.app.homeserver -c "$dir/homeserver.yaml" >"$dir/stdout.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$dir/server.pid"
  if [ -n "$owner" ]; then
    # The watchdog stops the server when its owner (the test run or the demo) is gone,
    # even if the owner was killed and could not clean up.
    setsid bash -c "while kill -0 $owner 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; kill $pid 2>/dev/null; sleep 3; kill -9 $pid 2>/dev/null" \
      >/dev/null 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 300); do
    if "$PY" - "$port" <<'PYCHECK' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_matrix/client/versions", timeout=1).read()
PYCHECK
      log "ready on http://127.0.0.1:$port (data in $dir)"
      echo "$dir/registration_secret"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "Synapse exited during start-up; its log:"
      tail -n 30 "$dir/stdout.log" "$dir/homeserver.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  log "Synapse did not become ready within 30 s"
  kill "$pid" 2>/dev/null || true
  return 1
}

stop() {
  local dir=$1
  [ -f "$dir/server.pid" ] || return 0
  local pid
  pid=$(cat "$dir/server.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/server.pid"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 install | start DIR PORT [OWNER_PID] | stop DIR" >&2; exit 2 ;;
esac
