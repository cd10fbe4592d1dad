#!/usr/bin/env bash
# bench-signal.sh — staffroom-signal against the PeerJS server (npm `peer`) under the same load client
# (run by `make bench-signal`; the method is in tests/bench/README.md).
#
# Every measurement gets fresh servers: for Staffroom a throwaway redis-server (temp dir, free port, no
# persistence) seeded by `signal_load seed`, then staffroom-signal; for PeerJS `node peer-server.cjs`.
# build/tests/bench/signal_load then drives one load, reads the servers' CPU (utime+stime from
# /proc/PID/stat) and RSS itself, and prints a RESULT line. Loads (each bounded in count and time):
#   relay1 / relay50   call.signal (PeerJS: OFFER/CANDIDATE) between 1 and 50 pairs, window 32 per pair
#   relay1idle         the same, 1 pair, with 18,000 idle signed-in clients connected
#   rss                5,000 idle signed-in clients: RSS per connection fresh and after 5 leave/return
#                      cycles; the fresh connect also gives the set-up rate (connect + sign-in answered)
#   idlecpu            19,000 idle signed-in clients: CPU of the node over 10 s
#   floor              no server: the kernel CPU of one send() to each of 1,000 loopback connections
#   fan / fanidle      chat.send to a channel of 1,000 members (Staffroom only), without and with 15,000
#                      other idle clients: latency send → each delivery, CPU per delivery
# Rounds interleave the two servers, alternating which goes first; the table at the end gives medians
# and min–max over the rounds, Staffroom/PeerJS ratios and the targets of the issue. Exits non-zero if a
# run failed, delivered nothing, or lost or reordered messages.
#
# Knobs (environment): BENCH_QUICK=1 (small counts, 1 round: a smoke test in under 2 minutes),
# BENCH_ROUNDS (3), BENCH_SECONDS (3 s measured per relay run, after BENCH_WARMUP 1 s),
# BENCH_CASES (a space-separated subset of the loads above), BENCH_REDIS_AOF=1 (Redis with
# appendonly/appendfsync always, as scripts/run.sh runs it), BENCH_PIN=0 (no taskset), STAFFROOM_SIGNAL
# (build/staffroom-signal).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LOAD=$ROOT/build/tests/bench/signal_load
STAFFROOM=${STAFFROOM_SIGNAL:-$ROOT/build/staffroom-signal}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1}; SECS=${BENCH_SECONDS:-1.5}; WARM=${BENCH_WARMUP:-0.5}
  RSS_N=500; CYCLES=2; IDLE_N=1000; IDLE_SECS=2; RELAY_IDLE=1000; FAN_M=200; FAN_OTHERS=1000
else
  ROUNDS=${BENCH_ROUNDS:-3}; SECS=${BENCH_SECONDS:-3}; WARM=${BENCH_WARMUP:-1}
  RSS_N=5000; CYCLES=5; IDLE_N=19000; IDLE_SECS=10; RELAY_IDLE=18000; FAN_M=1000; FAN_OTHERS=15000
fi
CASES=${BENCH_CASES:-relay1 relay50 relay1idle rss idlecpu fan fanidle}
FAN_MSGS=${BENCH_FAN_MSGS:-20}; FAN_GAP_MS=50; WINDOW=32
MAX_CLIENTS=25000

[ -x "$LOAD" ] || { echo "bench-signal: $LOAD missing (make build/tests/bench/signal_load)" >&2; exit 1; }
[ -x "$STAFFROOM" ] || { echo "bench-signal: $STAFFROOM missing (make)" >&2; exit 1; }
"$LOAD" selftest || { echo "bench-signal: the load client fails its self-test: no figures from it" >&2; exit 1; }
for t in node npm redis-server; do
  command -v "$t" >/dev/null || { echo "bench-signal: $t not installed" >&2; exit 1; }
done

# The PeerJS server, from the lock file, into tests/bench/node_modules (gitignored).
if [ ! -f tests/bench/node_modules/peer/package.json ] ||
   [ tests/bench/package-lock.json -nt tests/bench/node_modules/.package-lock.json ]; then
  echo "bench-signal: npm ci (tests/bench: peer)"
  (cd tests/bench && npm ci --no-audit --no-fund --loglevel=error) || { echo "bench-signal: npm ci failed" >&2; exit 1; }
fi
PEER_VERSION=$(node -p 'require("./tests/bench/node_modules/peer/package.json").version')

# Descriptors: the client and each server hold one per connection (19,000 idle + a few).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_N + 300)) ]; then
  cap=$((NOFILE - 300))
  echo "bench-signal: ulimit -n is $NOFILE: idle counts capped at $cap (the figures are not those of the issue)"
  [ "$IDLE_N" -gt "$cap" ] && IDLE_N=$cap
  [ "$RELAY_IDLE" -gt "$cap" ] && RELAY_IDLE=$cap
  [ "$FAN_OTHERS" -gt $((cap - FAN_M)) ] && FAN_OTHERS=$((cap - FAN_M))
fi

# Pinning: the load client on the last CPU, the servers (and Staffroom's Redis) on the others, so the
# client never takes CPU from what it measures. With one CPU nothing is pinned.
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ] && [ "${BENCH_PIN:-1}" = 1 ]; then
  CLIENT_PIN=(taskset -c $((NCPU - 1))); CLIENT_CPU=$((NCPU - 1))
  SERVER_PIN=(taskset -c "0-$((NCPU - 2))")
  PIN_NOTE="client on CPU $((NCPU - 1)), servers (and Redis) on CPU 0-$((NCPU - 2))"
else
  CLIENT_PIN=(); SERVER_PIN=(); PIN_NOTE="nothing pinned ($NCPU CPU(s), BENCH_PIN=${BENCH_PIN:-1})"
fi

mkdir -p "$ROOT/build/bench-run"
RUN=$(mktemp -d "$ROOT/build/bench-run/signal-XXXXXX")
SERVER_PID=; REDIS_PID=; PORT=; RPORT=
stop_pid() { # stop_pid PID — TERM, then KILL after 5 s
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
stop_servers() { stop_pid "$SERVER_PID"; stop_pid "$REDIS_PID"; SERVER_PID=; REDIS_PID=; }
trap 'stop_servers' EXIT
trap 'stop_servers; exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
wait_tcp() { # wait_tcp PORT PID — until the port accepts, at most 10 s
  for _ in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

healthz_ok() { # healthz_ok PORT — staffroom-signal answers /healthz 200 (503 while Redis is not connected)
  ( exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
    head -1 <&3 | grep -q ' 200' ) 2>/dev/null
}

# start_staffroom DIR SEED_ARGS... — Redis, seeded, then staffroom-signal; sets SERVER_PID REDIS_PID PORT
start_staffroom() {
  local dir=$1; shift
  mkdir -p "$dir"
  RPORT=$(free_port); PORT=$(free_port)
  {
    echo "port $RPORT"; echo "bind 127.0.0.1"; echo "dir $dir"; echo 'save ""'
    if [ "${BENCH_REDIS_AOF:-0}" = 1 ]; then echo "appendonly yes"; echo "appendfsync always"; else echo "appendonly no"; fi
  } >"$dir/redis.conf"
  "${SERVER_PIN[@]}" redis-server "$dir/redis.conf" >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  wait_tcp "$RPORT" "$REDIS_PID" || { echo "bench-signal: redis-server did not start ($dir/redis.log)" >&2; return 1; }
  "$LOAD" seed -r "$RPORT" "$@" >"$dir/seed.log" 2>&1 || { cat "$dir/seed.log" >&2; return 1; }
  "${SERVER_PIN[@]}" "$STAFFROOM" --listen-address 127.0.0.1 --listen-port "$PORT" --web-root webclient \
    --redis-host 127.0.0.1 --redis-port "$RPORT" --max-clients "$MAX_CLIENTS" --log-level warn \
    --login-rate 1000000 --login-burst 1000000 --signal-rate 1000000 --signal-burst 1000000 \
    --message-rate 1000000 --message-burst 1000000 >"$dir/signal.log" 2>&1 &
  SERVER_PID=$!
  wait_tcp "$PORT" "$SERVER_PID" || { echo "bench-signal: staffroom-signal did not start ($dir/signal.log)" >&2; return 1; }
  for _ in $(seq 1 100); do # listening is not ready: Redis must be connected and the scripts loaded
    healthz_ok "$PORT" && return 0
    sleep 0.05
  done
  echo "bench-signal: staffroom-signal not healthy ($dir/signal.log)" >&2; return 1
}

start_peerjs() { # start_peerjs DIR
  mkdir -p "$1"
  PORT=$(free_port)
  "${SERVER_PIN[@]}" node tests/bench/peer-server.cjs "$PORT" >"$1/peer.log" 2>&1 &
  SERVER_PID=$!
  wait_tcp "$PORT" "$SERVER_PID" || { echo "bench-signal: peer-server did not start ($1/peer.log)" >&2; return 1; }
}

FAILED=0
# run_floor ROUND — the kernel's own CPU for one 300-byte send() to each of FAN_M loopback TCP connections
# (tests/bench/send_floor.c): the floor under any server's CPU per fan-out delivery on this machine.
run_floor() {
  local out
  out=$(timeout 120 "${SERVER_PIN[@]}" "$ROOT/build/tests/bench/send_floor" -n "$FAN_M" -k "$((FAN_MSGS * 5))" \
        -g "$FAN_GAP_MS" ${CLIENT_CPU:+-c "$CLIENT_CPU"} 2>&1)
  echo "$out" | grep -v '^RESULT' | sed "s/^/  [r$1 floor]  /"
  local res
  res=$(echo "$out" | grep '^RESULT' | sed 's/^RESULT //')
  if [ -n "$res" ]; then echo "floor staffroom $1 $res" >>"$RUN/results"; else FAILED=1; echo "r$1 floor: no RESULT line" >>"$RUN/failed"; fi
}

# run_case ROUND SERVER CASE — fresh servers, one load, one line in $RUN/results
run_case() {
  local round=$1 server=$2 case=$3 dir="$RUN/r$1-$2-$3" args seed
  case $case in
    relay1)     args=(relay -n 1 -d "$SECS" -u "$WARM" -w "$WINDOW"); seed=(-N 0 -M 0 -Q 1) ;;
    relay50)    args=(relay -n 50 -d "$SECS" -u "$WARM" -w "$WINDOW"); seed=(-N 0 -M 0 -Q 50) ;;
    relay1idle) args=(relay -n 1 -I "$RELAY_IDLE" -d "$SECS" -u "$WARM" -w "$WINDOW"); seed=(-N "$RELAY_IDLE" -M 0 -Q 1) ;;
    rss)        args=(idle -N "$RSS_N" -C "$CYCLES"); seed=(-N "$RSS_N" -M 0 -Q 0) ;;
    idlecpu)    args=(idle -N "$IDLE_N" -i "$IDLE_SECS"); seed=(-N "$IDLE_N" -M 0 -Q 0) ;;
    fan)        args=(fanout -m "$FAN_M" -k "$FAN_MSGS" -g "$FAN_GAP_MS"); seed=(-N 0 -M "$FAN_M" -Q 0) ;;
    fanidle)    args=(fanout -m "$FAN_M" -I "$FAN_OTHERS" -k "$FAN_MSGS" -g "$FAN_GAP_MS"); seed=(-N "$FAN_OTHERS" -M "$FAN_M" -Q 0) ;;
    *) echo "bench-signal: unknown case $case" >&2; FAILED=1; return ;;
  esac
  case "$server:$case" in peerjs:fan | peerjs:fanidle) return ;; esac # PeerJS has no channels
  local pids=()
  if [ "$server" = staffroom ]; then
    start_staffroom "$dir" "${seed[@]}" || { FAILED=1; stop_servers; echo "  [$server $case] did not start"; return; }
    pids=(-P "$SERVER_PID" -R "$REDIS_PID")
  else
    start_peerjs "$dir" || { FAILED=1; stop_servers; echo "  [$server $case] did not start"; return; }
    pids=(-P "$SERVER_PID")
  fi
  local out rc
  out=$(timeout 300 "${CLIENT_PIN[@]}" "$LOAD" "${args[@]}" -S "$server" -p "$PORT" "${pids[@]}" 2>"$dir/load.err")
  rc=$?
  echo "$out" | grep -v '^RESULT' | sed "s/^/  [r$round $server $case]/"
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "  [r$round $server $case] the server died"; rc=1; }
  stop_servers
  local res
  res=$(echo "$out" | grep '^RESULT' | sed 's/^RESULT //')
  if [ $rc -ne 0 ] || [ -z "$res" ]; then
    FAILED=1
    echo "  [r$round $server $case] FAILED (exit $rc): $(head -5 "$dir/load.err" | tr '\n' ' ')"
    [ -n "$res" ] && echo "  [r$round $server $case] $res"
    echo "r$round $server $case (exit $rc): ${res:-no RESULT line}" >>"$RUN/failed"
    return
  fi
  echo "$case $server $round $res" >>"$RUN/results"
  rm -rf "$dir" # keep logs of failed runs only
}

: >"$RUN/results"
: >"$RUN/failed"
LOAD_START=$(uptime | sed 's/.*load average: //')
echo "bench-signal: staffroom-signal ($(git rev-parse --short HEAD 2>/dev/null || echo '?')) vs PeerJS server (peer $PEER_VERSION, node $(node --version))"
echo "  $NCPU CPUs; $PIN_NOTE; load average (uptime) at start $LOAD_START (other work may share this machine)"
echo "  $ROUNDS round(s), servers alternating first; staffroom-signal --max-clients $MAX_CLIENTS, rate limits raised,"
echo "  --log-level warn; Redis $( [ "${BENCH_REDIS_AOF:-0}" = 1 ] && echo 'appendonly, fsync always' || echo 'without persistence'); ulimit -n $NOFILE"
T0=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="staffroom peerjs"; else order="peerjs staffroom"; fi
  echo "== round $round ($order first in each load)"
  case " $CASES " in *" fan"*) run_floor "$round" ;; esac
  for case in $CASES; do
    for server in $order; do
      run_case "$round" "$server" "$case"
    done
  done
done
LOAD_END=$(uptime | sed 's/.*load average: //')

echo
echo "== bench-signal results: median (min-max) over $ROUNDS round(s); load average $LOAD_START at start, $LOAD_END at end; $(( $(date +%s) - T0 )) s"
echo "   relay: ~250-byte signals, window $WINDOW per pair, ${SECS} s measured after ${WARM} s warm-up; CPU us per delivered message"
echo "   (Staffroom: node + its Redis). rss: $RSS_N idle clients, after $CYCLES cycles of leaving and returning. idle CPU: $IDLE_N clients"
echo "   over ${IDLE_SECS} s. fan-out: $FAN_MSGS messages ${FAN_GAP_MS} ms apart to $FAN_M members, with 0 / $FAN_OTHERS other idle clients."
awk -v rss_n="$RSS_N" -v idle_n="$IDLE_N" -v relay_idle="$RELAY_IDLE" -v fan_others="$FAN_OTHERS" '
  {
    c = $1; s = $2
    for (i = 4; i <= NF; i++) { split($i, kv, "="); k = c SUBSEP s SUBSEP kv[1]; n[k]++; v[k, n[k]] = kv[2] + 0 }
  }
  function sorted(k,   i, j, t) { for (i = 1; i <= n[k]; i++) a[i] = v[k, i]
    for (i = 2; i <= n[k]; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
  function med(c, s, key, scale,   k, m) { k = c SUBSEP s SUBSEP key; if (!(k in n)) return ""; sorted(k)
    m = n[k] % 2 ? a[(n[k] + 1) / 2] : (a[n[k] / 2] + a[n[k] / 2 + 1]) / 2; lo = a[1] * scale; hi = a[n[k]] * scale; return m * scale }
  function cell(c, s, key, scale, fmt,   m) { m = med(c, s, key, scale); if (m == "") return "n/a"
    return sprintf(fmt, m) (lo != hi ? sprintf(" (" fmt "-" fmt ")", lo, hi) : "") }
  function ratio(c, key, scale,   x, y) { x = med(c, "staffroom", key, scale); y = med(c, "peerjs", key, scale)
    return (x == "" || y == "" || y == 0) ? "n/a" : sprintf("%.2f", x / y) }
  function row(label, c, key, scale, fmt, target, verdict) {
    printf "%-44s %-26s %-26s %-7s %-22s %s\n", label, cell(c, "staffroom", key, scale, fmt), cell(c, "peerjs", key, scale, fmt), \
      ratio(c, key, scale), target, verdict }
  function yes(b) { return b ? "met" : "NOT met" }
  function has(c, s, key) { return (c SUBSEP s SUBSEP key) in n }
  END {
    printf "%-44s %-26s %-26s %-7s %-22s %s\n", "figure", "Staffroom", "PeerJS", "S/P", "target", "verdict"
    rs = med("relay1", "staffroom", "rate", 1); rp = med("relay1", "peerjs", "rate", 1)
    row("relay 1 pair, msg/s delivered", "relay1", "rate", 1, "%.0f", ">= 3x PeerJS", (rs != "" && rp != "") ? yes(rs >= 3 * rp) : "n/a")
    row("  CPU us/msg: node", "relay1", "us_srv", 1, "%.1f", "", "")
    row("  CPU us/msg: Redis", "relay1", "us_redis", 1, "%.1f", "", "")
    row("  CPU us/msg: total", "relay1", "us_total", 1, "%.1f", "", "")
    row("  servers busy, % of a core (node+Redis)", "relay1", "srv_cpu_pct", 1, "%.0f", "", "")
    rs = med("relay50", "staffroom", "rate", 1); rp = med("relay50", "peerjs", "rate", 1)
    row("relay 50 pairs, msg/s delivered", "relay50", "rate", 1, "%.0f", ">= 3x PeerJS", (rs != "" && rp != "") ? yes(rs >= 3 * rp) : "n/a")
    row("  CPU us/msg: node", "relay50", "us_srv", 1, "%.1f", "", "")
    row("  CPU us/msg: Redis", "relay50", "us_redis", 1, "%.1f", "", "")
    row("  CPU us/msg: total", "relay50", "us_total", 1, "%.1f", "", "")
    row("  servers busy, % of a core (node+Redis)", "relay50", "srv_cpu_pct", 1, "%.0f", "", "")
    x = med("rss", "staffroom", "per_conn_cycles_b", 1 / 1024)
    row("RSS per idle conn, fresh (KB)", "rss", "per_conn_fresh_b", 1 / 1024, "%.2f", "", "")
    row("RSS per idle conn, after cycles (KB)", "rss", "per_conn_cycles_b", 1 / 1024, "%.2f", "<= 3.5 KB", x != "" ? yes(x <= 3.5) : "n/a")
    row("  once they all left (KB per conn)", "rss", "left_b", 1 / 1024, "%.2f", "", "")
    row("connection set-up (connect+sign-in), /s", "rss", "setup_rate", 1, "%.0f", "", "")
    x = med("idlecpu", "staffroom", "idle_srv_cpu_pct", 1)
    row(sprintf("idle CPU, %d clients: node, %% core", idle_n), "idlecpu", "idle_srv_cpu_pct", 1, "%.2f", "< 3 % (node)", x != "" ? yes(x < 3) : "n/a")
    row("  Redis, % core", "idlecpu", "idle_redis_cpu_pct", 1, "%.2f", "", "")
    row(sprintf("relay 1 pair with %d idle, msg/s", relay_idle), "relay1idle", "rate", 1, "%.0f", "", "")
    for (k = 1; k <= 2; k++) {
      s = k == 1 ? "staffroom" : "peerjs"; a0 = med("relay1", s, "rate", 1); a1 = med("relay1idle", s, "rate", 1)
      q[s] = (a0 != "" && a1 != "" && a0 > 0) ? sprintf("%.0f %%", 100 * a1 / a0) : "n/a"
    }
    a0 = med("relay1", "staffroom", "rate", 1); a1 = med("relay1idle", "staffroom", "rate", 1)
    printf "%-44s %-26s %-26s %-7s %-22s %s\n", "  as % of the rate with none", q["staffroom"], q["peerjs"], "", ">= 90 %", \
      (a0 != "" && a1 != "") ? yes(a1 >= 0.9 * a0) : "n/a"
    row("  CPU us/msg: total", "relay1idle", "us_total", 1, "%.1f", "", "")
    row("  servers busy, % of a core (node+Redis)", "relay1idle", "srv_cpu_pct", 1, "%.0f", "", "")
    x = med("fan", "staffroom", "p99_us", 1 / 1000)
    row("fan-out 1 channel, latency p50 (ms)", "fan", "p50_us", 1 / 1000, "%.2f", "", "")
    row("  p99 (ms)", "fan", "p99_us", 1 / 1000, "%.2f", "", "")
    row("  CPU us/delivery, node", "fan", "us_srv", 1, "%.2f", "", "")
    row("  CPU us/delivery, total", "fan", "us_total", 1, "%.2f", "", "")
    x = med("fanidle", "staffroom", "p99_us", 1 / 1000); y = med("fanidle", "staffroom", "us_total", 1)
    row(sprintf("fan-out with %d others, p50 (ms)", fan_others), "fanidle", "p50_us", 1 / 1000, "%.2f", "", "")
    row("  p99 (ms)", "fanidle", "p99_us", 1 / 1000, "%.2f", "<= 10 ms", x != "" ? yes(x <= 10) : "n/a")
    row("  CPU us/delivery, node", "fanidle", "us_srv", 1, "%.2f", "", "")
    row("  CPU us/delivery, total (node+Redis)", "fanidle", "us_total", 1, "%.2f", "<= 3 us", y != "" ? yes(y <= 3) : "n/a")
    row("kernel floor: one send() per delivery, us", "floor", "us_send", 1, "%.2f", "(no server: send_floor)", "")
    row("load client CPU in relay 1 pair, %", "relay1", "client_cpu_pct", 1, "%.0f", "(not the bound)", "")
    row("load client CPU in relay 50 pairs, %", "relay50", "client_cpu_pct", 1, "%.0f", "", "")
  }' "$RUN/results"
if [ -s "$RUN/failed" ]; then
  echo
  echo "FAILED runs (not in the table; what they measured before failing, if anything):"
  sed 's/^/  /' "$RUN/failed"
fi
echo "(raw RESULT lines: $RUN/results; logs of failed runs kept beside it)"
if [ "$FAILED" != 0 ]; then
  echo "bench-signal: some runs FAILED (see above): their figures are missing from the table" >&2
  exit 1
fi
