#!/usr/bin/env bash
# run.sh — starts Staffroom on this machine for trying it out: a private Redis and a private PostgreSQL 15
# (the chat archive: var/pg, initdb on the first run, as the postgres user when run as root), then staffroom-signal on
# http://127.0.0.1:8080 serving the web client, and staffroom-relay (TURN) on 127.0.0.1:3478 (UDP and TCP)
# sharing a generated secret with it (var/turn.secret: the signal server's turn-secret-file and the
# relay's auth-secret-file), so calls work between two browsers on this machine. Data and generated secrets live in var/ and are kept
# between runs. Ctrl-C stops everything cleanly.
#
#   scripts/run.sh            (normally through `make run`, which builds first)
#   REDIS_PORT=6391 SIGNAL_PORT=9000 scripts/run.sh
#
# To add a program (e.g. staffroom-relay): write a start_<name> function that starts it in the
# background and calls `track <pid> <name>`, and call it below; shutdown stops tracked programs in
# reverse order.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
VAR=${VAR:-var}
REDIS_PORT=${REDIS_PORT:-6390}
PG_PORT=${PG_PORT:-6391}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SIGNAL_ADDR=${SIGNAL_ADDR:-127.0.0.1}
SIGNAL_PORT=${SIGNAL_PORT:-8080}
RELAY_ADDR=${RELAY_ADDR:-127.0.0.1}
RELAY_PORT=${RELAY_PORT:-3478}
ADMIN_NAME=${ADMIN_NAME:-admin}
SFU_MEDIA_ADDR=${SFU_MEDIA_ADDR:-127.0.0.1}
SFU_HTTP_PORT=${SFU_HTTP_PORT:-8091}

PIDS=(); NAMES=()
track() { PIDS+=("$1"); NAMES+=("$2"); }

stop_all() {
  trap - INT TERM EXIT
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    if kill -0 "${PIDS[i]}" 2>/dev/null; then
      echo "run: stopping ${NAMES[i]} (pid ${PIDS[i]})" >&2
      kill -TERM "${PIDS[i]}" 2>/dev/null || true
      wait "${PIDS[i]}" 2>/dev/null || true
    fi
  done
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# A random secret written once (mode 600) and kept: running again keeps using it.
secret_file() {
  if [ ! -s "$1" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
  fi
}

wait_port() { # wait_port PORT NAME PID
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "run: $2 exited; see above" >&2; exit 1; }
    sleep 0.1
  done
  echo "run: $2 is not listening on port $1" >&2; exit 1
}

start_redis() {
  mkdir -p "$VAR/redis"
  secret_file "$VAR/redis.pass"
  # The password goes in a private config file, not on the command line (where ps would show it).
  (umask 077; cat >"$VAR/redis/redis.conf" <<CONF
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
dir $VAR/redis
appendonly yes
appendfsync always
save ""
requirepass $(cat "$VAR/redis.pass")
CONF
  )
  redis-server "$VAR/redis/redis.conf" >"$VAR/redis/redis.log" 2>&1 &
  track $! redis-server
  wait_port "$REDIS_PORT" redis-server "$!"
  echo "run: redis-server on 127.0.0.1:$REDIS_PORT (data in $VAR/redis, log $VAR/redis/redis.log)" >&2
}

# PostgreSQL refuses to run as root: as root, its programs run as Debian's postgres user. setpriv execs
# them (no process in between), and the server is started straight from start_postgres (not through a
# function, which bash would run in a subshell of its own), so the tracked pid is the server's.
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(setpriv --reuid postgres --regid postgres --clear-groups --)

# The chat archive (signalling/archive.h): a cluster in $VAR/pg/data made on the first run (user staffroom,
# password in $VAR/pg.pass, loopback only), kept between runs. The connection string the signal server reads
# is in $VAR/pg.conninfo (mode 600: it holds the password).
start_postgres() {
  [ -x "$PG_BIN/postgres" ] || { echo "run: $PG_BIN/postgres is missing: chat stays in Redis only (no archive)" >&2; return 0; }
  mkdir -p "$VAR/pg"
  secret_file "$VAR/pg.pass"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$VAR/pg"
  if [ ! -s "$VAR/pg/data/PG_VERSION" ]; then
    local pw="$VAR/pg/initdb.pw"
    (umask 077; cp "$VAR/pg.pass" "$pw")
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pw"
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$VAR/pg/data" -U staffroom --pwfile="$pw" --auth-host=scram-sha-256 \
      --auth-local=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$VAR/pg/initdb.log" 2>&1 ||
      { rm -f "$pw"; echo "run: initdb failed; see $VAR/pg/initdb.log" >&2; exit 1; }
    rm -f "$pw"
  fi
  "${AS_PG[@]}" "$PG_BIN/postgres" -D "$VAR/pg/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$VAR/pg" >"$VAR/pg/postgres.log" 2>&1 &
  track $! postgres
  wait_port "$PG_PORT" postgres "$!"
  (umask 077; echo "host=127.0.0.1 port=$PG_PORT dbname=postgres user=staffroom password=$(cat "$VAR/pg.pass")" >"$VAR/pg.conninfo")
  SIGNAL_ARGS+=(--postgres-conninfo-file "$VAR/pg.conninfo")
  echo "run: postgres on 127.0.0.1:$PG_PORT (data in $VAR/pg/data, log $VAR/pg/postgres.log)" >&2
}

SIGNAL_ARGS=(--listen-address "$SIGNAL_ADDR" --listen-port "$SIGNAL_PORT" --web-root webclient
  --redis-host 127.0.0.1 --redis-port "$REDIS_PORT" --redis-password-file "$VAR/redis.pass"
  --turn-secret-file "$VAR/turn.secret"
  --turn-urls "turn:$RELAY_ADDR:$RELAY_PORT?transport=udp" --turn-urls "turn:$RELAY_ADDR:$RELAY_PORT?transport=tcp")

create_admin_once() {
  [ -s "$VAR/admin.password" ] && return 0
  (umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$VAR/admin.password.new")
  local rc=0
  "$BUILD/staffroom-signal" "${SIGNAL_ARGS[@]}" --create-admin "$ADMIN_NAME" <"$VAR/admin.password.new" || rc=$?
  if [ "$rc" -eq 0 ]; then
    mv "$VAR/admin.password.new" "$VAR/admin.password"
  elif [ "$rc" -eq 3 ]; then
    rm -f "$VAR/admin.password.new"
    echo "run: an account named $ADMIN_NAME exists already (its password is not in $VAR/admin.password)" >&2
  else
    rm -f "$VAR/admin.password.new"; echo "run: --create-admin failed" >&2; exit 1
  fi
}

start_signal() {
  secret_file "$VAR/turn.secret"
  "$BUILD/staffroom-signal" "${SIGNAL_ARGS[@]}" "$@" &
  track $! staffroom-signal
  wait_port "$SIGNAL_PORT" staffroom-signal "$!"
}

# The TURN relay: on loopback, browsers on this machine are each other's peers at 127.0.0.1, so loopback
# peers are allowed (only when the relay itself listens on loopback).
start_relay() {
  secret_file "$VAR/turn.secret"
  local loop=no
  case "$RELAY_ADDR" in 127.*) loop=yes ;; esac
  "$BUILD/staffroom-relay" --listen "$RELAY_ADDR" --listen-port "$RELAY_PORT" --relay-address "$RELAY_ADDR" \
    --realm staffroom --auth-secret-file "$VAR/turn.secret" --allow-loopback-peers "$loop" \
    >"$VAR/relay.log" 2>&1 &
  track $! staffroom-relay
  wait_port "$RELAY_PORT" staffroom-relay "$!"
  echo "run: staffroom-relay on $RELAY_ADDR:$RELAY_PORT (UDP and TCP; log $VAR/relay.log)" >&2
}

# The SFU for group rooms: registers in the same Redis (sfu:alive:<id>, sfu:load) and takes its commands
# from there; media on SFU_MEDIA_ADDR, /metrics and /healthz on 127.0.0.1:SFU_HTTP_PORT.
start_sfu() {
  [ -x "$BUILD/staffroom-sfu" ] || { echo "run: $BUILD/staffroom-sfu is missing: group rooms have no media server" >&2; return 0; }
  mkdir -p "$VAR/media/recordings" # in-call recordings (media path recordings/<id>)
  "$BUILD/staffroom-sfu" --id sfu-local --redis-host 127.0.0.1 --redis-port "$REDIS_PORT" \
    --redis-password-file "$VAR/redis.pass" --media-address "$SFU_MEDIA_ADDR" \
    --recordings-dir "$VAR/media/recordings" \
    --http-address 127.0.0.1 --http-port "$SFU_HTTP_PORT" >"$VAR/sfu.log" 2>&1 &
  track $! staffroom-sfu
  wait_port "$SFU_HTTP_PORT" staffroom-sfu "$!"
  echo "run: staffroom-sfu on $SFU_MEDIA_ADDR (metrics http://127.0.0.1:$SFU_HTTP_PORT/metrics; log $VAR/sfu.log)" >&2
}

mkdir -p "$VAR"; VAR=$(cd "$VAR" && pwd)
[ -x "$BUILD/staffroom-signal" ] || { echo "run: $BUILD/staffroom-signal is missing: run make first" >&2; exit 1; }
[ -x "$BUILD/staffroom-relay" ] || { echo "run: $BUILD/staffroom-relay is missing: run make first" >&2; exit 1; }
start_redis
start_postgres
start_relay
start_sfu
create_admin_once
start_signal "$@"

cat >&2 <<MSG

  Staffroom is running.  Open  http://$SIGNAL_ADDR:$SIGNAL_PORT/
  Sign in as "$ADMIN_NAME" with the password in $VAR/admin.password$( [ -s "$VAR/admin.password" ] && printf ' (%s)' "$(cat "$VAR/admin.password")" )
  TURN relay: turn:$RELAY_ADDR:$RELAY_PORT (add ?relay=1 to the page's URL to force calls through it)
  Health: http://$SIGNAL_ADDR:$SIGNAL_PORT/healthz   Metrics: http://$SIGNAL_ADDR:$SIGNAL_PORT/metrics
  Press Ctrl-C to stop (data stays in $VAR/).

MSG
# Wait until any program exits (or Ctrl-C); then stop the others.
wait -n "${PIDS[@]}" || true
echo "run: a program exited; stopping the rest" >&2
