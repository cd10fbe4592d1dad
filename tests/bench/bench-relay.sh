#!/usr/bin/env bash
# bench-relay.sh — staffroom-relay against Debian's coturn under the same loads (run by `make bench-relay`;
# the method is in tests/bench/README.md).
#
# Each relay is started fresh on a free loopback port with the same number of relay threads, loopback
# peers allowed and REST credentials; build/tests/bench/turn_load then drives one load, after a warm-up,
# and prints a RESULT line with what it measured (clock seconds, packets counted by sequence number, the
# relay's and its own CPU from /proc). Loads (each bounded in count and time):
#   a  FEW_ALLOCS allocations at the highest rate they sustain (closed loop, WINDOW in flight per allocation)
#   b  MANY_ALLOCS allocations at a steady MANY_RATE packets/s in total
#   c  VIDEO_ALLOCS allocations x VIDEO_PEERS peers, video-like: VIDEO_PAYLOAD-byte packets, VIDEO_RATE
#      packets/s per stream sent as frames of VIDEO_BURST back-to-back packets (a room of teachers)
# Rounds interleave the two relays, alternating which goes first; the table at the end gives medians and
# min–max over the rounds and the staffroom/coturn ratio of packets per relay-CPU-second (the issue's
# metric). Only 127.0.0.1; every process started here is stopped by its PID, on failure too. Exits
# non-zero if a run failed.
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10 s measured per load), BENCH_WARMUP (2 s),
# BENCH_LOADS ("a b c"), BENCH_PIN=0 (no taskset), BENCH_ONLY (coturn|staffroom), RELAY_THREADS (1),
# LOAD_THREADS (1), FEW_ALLOCS (4), WINDOW (32), MANY_ALLOCS (500), MANY_RATE (20000), PAYLOAD (100 bytes,
# loads a and b), VIDEO_ALLOCS (50), VIDEO_PEERS (4), VIDEO_RATE (30), VIDEO_BURST (3), VIDEO_PAYLOAD
# (1000), STAFFROOM_RELAY (build/staffroom-relay), STAFFROOM_RELAY_ARGS (extra flags).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
LOADS=${BENCH_LOADS:-a b c}
RELAY_THREADS=${RELAY_THREADS:-1}
LOAD_THREADS=${LOAD_THREADS:-1}
FEW_ALLOCS=${FEW_ALLOCS:-4}
WINDOW=${WINDOW:-32}
MANY_ALLOCS=${MANY_ALLOCS:-500}
MANY_RATE=${MANY_RATE:-20000}
PAYLOAD=${PAYLOAD:-100}
VIDEO_ALLOCS=${VIDEO_ALLOCS:-50}
VIDEO_PEERS=${VIDEO_PEERS:-4}
VIDEO_RATE=${VIDEO_RATE:-30}
VIDEO_BURST=${VIDEO_BURST:-3}
VIDEO_PAYLOAD=${VIDEO_PAYLOAD:-1000}
STAFFROOM=${STAFFROOM_RELAY:-$ROOT/build/staffroom-relay}
LOAD=$ROOT/build/tests/bench/turn_load
REALM=staffroom

[ -x "$LOAD" ] || { echo "bench-relay: $LOAD missing (make build/tests/bench/turn_load)" >&2; exit 1; }
[ -x "$STAFFROOM" ] || { echo "bench-relay: $STAFFROOM missing (make)" >&2; exit 1; }
command -v turnserver >/dev/null || { echo "bench-relay: turnserver (coturn) not installed" >&2; exit 1; }
command -v node >/dev/null || { echo "bench-relay: node not installed (free_port)" >&2; exit 1; }
"$LOAD" selftest >/dev/null || { echo "bench-relay: turn_load fails its self-test: no figures from it" >&2; exit 1; }
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "bench-relay: BENCH_ROUNDS must be a positive integer" >&2; exit 1 ;; esac

# Pinning: the load generator on the last CPU, the relay on the others, so the generator never takes CPU
# from what it measures. With one CPU nothing is pinned.
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ] && [ "${BENCH_PIN:-1}" = 1 ]; then
  GEN_PIN=(taskset -c $((NCPU - 1)))
  RELAY_PIN=(taskset -c "0-$((NCPU - 2))")
  PIN_NOTE="generator on CPU $((NCPU - 1)), relay on CPU 0-$((NCPU - 2))"
else
  GEN_PIN=(); RELAY_PIN=(); PIN_NOTE="nothing pinned ($NCPU CPU(s), BENCH_PIN=${BENCH_PIN:-1})"
fi

mkdir -p "$ROOT/build/bench-run"
RUN=$(mktemp -d "$ROOT/build/bench-run/relay-XXXXXX")
SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$SECRET" >"$RUN/secret"
chmod 600 "$RUN/secret"
RELAY_PID=; LOAD_PID=
stop_load() { # the load generator in flight, if any (timeout passes the TERM on to turn_load)
  [ -n "$LOAD_PID" ] || return 0
  kill "$LOAD_PID" 2>/dev/null
  wait "$LOAD_PID" 2>/dev/null
  LOAD_PID=
}
stop_relay() { # TERM, then KILL after 5 s; only the PID this script started
  [ -n "$RELAY_PID" ] || return 0
  kill "$RELAY_PID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$RELAY_PID" 2>/dev/null
  wait "$RELAY_PID" 2>/dev/null
  RELAY_PID=
}
trap 'stop_load; stop_relay' EXIT
trap 'stop_load; stop_relay; exit 130' INT TERM

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

start_coturn() { # start_coturn PORT DIR
  "${RELAY_PIN[@]}" turnserver -n --no-cli --no-tls --no-dtls --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
    --listening-port="$1" --allow-loopback-peers --use-auth-secret --static-auth-secret="$SECRET" \
    --realm="$REALM" --relay-threads="$RELAY_THREADS" --no-stdout-log --log-file="$2/coturn.log" \
    --simple-log --pidfile="$2/coturn.pid" >"$2/coturn.out" 2>&1 &
  RELAY_PID=$!
  wait_tcp "$1" "$RELAY_PID"
}

start_staffroom() { # start_staffroom PORT DIR
  # shellcheck disable=SC2086
  "${RELAY_PIN[@]}" "$STAFFROOM" --listen 127.0.0.1 --listen-port "$1" --relay-address 127.0.0.1 --realm "$REALM" \
    --auth-secret-file "$RUN/secret" --allow-loopback-peers yes --threads "$RELAY_THREADS" \
    ${STAFFROOM_RELAY_ARGS:-} >"$2/staffroom.log" 2>&1 &
  RELAY_PID=$!
  for _ in $(seq 1 200); do
    grep -q 'staffroom-relay listening' "$2/staffroom.log" 2>/dev/null && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.05
  done
  return 1
}

load_args() { # load_args LOAD — turn_load's arguments for one load
  case "$1" in
    a) echo "-a $FEW_ALLOCS -r 0 -w $WINDOW -s $PAYLOAD" ;;
    b) echo "-a $MANY_ALLOCS -r $MANY_RATE -s $PAYLOAD" ;;
    c) echo "-a $VIDEO_ALLOCS -e $VIDEO_PEERS -F $VIDEO_RATE -b $VIDEO_BURST -s $VIDEO_PAYLOAD" ;;
    *) return 1 ;;
  esac
}

FAILED=0
fail() { FAILED=1; echo "  $*"; echo "$*" >>"$RUN/failed"; }

# run_relay ROUND RELAY — every load against a fresh relay of its own; appends to $RUN/results. (One relay
# for all loads let a load meet the allocations of the one before: coturn answered 437, allocation
# mismatch, when a new client socket got the port of one whose allocation it still held.)
run_relay() {
  local round=$1 relay=$2 dir="$RUN/r$1-$2" port
  mkdir -p "$dir"
  for load in $LOADS; do
    local args out rc res
    args=$(load_args "$load") || { fail "unknown load '$load' in BENCH_LOADS"; continue; }
    port=$(free_port) || { fail "r$round $relay: no free port"; return; }
    if ! "start_$relay" "$port" "$dir"; then
      fail "r$round $relay load $load: did not start on 127.0.0.1:$port (logs in $dir)"
      stop_relay
      continue
    fi
    # In the background with its PID kept, so an interrupted run stops it too.
    # shellcheck disable=SC2086
    timeout $((${SECS%.*} + ${WARM%.*} + 60)) "${GEN_PIN[@]}" "$LOAD" -p "$port" -W "$SECRET" \
      -t "$LOAD_THREADS" -d "$SECS" -U "$WARM" -P "$RELAY_PID" -u "bench-r$round-$load-" $args \
      >"$dir/load-$load.out" 2>"$dir/load-$load.err" &
    LOAD_PID=$!
    wait "$LOAD_PID"
    rc=$?
    LOAD_PID=
    out=$(cat "$dir/load-$load.out")
    echo "$out" | grep -v '^RESULT' | sed "s/^/  [r$round $relay $load] /"
    kill -0 "$RELAY_PID" 2>/dev/null || { echo "  [r$round $relay $load] the relay died"; rc=1; }
    res=$(echo "$out" | grep '^RESULT' | sed 's/^RESULT //')
    stop_relay
    if [ $rc -ne 0 ] || [ -z "$res" ]; then
      fail "r$round $relay load $load (exit $rc): ${res:-no RESULT line} $(tail -3 "$dir/load-$load.err" | tr '\n' ' ')"
      continue
    fi
    echo "$load $relay $round $res" >>"$RUN/results"
  done
}

: >"$RUN/results"
: >"$RUN/failed"
RELAYS="staffroom coturn"
[ "${BENCH_ONLY:-}" = staffroom ] && RELAYS=staffroom
[ "${BENCH_ONLY:-}" = coturn ] && RELAYS=coturn
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-relay: staffroom-relay ($(git rev-parse --short HEAD 2>/dev/null || echo '?')) vs coturn ($(turnserver --version 2>/dev/null | head -1 || echo '?'))"
echo "  $NCPU CPUs; $PIN_NOTE; load average at start $LOAD_START (other work may share this machine)"
echo "  $ROUNDS round(s), relays alternating first; $RELAY_THREADS relay thread(s), $LOAD_THREADS generator thread(s);"
echo "  each load ${WARM} s warm-up then ${SECS} s measured, on a relay started fresh for each load"
T0=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  order=$RELAYS
  if [ $((round % 2)) = 0 ]; then order=$(echo "$RELAYS" | awk '{ for (i = NF; i >= 1; i--) printf "%s%s", $i, (i > 1 ? " " : "") }'); fi
  echo "== round $round ($order)"
  for relay in $order; do run_relay "$round" "$relay"; done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== bench-relay results: median (min-max) over $ROUNDS round(s); load average $LOAD_START at start, $LOAD_END at end; $(( $(date +%s) - T0 )) s"
echo "   a: $FEW_ALLOCS allocations, max rate (window $WINDOW), $PAYLOAD-byte payloads; b: $MANY_ALLOCS allocations at $MANY_RATE pkt/s, $PAYLOAD bytes;"
echo "   c: $VIDEO_ALLOCS allocations x $VIDEO_PEERS peers, $VIDEO_RATE pkt/s per stream in frames of $VIDEO_BURST, $VIDEO_PAYLOAD bytes."
echo "   A packet back crossed the relay twice (client->peer, peer->client). pkts/relay-CPU-s = packets back / relay utime+stime."
echo "   relay loss = lost by sequence number less the generator's own drops (echo EAGAIN, its receive queues)."
awk -v loads="$LOADS" '
  {
    l = $1; r = $2; rd = $3; rounds[rd] = 1
    for (i = 4; i <= NF; i++) { split($i, kv, "="); k = l SUBSEP r SUBSEP kv[1]; n[k]++; v[k, n[k]] = kv[2] + 0; byround[l, r, kv[1], rd] = kv[2] + 0 }
  }
  function sorted(k,   i, j, t) { for (i = 1; i <= n[k]; i++) a[i] = v[k, i]
    for (i = 2; i <= n[k]; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
  function med(l, r, key,   k, m) { k = l SUBSEP r SUBSEP key; if (!(k in n)) return ""; sorted(k)
    m = n[k] % 2 ? a[(n[k] + 1) / 2] : (a[n[k] / 2] + a[n[k] / 2 + 1]) / 2; lo = a[1]; hi = a[n[k]]; return m }
  function cell(l, r, key, fmt,   m) { m = med(l, r, key); if (m == "") return "n/a"
    return sprintf(fmt, m) (lo != hi ? sprintf(" (" fmt "-" fmt ")", lo, hi) : "") }
  function ratio(l, key,   x, y) { x = med(l, "staffroom", key); y = med(l, "coturn", key)
    return (x == "" || y == "" || y <= 0) ? "n/a" : sprintf("%.2f", x / y) }
  function row(label, l, key, fmt, withratio) {
    printf "%-40s %-28s %-28s %s\n", label, cell(l, "staffroom", key, fmt), cell(l, "coturn", key, fmt), withratio ? ratio(l, key) : "" }
  function roundratios(l, key,   rd, x, y, q, mn, mx, cnt) { cnt = 0
    for (rd in rounds) { if (!((l, "staffroom", key, rd) in byround) || !((l, "coturn", key, rd) in byround)) continue
      x = byround[l, "staffroom", key, rd]; y = byround[l, "coturn", key, rd]; if (y <= 0) continue
      q = x / y; if (cnt == 0 || q < mn) mn = q; if (cnt == 0 || q > mx) mx = q; cnt++ }
    return cnt ? sprintf("%.2f-%.2f over %d round(s)", mn, mx, cnt) : "n/a" }
  END {
    printf "%-40s %-28s %-28s %s\n", "figure", "staffroom", "coturn", "S/C"
    nl = split(loads, L, " ")
    for (i = 1; i <= nl; i++) {
      l = L[i]
      row("load " l ": pkts/relay-CPU-s", l, "pkts_per_cpu_s", "%.0f", 1)
      printf "%-40s %s\n", "  S/C of the same round, min-max", roundratios(l, "pkts_per_cpu_s")
      row("  pkts/s back", l, "pps", "%.0f", 1)
      row("  pkts/s offered (sent)", l, "sent_pps", "%.0f", 0)
      row("  relay CPU, % of a core", l, "relay_cpu_pct", "%.0f", 0)
      row("  relay loss, %", l, "relay_loss_pct", "%.3f", 0)
      row("  lost (all, by sequence number)", l, "lost", "%.0f", 0)
      row("  duplicated", l, "dup", "%.0f", 0)
      row("  reordered", l, "reord", "%.0f", 0)
      row("  echo-side drops (EAGAIN, not relay)", l, "echo_drops", "%.0f", 0)
      row("  generator rx-queue drops (not relay)", l, "gen_rx_drops", "%.0f", 0)
      row("  RTT p50, us", l, "rtt_p50_us", "%.0f", 0)
      row("  RTT p99, us", l, "rtt_p99_us", "%.0f", 0)
      row("  measured seconds (clock)", l, "seconds", "%.2f", 0)
      row("  generator CPU, % of a core", l, "gen_cpu_pct", "%.0f", 0)
    }
  }' "$RUN/results"
if [ -s "$RUN/failed" ]; then
  echo
  echo "FAILED runs (not in the table):"
  sed 's/^/  /' "$RUN/failed"
fi
echo "(raw RESULT lines: $RUN/results; logs in $RUN)"
if [ "$FAILED" != 0 ]; then
  echo "bench-relay: some runs FAILED (see above): their figures are missing from the table" >&2
  exit 1
fi
