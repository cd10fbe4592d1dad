// sfu_bench.mjs — one run of `make bench-sfu` (tests/bench/bench-sfu.sh interleaves the runs and prints
// the table): a fresh Redis and staffroom-sfu, one sfu_peer process playing P publishers (who also receive
// each other, as in a room where everyone has a camera) and S participants who only receive, all in one
// room, synthetic RTP (Opus-sized packets every 20 ms, VP8 frames of 3 × 1000-byte packets at 30 fps).
//
//   node tests/bench/sfu_bench.mjs PUBLISHERS SUBSCRIBERS
//   env: BENCH_SECONDS (10), BENCH_WARMUP (3), SFU_CPU / LOAD_CPU (taskset lists, unset: no pinning),
//        STAFFROOM_BUILD (the optimised build/, set by bench-sfu.sh)
//
// The control path is the SFU's Redis channel, spoken as a signal node speaks it (tests/tools/sfu_peer.mjs
// bridgeRedis): a signal node adds nothing to the packet path being measured and would be one more
// process competing for the 2 CPUs. The integration test (tests/integration/sfu_client.test.mjs) takes
// the full path through staffroom-signal.
//
// Prints one line: RESULT {json} with, over the measured window: forwarded packets/s (the SFU's /metrics
// and the receivers' count), SFU CPU µs per forwarded packet (utime+stime from /proc/<pid>/stat), loss by
// sequence, one-way latency p50/p99 (send and receive on the same CLOCK_MONOTONIC), SFU RSS per
// participant (VmRSS with everyone in, minus before anyone came), the load program's CPU share.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Harness, eventually } from '../lib/harness.mjs';
import { startSfu } from '../lib/sfu.mjs';
import { startPeer, bridgeRedis, peerBin } from '../tools/sfu_peer.mjs';

const P = Number(process.argv[2] || 5);
const S = Number(process.argv[3] || 0);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const WARMUP = Number(process.env.BENCH_WARMUP || 3);
const TICK = 100; // clock ticks per second (USER_HZ on Linux)

const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
};
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
// The kernel's count of UDP datagrams dropped because a receive buffer was full (machine-wide).
const rcvbufErrors = () => {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values[names.indexOf('RcvbufErrors')]);
};
const pin = (cpus, pid) => { if (cpus) execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' }); };

const h = new Harness(`bench-sfu-${P}x${S}`);
let status = 1;
try {
  const redis = await h.redis({ appendonly: false });
  pin(process.env.LOAD_CPU, redis.proc.pid);
  const n = P + S;
  const sfu = await startSfu(h, { redisPort: redis.port, logLevel: 'warn', mediaPorts: null,
    args: ['--room-max-participants', String(n + 1), '--capacity', String(n + 10)] });
  const sfuPid = sfu.rec.proc.pid;
  pin(process.env.SFU_CPU, sfuPid);
  const rss0 = rssKb(sfuPid);
  const peer = await startPeer(h, { label: 'load', file: process.env.LOAD_CPU ? 'taskset' : peerBin(),
    args: [...(process.env.LOAD_CPU ? ['-c', process.env.LOAD_CPU, peerBin()] : []),
      '--count', String(n), '--publishers', String(P), '--publish', 'synthetic'] });
  const bridge = await bridgeRedis(peer, { redisPort: redis.port, sfuId: sfu.id, node: 'bench', room: `bench${P}x${S}`, count: n });
  const ups = new Set();
  peer.on((m) => { if (m.op === 'up') ups.add(m.k); });
  await eventually(() => ups.size === n, { timeoutMs: 30000, what: `${n} participants up (${ups.size})` });
  // Everyone subscribed to every publisher: each participant answered the SFU's offers.
  await eventually(async () => (await sfu.metrics()).staffroom_sfu_participants === n, { timeoutMs: 10000, what: 'participants' });
  peer.start();
  await new Promise((r) => setTimeout(r, WARMUP * 1000)); // warm-up: a measured duration, not a wait for an event
  const m0 = await sfu.metrics();
  const c0 = cpuTicks(sfuPid), l0 = cpuTicks(peer.pid), t0 = process.hrtime.bigint(), e0 = rcvbufErrors();
  peer.mark();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const rep = await peer.report();
  const m1 = await sfu.metrics();
  const c1 = cpuTicks(sfuPid), l1 = cpuTicks(peer.pid), e1 = rcvbufErrors();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss1 = rssKb(sfuPid);
  const fwd = m1.staffroom_sfu_forwarded_packets_total - m0.staffroom_sfu_forwarded_packets_total;
  const sfuCpuS = (c1 - c0) / TICK, loadCpuS = (l1 - l0) / TICK;
  const pps = 50 + 30 * 3; // per publisher
  const result = {
    row: `${P}x${S}`, publishers: P, subscribers: S, participants: n, seconds: +secs.toFixed(2),
    expected_fwd_pps: P * (P - 1 + S) * pps, sent_pps: Math.round(rep.tx_packets / rep.seconds),
    sfu_in_pps: Math.round((m1.staffroom_sfu_rtp_received_total - m0.staffroom_sfu_rtp_received_total) / secs),
    fwd_pps: Math.round(fwd / secs), rx_pps: Math.round(rep.rx_packets / rep.seconds),
    sfu_cpu_share: +(sfuCpuS / secs).toFixed(3), us_per_pkt: fwd ? +(sfuCpuS * 1e6 / fwd).toFixed(2) : null,
    us_per_rx_pkt: rep.rx_packets ? +(sfuCpuS * 1e6 / rep.rx_packets).toFixed(2) : null,
    lost: rep.lost, expected: rep.expected, loss_pct: rep.expected ? +(100 * rep.lost / rep.expected).toFixed(3) : null,
    udp_rcvbuf_drops: e1 - e0, lat_p50_us: rep.lat_p50_us, lat_p99_us: rep.lat_p99_us,
    rss_kb_per_participant: Math.round((rss1 - rss0) / n), load_cpu_share: +(loadCpuS / secs).toFixed(3),
    up: rep.up, failed: rep.failed, gone: bridge.states.filter((s) => s.gone).length,
    errors: bridge.states.reduce((a, s) => a + s.errors.length, 0),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  peer.send('quit');
  bridge.close();
  status = result.failed || !fwd ? 1 : 0;
} catch (e) {
  console.error(`sfu_bench ${P}x${S}: ${e.stack || e}`);
} finally {
  await h.close();
}
process.exit(status);
