#!/usr/bin/env bash
# bench-sfu.sh — staffroom-sfu and Janus 1.1.2 (VideoRoom) side by side under the same synthetic WebRTC
# load (run by `make bench-sfu`; method in tests/bench/README.md, "bench-sfu").
#
# Each run (tests/bench/sfu_bench.mjs SERVER P S) starts one fresh server — staffroom-sfu (optimised, with
# a fresh Redis) or Janus (tests/bench/janus.mjs: generated config, VideoRoom + WebSocket transport only)
# — and one build/tests/tools/sfu_peer process playing every participant of one room (libnice + DTLS +
# SRTP per peer connection, as a browser has): P publishers — Opus-sized packets every 20 ms and
# 3 × 1000-byte VP8 packets per frame at 30 fps, 140 packets/s each, plus with simulcast the h and q
# layers — who also receive each other, and S participants who only receive. After a warm-up it measures
# BENCH_SECONDS and prints a RESULT line. Rows (BENCH_ROWS, "PxS"):
#   5x0   a room of 5, everyone publishing: 5 publishers x 4 receivers
#   10x0  a room of 10: 10 x 9
#   25x0  a room of 25 (the room maximum): 25 x 24
#   1x50  one publisher (a lecture) x 50 receivers
# Rounds interleave the rows and the servers (the order of both rotates each round, so neither server
# always gets the cooler machine); the table gives medians and min–max over rounds, and per row the
# staffroom/janus ratio of received packets per server CPU-second. The server is pinned to CPU 0, the
# load program (and Redis, which only carries the set-up) to the last CPU when there are 2 CPUs or more;
# the load program's own CPU share is printed so that one can see it was not the bound. Every process is
# started by the run and stopped by its PID. Each round also measures, per row, the floor under any SFU's
# CPU per forwarded packet on this machine (build/tests/bench/udp_floor: the same packets SRTP-protected
# and sent to as many loopback subscribers at the row's rate, with no SFU and nothing received), pinned
# as the server is; the table prints it beside the servers' figures (BENCH_FLOOR=0 skips it).
#
# Knobs (environment): BENCH_SERVERS ("staffroom janus"; "janus:N" is Janus with event_loops N, e.g.
# "staffroom janus janus:2" compares both Janus settings in one run), BENCH_ROUNDS (3), BENCH_ROWS
# ("5x0 10x0 25x0 1x50"), BENCH_SECONDS (10), BENCH_WARMUP (3), BENCH_QUICK=1 (rows "5x0 1x20", 5 s
# measured after 2 s: a short run on a busy machine), BENCH_PIN=0 (no taskset), JANUS_EVENT_LOOPS (0:
# Janus's default, a thread per peer connection), BENCH_SIMULCAST (1: publishers send three layers to both
# servers, and both forward f: the same work; 0: one layer), BENCH_STAFFROOM_SIMULCAST (overrides it for
# staffroom-sfu alone).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
ROUNDS=${BENCH_ROUNDS:-3}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  DEFAULT_ROWS="5x0 1x20"
  export BENCH_SECONDS=${BENCH_SECONDS:-5} BENCH_WARMUP=${BENCH_WARMUP:-2}
else
  DEFAULT_ROWS="5x0 10x0 25x0 1x50"
fi
read -r -a ROWS <<< "${BENCH_ROWS:-$DEFAULT_ROWS}"
read -r -a SERVERS <<< "${BENCH_SERVERS:-staffroom janus}"
export BENCH_SECONDS=${BENCH_SECONDS:-10} BENCH_WARMUP=${BENCH_WARMUP:-3}
export STAFFROOM_BUILD=$ROOT/build STAFFROOM_ROOT=$ROOT

[ -x build/staffroom-sfu ] || { echo "bench-sfu: build/staffroom-sfu missing (make)" >&2; exit 1; }
[ -x build/tests/tools/sfu_peer ] || { echo "bench-sfu: build/tests/tools/sfu_peer missing" >&2; exit 1; }
FLOOR=${BENCH_FLOOR:-1}
[ "$FLOOR" = 0 ] || [ -x build/tests/bench/udp_floor ] || { echo "bench-sfu: build/tests/bench/udp_floor missing (make bench-sfu)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench-sfu: node not installed" >&2; exit 1; }
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "bench-sfu: BENCH_ROUNDS must be a positive integer" >&2; exit 1 ;; esac
for s in "${SERVERS[@]}"; do
  case "$s" in
    staffroom) ;;
    janus | janus:[0-9]*)
      [ -x "${JANUS_BIN:-/usr/bin/janus}" ] || { echo "bench-sfu: janus missing (scripts/deps.sh bench)" >&2; exit 1; }
      [ -f build/tests/bench/janus_lo_shim.so ] || { echo "bench-sfu: build/tests/bench/janus_lo_shim.so missing (make bench-sfu)" >&2; exit 1; } ;;
    *) echo "bench-sfu: BENCH_SERVERS: unknown server '$s' (staffroom, janus, janus:N)" >&2; exit 1 ;;
  esac
done

NCPU=$(nproc)
DRIVER=(node tests/bench/sfu_bench.mjs)
if [ "$NCPU" -ge 2 ] && [ "${BENCH_PIN:-1}" = 1 ]; then
  export SFU_CPU=0 LOAD_CPU=$((NCPU - 1))
  DRIVER=(taskset -c "$LOAD_CPU" node tests/bench/sfu_bench.mjs)
  FLOOR_CMD=(taskset -c "$SFU_CPU" build/tests/bench/udp_floor -c "$LOAD_CPU")
  PIN_NOTE="server on CPU 0, load program, driver and Redis on CPU $LOAD_CPU"
else
  unset SFU_CPU LOAD_CPU
  FLOOR_CMD=(build/tests/bench/udp_floor)
  PIN_NOTE="not pinned ($NCPU CPU)"
fi

results=$(mktemp)
floors=$(mktemp)
trap 'rm -f "$results" "$floors"' EXIT
echo "bench-sfu: ${SERVERS[*]}; ${#ROWS[@]} rows x $ROUNDS rounds, ${BENCH_SECONDS}s measured after ${BENCH_WARMUP}s warm-up; $PIN_NOTE"
echo "bench-sfu: Janus event_loops=${JANUS_EVENT_LOOPS:-0} unless janus:N; publishers send $( [ "${BENCH_SIMULCAST:-1}" = 1 ] && echo 'simulcast f+h+q, f forwarded' || echo 'one layer') to Janus, $( [ "${BENCH_STAFFROOM_SIMULCAST:-${BENCH_SIMULCAST:-1}}" = 1 ] && echo 'simulcast f+h+q, f forwarded' || echo 'one layer') to staffroom-sfu"
echo "bench-sfu: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for ((r = 0; r < ROUNDS; r++)); do
  n=${#ROWS[@]} m=${#SERVERS[@]}
  for ((i = 0; i < n; i++)); do
    row=${ROWS[$(((i + r) % n))]}
    p=${row%x*} s=${row#*x}
    for ((j = 0; j < m; j++)); do
      server=${SERVERS[$(((j + r) % m))]}
      out=$("${DRIVER[@]}" "$server" "$p" "$s" 2>&1)
      line=$(grep '^RESULT ' <<< "$out")
      if [ -z "$line" ] || grep -q '^sfu_bench' <<< "$out"; then
        echo "bench-sfu: round $((r + 1)) $server $row failed:" >&2
        grep -v '^RESULT ' <<< "$out" | tail -20 >&2
        failed=1
        [ -z "$line" ] && continue
      fi
      line=${line#RESULT }
      echo "${line%\}},\"round\":$r}" >> "$results"
      echo "  round $((r + 1)) $server $row: $line"
    done
    if [ "$FLOOR" != 0 ]; then # P publishers at 140 packets/s each, every packet to P-1+S subscribers, ~3 s
      gap=$((1000000 / (p * 140))) fanout=$((p - 1 + s))
      if fl=$("${FLOOR_CMD[@]}" -n "$fanout" -g "$gap" -k $((3000000 / gap)) | grep '^RESULT '); then
        us=$(sed -n 's/.*us_fwd=\([0-9.]*\).*/\1/p' <<< "$fl")
        echo "{\"row\":\"$row\",\"round\":$r,\"us_fwd\":$us}" >> "$floors"
        echo "  round $((r + 1)) floor $row: $us µs per forwarded packet (kernel + SRTP, no SFU)"
      else
        echo "bench-sfu: round $((r + 1)) floor $row failed" >&2
      fi
    fi
  done
done
echo "bench-sfu: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

node - "$results" "$floors" <<'JS'
const fs = require('fs');
const floors = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse);
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse)
  .map((r) => ({ ...r, server: r.server === 'janus' ? `janus (loops ${r.event_loops})` : r.server }));
const rows = [...new Set(runs.map((r) => r.row))];
const servers = [...new Set(runs.map((r) => r.server))];
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const vals = (g, f) => g.map(f).filter((x) => x !== null && x !== undefined && !Number.isNaN(x));
const fmt = (v, d = 0) => {
  if (!v.length) return '-';
  const f = (x) => x.toFixed(d);
  return v.length > 1 ? `${f(med(v))} (${f(Math.min(...v))}–${f(Math.max(...v))})` : f(v[0]);
};
const cols = [
  ['server', (g) => g[0].server],
  ['sent', (g) => g[0].sent],
  ['row', (g) => `${g[0].publishers} pub x ${g[0].publishers - 1 + g[0].subscribers} recv`],
  ['rcv pkt/s', (g) => fmt(vals(g, (r) => r.rx_pps))],
  ['expected', (g) => String(g[0].expected_fwd_pps)],
  ['SFU-counted fwd/s', (g) => fmt(vals(g, (r) => r.fwd_pps))],
  ['CPU µs/rcvd pkt', (g) => fmt(vals(g, (r) => r.us_per_rx_pkt), 2)],
  ['rcvd pkts/CPU-s', (g) => fmt(vals(g, (r) => r.rx_per_cpu_s))],
  ['µs/pkt schedstat', (g) => fmt(vals(g, (r) => r.us_per_rx_pkt_schedstat), 2)],
  ['server CPU', (g) => fmt(vals(g, (r) => 100 * r.sfu_cpu_share)) + '%'],
  ['loss %', (g) => fmt(vals(g, (r) => r.loss_pct), 3)],
  ['lat p50 µs', (g) => fmt(vals(g, (r) => r.lat_p50_us))],
  ['lat p99 µs', (g) => fmt(vals(g, (r) => r.lat_p99_us))],
  ['RSS KiB/part.', (g) => fmt(vals(g, (r) => r.rss_kb_per_participant))],
  ['threads', (g) => fmt(vals(g, (r) => r.server_threads))],
  ['load CPU', (g) => fmt(vals(g, (r) => 100 * r.load_cpu_share)) + '%'],
  ['sent/expected', (g) => fmt(vals(g, (r) => r.sent_pps / r.sent_expected_pps), 2)],
  ['UDP buf drops/s', (g) => fmt(vals(g, (r) => r.udp_rcvbuf_drops / r.seconds))],
  ['runs', (g) => String(g.length)],
];
const table = [];
const ratios = [];
for (const row of rows) {
  for (const server of servers) {
    const g = runs.filter((r) => r.row === row && r.server === server);
    if (g.length) table.push(cols.map(([, f]) => f(g)));
  }
  const st = runs.filter((r) => r.row === row && r.server === 'staffroom');
  for (const janus of servers.filter((x) => x.startsWith('janus'))) {
    const ja = runs.filter((r) => r.row === row && r.server === janus);
    if (!st.length || !ja.length) continue;
    const m = (g, f) => med(vals(g, f));
    const perRound = [...new Set(st.map((r) => r.round))].map((k) => {
      const a = st.find((r) => r.round === k), b = ja.find((r) => r.round === k);
      return a && b && b.rx_per_cpu_s ? a.rx_per_cpu_s / b.rx_per_cpu_s : null;
    }).filter((x) => x !== null);
    const ratio = m(st, (r) => r.rx_per_cpu_s) / m(ja, (r) => r.rx_per_cpu_s);
    ratios.push(`${row}: staffroom/${janus} received packets per server CPU-second ${ratio.toFixed(2)}x ` +
      `(per round ${perRound.length ? `${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}` : '-'}; target ≥ 1.5: ${ratio >= 1.5 ? 'met' : 'NOT met'}); ` +
      `CPU µs per received packet staffroom ${m(st, (r) => r.us_per_rx_pkt).toFixed(2)} (target ≤ 8: ${m(st, (r) => r.us_per_rx_pkt) <= 8 ? 'met' : 'NOT met'}), ` +
      `janus ${m(ja, (r) => r.us_per_rx_pkt).toFixed(2)}; loss staffroom ${m(st, (r) => r.loss_pct)} %, janus ${m(ja, (r) => r.loss_pct)} %; ` +
      `latency p99 staffroom ${m(st, (r) => r.lat_p99_us)} µs, janus ${m(ja, (r) => r.lat_p99_us)} µs; RSS per participant staffroom/janus ${(m(st, (r) => r.rss_kb_per_participant) / m(ja, (r) => r.rss_kb_per_participant)).toFixed(2)}x`);
  }
}
const widths = cols.map(([h], i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log('\nrcv pkt/s: RTP packets the receivers got (the figure both servers are compared on); SFU-counted fwd/s: staffroom-sfu\'s own /metrics.');
console.log('CPU µs/rcvd pkt and rcvd pkts/CPU-s: utime+stime of the server (every thread, 10 ms ticks) over the packets the receivers got;');
console.log('µs/pkt schedstat: the same from every thread\'s run time in ns (/proc/PID/task/*/schedstat), a finer check.');
console.log('sent/expected: what the load program sent over what it should (below 1: the load program was short of CPU).');
console.log('UDP buf drops/s: the kernel\'s RcvbufErrors (machine-wide) over the window.');
console.log('Medians (min–max) over rounds; targets: staffroom ≥ 1.5x Janus packets per CPU-second, ≤ 8 µs per forwarded packet, 0 loss below saturation');
console.log(line(cols.map(([h]) => h)));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const t of table) console.log(line(t));
if (ratios.length) console.log('\n' + ratios.join('\n'));
const floorLines = rows.map((row) => {
  const f = floors.filter((x) => x.row === row).map((x) => x.us_fwd);
  const st = vals(runs.filter((r) => r.row === row && r.server === 'staffroom'), (r) => r.us_per_rx_pkt);
  return f.length ? `${row}: floor ${fmt(f, 2)} µs per forwarded packet (udp_floor: SRTP + loopback send at this row's rate, no SFU)` +
    (st.length ? `; staffroom-sfu ${fmt(st, 2)}, ${(med(st) - med(f)).toFixed(2)} µs above it` : '') : null;
}).filter(Boolean);
if (floorLines.length) console.log('\n' + floorLines.join('\n'));
const bad = runs.filter((r) => r.failed || r.gone);
if (bad.length) console.log(`peer connections dropped or failed in ${bad.length} run(s): ${bad.map((r) => `${r.server} ${r.row}`).join(', ')}`);
JS
exit $failed
