#!/usr/bin/env bash
# bench-relay.sh — staffroom-relay against Debian's coturn under the same loads (run by `make bench-relay`).
#
# Each relay is started alone on a free loopback port with the same number of relay threads, loopback
# peers allowed and REST credentials; build/tests/bench/turn_load then drives it with
#   (a) few allocations at the highest rate it can sustain (closed loop, bounded window), and
#   (b) many allocations at a steady moderate rate,
# and reads the relay's CPU seconds (utime+stime from /proc/PID/stat) over each load. One table at the
# end, with staffroom/coturn ratios. Figures, not pass/fail. Only 127.0.0.1; everything time-bounded.
#
# Knobs (environment): BENCH_SECONDS (10), RELAY_THREADS (1), LOAD_THREADS (1), FEW_ALLOCS (4),
# MANY_ALLOCS (500), MANY_RATE (20000 pkt/s), PAYLOAD (100 bytes), WINDOW (32 in flight per allocation),
# STAFFROOM_RELAY (build/staffroom-relay), STAFFROOM_RELAY_ARGS (extra flags), BENCH_ONLY (coturn|staffroom).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_PER_LOAD=${BENCH_SECONDS:-10}
RELAY_THREADS=${RELAY_THREADS:-1}
LOAD_THREADS=${LOAD_THREADS:-1}
FEW_ALLOCS=${FEW_ALLOCS:-4}
MANY_ALLOCS=${MANY_ALLOCS:-500}
MANY_RATE=${MANY_RATE:-20000}
PAYLOAD=${PAYLOAD:-100}
WINDOW=${WINDOW:-32}
STAFFROOM=${STAFFROOM_RELAY:-$ROOT/build/staffroom-relay}
LOAD=$ROOT/build/tests/bench/turn_load
REALM=staffroom

[ -x "$LOAD" ] || { echo "bench-relay: $LOAD missing (make build/tests/bench/turn_load)" >&2; exit 1; }
command -v turnserver >/dev/null || { echo "bench-relay: turnserver (coturn) not installed" >&2; exit 1; }

mkdir -p "$ROOT/build/bench-run"
RUN=$(mktemp -d "$ROOT/build/bench-run/XXXXXX")
SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$SECRET" >"$RUN/secret"
chmod 600 "$RUN/secret"
RELAY_PID=
cleanup() {
  if [ -n "$RELAY_PID" ] && kill -0 "$RELAY_PID" 2>/dev/null; then
    kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null
  fi
}
trap cleanup EXIT INT TERM

# A loopback port free for UDP and TCP right now.
free_port() {
  node -e '
    const net = require("net"), dgram = require("dgram");
    (async () => { for (let i = 0; i < 50; i++) {
      const p = await new Promise((r) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const q = s.address().port; s.close(() => r(q)); }); });
      const ok = await new Promise((r) => { const u = dgram.createSocket("udp4"); u.on("error", () => r(false)); u.bind(p, "127.0.0.1", () => u.close(() => r(true))); });
      if (ok) { console.log(p); return; } } process.exit(1); })();'
}

wait_tcp() { # wait_tcp PORT PID — until the port accepts, at most 10 s
  for _ in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

start_coturn() { # start_coturn PORT
  turnserver -n --no-cli --no-tls --no-dtls --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
    --listening-port="$1" --allow-loopback-peers --use-auth-secret --static-auth-secret="$SECRET" \
    --realm="$REALM" --relay-threads="$RELAY_THREADS" --no-stdout-log --log-file="$RUN/coturn.log" \
    --simple-log --pidfile="$RUN/coturn.pid" >"$RUN/coturn.out" 2>&1 &
  RELAY_PID=$!
  wait_tcp "$1" "$RELAY_PID" && sleep 0.3
}

start_staffroom() { # start_staffroom PORT
  [ -x "$STAFFROOM" ] || { echo "bench-relay: $STAFFROOM not built" >&2; return 1; }
  # shellcheck disable=SC2086
  "$STAFFROOM" --listen 127.0.0.1 --listen-port "$1" --relay-address 127.0.0.1 --realm "$REALM" \
    --auth-secret-file "$RUN/secret" --allow-loopback-peers yes --threads "$RELAY_THREADS" \
    ${STAFFROOM_RELAY_ARGS:-} >"$RUN/staffroom.log" 2>&1 &
  RELAY_PID=$!
  for _ in $(seq 1 200); do
    grep -q 'staffroom-relay listening' "$RUN/staffroom.log" 2>/dev/null && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench-relay: staffroom-relay did not start:" >&2; tail -20 "$RUN/staffroom.log" >&2
  return 1
}

stop_relay() {
  [ -n "$RELAY_PID" ] || return 0
  kill "$RELAY_PID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$RELAY_PID" 2>/dev/null
  wait "$RELAY_PID" 2>/dev/null
  RELAY_PID=
}

# run_load RELAYNAME LOADNAME turn_load-args... — appends one row to $RUN/rows
run_load() {
  local relay=$1 load=$2; shift 2
  local out
  out=$(timeout $((SECONDS_PER_LOAD + 60)) "$LOAD" -p "$PORT" -W "$SECRET" -t "$LOAD_THREADS" -s "$PAYLOAD" \
        -d "$SECONDS_PER_LOAD" -P "$RELAY_PID" -u "bench-$load-" "$@" 2>"$RUN/load-$relay-$load.err")
  local rc=$?
  echo "$out" | grep -v '^RESULT' | sed "s/^/  [$relay] /"
  local res
  res=$(echo "$out" | grep '^RESULT')
  if [ $rc -ne 0 ] || [ -z "$res" ]; then
    echo "  [$relay] load $load failed (exit $rc): $(tail -3 "$RUN/load-$relay-$load.err")"
    echo "$load $relay - - - - - - - -" >>"$RUN/rows"
    return
  fi
  # RESULT sent=.. recv=.. seconds=.. pps=.. loss_pct=.. rtt_avg_us=.. rtt_p50_us=.. rtt_p99_us=.. relay_cpu_s=..
  eval "$(echo "$res" | sed 's/^RESULT //; s/\([a-z0-9_]*\)=/local r_\1=/g')"
  # shellcheck disable=SC2154
  echo "$load $relay $r_pps $r_loss_pct $r_rtt_avg_us $r_rtt_p99_us $r_relay_cpu_s $r_recv $r_sent_pps" >>"$RUN/rows"
}

bench_relay() { # bench_relay NAME START_FUNCTION
  local name=$1 start=$2
  PORT=$(free_port) || { echo "bench-relay: no free port" >&2; return 1; }
  echo "== $name on 127.0.0.1:$PORT, $RELAY_THREADS relay thread(s)"
  if ! $start "$PORT"; then
    echo "  [$name] did not start; see $RUN"
    for l in a b; do echo "$l $name - - - - - - - -" >>"$RUN/rows"; done
    stop_relay
    return
  fi
  run_load "$name" a -a "$FEW_ALLOCS" -r 0 -w "$WINDOW"
  kill -0 "$RELAY_PID" 2>/dev/null || echo "  [$name] relay died during load a"
  run_load "$name" b -a "$MANY_ALLOCS" -r "$MANY_RATE"
  kill -0 "$RELAY_PID" 2>/dev/null || echo "  [$name] relay died during load b"
  stop_relay
}

: >"$RUN/rows"
echo "bench-relay: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (other builds may share this machine)"
[ "${BENCH_ONLY:-coturn}" = staffroom ] || bench_relay coturn start_coturn
[ "${BENCH_ONLY:-staffroom}" = coturn ] || bench_relay staffroom start_staffroom

echo
echo "Loads: (a) $FEW_ALLOCS allocations, max rate (window $WINDOW/alloc); (b) $MANY_ALLOCS allocations at $MANY_RATE pkt/s;"
echo "       ${SECONDS_PER_LOAD} s each, $PAYLOAD-byte payloads, client->relay->peer->relay->client over UDP, $LOAD_THREADS load thread(s)."
echo "       sent/s = what the generator managed to offer (below the target when it was starved of CPU)."
echo "       A packet back crossed the relay twice. relay CPU = utime+stime over the load and its drain; pkts/CPU-s = packets back / relay CPU."
awk '
  function num(x) { return x ~ /^-?[0-9.]+$/ }
  { load[NR] = $1; relay[NR] = $2; pps[$1, $2] = $3; loss[$1, $2] = $4; avg[$1, $2] = $5; p99[$1, $2] = $6;
    cpu[$1, $2] = $7; recv[$1, $2] = $8; sent[$1, $2] = $9; seen[$1] = 1 }
  END {
    printf "%-4s %-10s %10s %12s %8s %10s %10s %9s %12s\n", "load", "relay", "sent/s", "pkts/s back", "loss %", "RTT avg us", "RTT p99 us", "relay CPU", "pkts/CPU-s"
    for (i = 1; i <= NR; i++) {
      l = load[i]; r = relay[i]
      eff[l, r] = (num(cpu[l, r]) && cpu[l, r] > 0 && num(recv[l, r])) ? recv[l, r] / cpu[l, r] : "-"
      printf "%-4s %-10s %10s %12s %8s %10s %10s %9s %12s\n", l, r, sent[l, r], pps[l, r], loss[l, r], avg[l, r], p99[l, r], \
        (num(cpu[l, r]) ? cpu[l, r] " s" : "-"), (num(eff[l, r]) ? sprintf("%.0f", eff[l, r]) : "-")
    }
    print ""
    for (k = 1; k <= 2; k++) {
      l = k == 1 ? "a" : "b"
      if (!(l in seen)) continue
      a = pps[l, "staffroom"]; b = pps[l, "coturn"]; ea = eff[l, "staffroom"]; eb = eff[l, "coturn"]
      printf "load %s  staffroom/coturn: pkts/s %s, pkts/CPU-s %s\n", l, \
        (num(a) && num(b) && b > 0) ? sprintf("%.2f", a / b) : "n/a", \
        (num(ea) && num(eb) && eb > 0) ? sprintf("%.2f", ea / eb) : "n/a"
    }
  }' SECS="$SECONDS_PER_LOAD" "$RUN/rows"
echo "(logs in $RUN)"
