#!/usr/bin/env bash
# bench-sfu.sh — staffroom-sfu under synthetic WebRTC load (run by `make bench-sfu`; method in
# tests/bench/README.md, "bench-sfu").
#
# Each run (tests/bench/sfu_bench.mjs) starts a fresh Redis and an optimised staffroom-sfu, and one
# build/tests/tools/sfu_peer process playing every participant of one room (libnice + DTLS + SRTP each, as
# a browser has): P publishers — Opus-sized packets every 20 ms and 3 × 1000-byte VP8 packets per frame at
# 30 fps, 140 packets/s each — who also receive each other, and S participants who only receive. After a
# warm-up it measures BENCH_SECONDS and prints a RESULT line. Rows (BENCH_ROWS, "PxS"):
#   5x0   a room of 5, everyone publishing: 5 publishers x 4 receivers
#   10x0  a room of 10: 10 x 9
#   25x0  a room of 25 (the room maximum): 25 x 24
#   1x50  one publisher (a lecture) x 50 receivers
# Rounds interleave the rows (the order rotates each round); the table gives medians and min–max over
# rounds. The SFU is pinned to CPU 0, the load program (and Redis, which only carries the set-up) to CPU 1
# when there are 2 CPUs or more; the load program's own CPU share is printed so that one can see it was
# not the bound. Every process is started by the run and stopped by its PID.
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_ROWS ("5x0 10x0 25x0 1x50"), BENCH_SECONDS (10),
# BENCH_WARMUP (3), BENCH_PIN=0 (no taskset).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
ROUNDS=${BENCH_ROUNDS:-3}
read -r -a ROWS <<< "${BENCH_ROWS:-5x0 10x0 25x0 1x50}"
export BENCH_SECONDS=${BENCH_SECONDS:-10} BENCH_WARMUP=${BENCH_WARMUP:-3}
export STAFFROOM_BUILD=$ROOT/build STAFFROOM_ROOT=$ROOT

[ -x build/staffroom-sfu ] || { echo "bench-sfu: build/staffroom-sfu missing (make)" >&2; exit 1; }
[ -x build/tests/tools/sfu_peer ] || { echo "bench-sfu: build/tests/tools/sfu_peer missing" >&2; exit 1; }
command -v node >/dev/null || { echo "bench-sfu: node not installed" >&2; exit 1; }
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "bench-sfu: BENCH_ROUNDS must be a positive integer" >&2; exit 1 ;; esac

NCPU=$(nproc)
DRIVER=(node tests/bench/sfu_bench.mjs)
if [ "$NCPU" -ge 2 ] && [ "${BENCH_PIN:-1}" = 1 ]; then
  export SFU_CPU=0 LOAD_CPU=$((NCPU - 1))
  DRIVER=(taskset -c "$LOAD_CPU" node tests/bench/sfu_bench.mjs)
  PIN_NOTE="SFU on CPU 0, load program, driver and Redis on CPU $LOAD_CPU"
else
  unset SFU_CPU LOAD_CPU
  PIN_NOTE="not pinned ($NCPU CPU)"
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "bench-sfu: ${#ROWS[@]} rows x $ROUNDS rounds, ${BENCH_SECONDS}s measured after ${BENCH_WARMUP}s warm-up; $PIN_NOTE"
echo "bench-sfu: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for ((r = 0; r < ROUNDS; r++)); do
  n=${#ROWS[@]}
  for ((i = 0; i < n; i++)); do
    row=${ROWS[$(((i + r) % n))]}
    p=${row%x*} s=${row#*x}
    out=$("${DRIVER[@]}" "$p" "$s" 2>&1)
    line=$(grep '^RESULT ' <<< "$out")
    if [ -z "$line" ]; then
      echo "bench-sfu: round $((r + 1)) row $row failed:" >&2
      tail -20 <<< "$out" >&2
      failed=1
      continue
    fi
    echo "${line#RESULT }" >> "$results"
    echo "  round $((r + 1)) $row: ${line#RESULT }"
  done
done
echo "bench-sfu: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

node - "$results" <<'JS'
const fs = require('fs');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse);
const rows = [...new Set(runs.map((r) => r.row))];
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const fmt = (vals, d = 0) => {
  const v = vals.filter((x) => x !== null && x !== undefined);
  if (!v.length) return '-';
  const f = (x) => x.toFixed(d);
  return v.length > 1 ? `${f(med(v))} (${f(Math.min(...v))}–${f(Math.max(...v))})` : f(v[0]);
};
const cols = [
  ['row', (g) => `${g[0].publishers} pub x ${g[0].publishers - 1 + g[0].subscribers} recv`],
  ['fwd pkt/s (SFU)', (g) => fmt(g.map((r) => r.fwd_pps))],
  ['expected', (g) => String(g[0].expected_fwd_pps)],
  ['rcv pkt/s', (g) => fmt(g.map((r) => r.rx_pps))],
  ['SFU µs/pkt', (g) => fmt(g.map((r) => r.us_per_pkt), 2)],
  ['µs/rcvd pkt', (g) => fmt(g.map((r) => r.us_per_rx_pkt), 2)],
  ['SFU CPU', (g) => fmt(g.map((r) => 100 * r.sfu_cpu_share)) + '%'],
  ['loss %', (g) => fmt(g.map((r) => r.loss_pct), 3)],
  ['lat p50 µs', (g) => fmt(g.map((r) => r.lat_p50_us))],
  ['lat p99 µs', (g) => fmt(g.map((r) => r.lat_p99_us))],
  ['RSS KiB/part.', (g) => fmt(g.map((r) => r.rss_kb_per_participant))],
  ['load CPU', (g) => fmt(g.map((r) => 100 * r.load_cpu_share)) + '%'],
  ['sent/expected', (g) => fmt(g.map((r) => r.sent_pps / (140 * r.publishers)), 2)],
  ['SFU in/sent', (g) => fmt(g.map((r) => r.sfu_in_pps / r.sent_pps), 2)],
  ['UDP buf drops/s', (g) => fmt(g.map((r) => r.udp_rcvbuf_drops / r.seconds))],
  ['runs', (g) => String(g.length)],
];
const table = rows.map((row) => { const g = runs.filter((r) => r.row === row); return cols.map(([, f]) => f(g)); });
const widths = cols.map(([h], i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log('\nSFU µs/pkt: SFU CPU over the packets its /metrics counted forwarded; µs/rcvd pkt: over the packets the receivers got.');
console.log('sent/expected: what the load program sent over 140 packets/s per publisher (below 1: the load program was short of CPU).');
console.log('SFU in/sent: packets the SFU received over those sent (below 1: lost in the SFU\'s receive buffer, the SFU short of CPU);');
console.log('UDP buf drops/s: the kernel\'s RcvbufErrors (machine-wide) over the window.');
console.log('staffroom-sfu, medians (min–max) over rounds; targets: ≤ 8 µs SFU CPU per forwarded packet, 0 loss below saturation, 25 publishers served');
console.log(line(cols.map(([h]) => h)));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const t of table) console.log(line(t));
const bad = runs.filter((r) => r.failed || r.gone);
if (bad.length) console.log(`participants dropped or failed in ${bad.length} run(s): ${bad.map((r) => r.row).join(' ')}`);
JS
exit $failed
