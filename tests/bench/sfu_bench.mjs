// sfu_bench.mjs — one run of `make bench-sfu` (tests/bench/bench-sfu.sh interleaves the runs and prints
// the table): one server (staffroom-sfu with a fresh Redis, or Janus 1.1.2's VideoRoom), one sfu_peer
// process playing P publishers (who also receive each other, as in a room where everyone has a camera)
// and S participants who only receive, all in one room, synthetic RTP (Opus-sized packets every 20 ms,
// VP8 frames of 3 × 1000-byte packets at 30 fps; with simulcast also the h and q layers).
//
//   node tests/bench/sfu_bench.mjs [staffroom|janus|janus:N] PUBLISHERS SUBSCRIBERS   (janus:N: event_loops N)
//   env: BENCH_SECONDS (10), BENCH_WARMUP (3), SFU_CPU / LOAD_CPU (taskset lists, unset: no pinning),
//        STAFFROOM_BUILD (the optimised build/, set by bench-sfu.sh),
//        BENCH_SIMULCAST (1: every publisher sends three layers, f + h + q, and each subscriber gets f from
//          either server, which both choose: Janus by the harness's "substream" request, staffroom-sfu by its
//          own estimate and the tile size, checked below from what arrived; 0: one layer to both servers),
//        BENCH_STAFFROOM_SIMULCAST (overrides BENCH_SIMULCAST for staffroom-sfu alone, e.g. 0),
//        JANUS_EVENT_LOOPS (0: Janus's default, a thread per peer connection; N: N shared loops)
//
// Staffroom: the control path is the SFU's Redis channel, spoken as a signal node speaks it
// (tests/tools/sfu_peer.mjs bridgeRedis): a signal node adds nothing to the packet path being measured and
// would be one more process competing for the 2 CPUs. Each participant is one peer connection that
// publishes and receives. Janus: the VideoRoom API over its WebSocket (tests/bench/janus.mjs); as in every
// Janus application, a participant who publishes and receives has two peer connections (a publisher
// handle that offers, a subscriber handle that answers Janus's offer for every other feed), so sfu_peer
// runs with --subscribers-answer and P + (P + S) peer connections.
//
// Prints one line: RESULT {json} with, over the measured window: packets/s the receivers got (and, for
// staffroom, what its /metrics counted forwarded), server CPU µs per received packet and received packets
// per server CPU-second (utime+stime of every thread, /proc/<pid>/stat, in 10 ms ticks; and, finer, every
// thread's run time in ns from /proc/<pid>/task/*/schedstat as a check), loss by sequence, one-way latency
// p50/p99 (send and receive on the same CLOCK_MONOTONIC), server RSS per participant (VmRSS with everyone
// in, minus before anyone came, over P + S), the load program's CPU share, and which layers arrived.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Harness, eventually } from '../lib/harness.mjs';
import { startSfu } from '../lib/sfu.mjs';
import { startPeer, bridgeRedis, peerBin } from '../tools/sfu_peer.mjs';
import { startJanus, janusRoom } from './janus.mjs';

const argv = process.argv.slice(2);
// "janus:N" is Janus with event_loops = N (JANUS_EVENT_LOOPS otherwise).
const SPEC = /^\d/.test(argv[0] || '') ? 'staffroom' : (argv.shift() || 'staffroom');
const [SERVER, LOOPS_ARG] = SPEC.split(':');
const P = Number(argv[0] || 5);
const S = Number(argv[1] || 0);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const WARMUP = Number(process.env.BENCH_WARMUP || 3);
const SIMULCAST = (SERVER === 'staffroom' ? process.env.BENCH_STAFFROOM_SIMULCAST ?? process.env.BENCH_SIMULCAST
  : process.env.BENCH_SIMULCAST) !== '0';
const EVENT_LOOPS = Number(LOOPS_ARG ?? process.env.JANUS_EVENT_LOOPS ?? 0);
const SUBSTREAM = 2; // Janus's highest layer, f: the one staffroom-sfu forwards (checked below from the trailers)
const TICK = 100; // clock ticks per second (USER_HZ on Linux)
if (!['staffroom', 'janus'].includes(SERVER) || !(P >= 1) || !(S >= 0) || !(EVENT_LOOPS >= 0) ||
  (LOOPS_ARG !== undefined && SERVER !== 'janus')) {
  console.error('usage: sfu_bench.mjs [staffroom|janus|janus:EVENT_LOOPS] PUBLISHERS SUBSCRIBERS');
  process.exit(2);
}

const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15) of the whole thread group
};
// CPU time in ns of every thread of the process (sum_exec_runtime of /proc/<pid>/task/*/schedstat), a check
// on utime+stime, which moves in 10 ms ticks: coarse for a server that uses 0.2 s of CPU in a short window.
// A thread that ends inside the window takes its time with it; both servers keep theirs.
const cpuNs = (pid) => {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
  }
  return ns;
};
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const threads = (pid) => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
// The kernel's count of UDP datagrams dropped because a receive buffer was full (machine-wide).
const rcvbufErrors = () => {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values[names.indexOf('RcvbufErrors')]);
};
const pin = (cpus, pid) => { if (cpus) execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' }); };

function loadProgram(h, count, extra) {
  const args = ['--count', String(count), '--publishers', String(P), '--publish', 'synthetic', ...extra,
    // The a=simulcast order: Janus reads the first rid as the highest layer, staffroom-sfu (as Chromium lists
    // the web client's encodings) the first as the lowest; each is told in its own order, so that both
    // forward f.
    ...(SIMULCAST ? ['--simulcast', '--rids', SERVER === 'janus' ? 'f;h;q' : 'q;h;f'] : [])];
  return startPeer(h, { label: 'load', file: process.env.LOAD_CPU ? 'taskset' : peerBin(),
    args: [...(process.env.LOAD_CPU ? ['-c', process.env.LOAD_CPU, peerBin()] : []), ...args] });
}

// Brings everyone in; returns { pid, peer, rss0, metrics (staffroom only), fails () → errors, close }.
async function staffroom(h) {
  const redis = await h.redis({ appendonly: false });
  pin(process.env.LOAD_CPU, redis.proc.pid);
  const n = P + S;
  const sfu = await startSfu(h, { redisPort: redis.port, logLevel: process.env.BENCH_SFU_LOG || 'warn', mediaPorts: null,
    args: ['--room-max-participants', String(n + 1), '--capacity', String(n + 10)] });
  const pid = sfu.rec.proc.pid;
  pin(process.env.SFU_CPU, pid);
  const rss0 = rssKb(pid);
  const peer = await loadProgram(h, n, []);
  const bridge = await bridgeRedis(peer, { redisPort: redis.port, sfuId: sfu.id, node: 'bench', room: `bench${P}x${S}`, count: n });
  const ups = new Set();
  peer.on((m) => { if (m.op === 'up') ups.add(m.k); });
  await eventually(() => ups.size === n, { timeoutMs: 30000, what: `${n} participants up (${ups.size})` });
  // Everyone subscribed to every publisher: each participant answered the SFU's offers.
  await eventually(async () => (await sfu.metrics()).staffroom_sfu_participants === n, { timeoutMs: 10000, what: 'participants' });
  return { pid, peer, rss0, pcs: n, metrics: () => sfu.metrics(),
    gone: () => bridge.states.filter((s) => s.gone).length,
    errors: () => bridge.states.reduce((a, s) => a + s.errors.length, 0), close: () => bridge.close() };
}

async function janus(h) {
  const j = await startJanus(h, { cpu: process.env.SFU_CPU, eventLoops: EVENT_LOOPS });
  const rss0 = rssKb(j.pid);
  const pcs = P + P + S;
  const peer = await loadProgram(h, pcs, ['--subscribers-answer']);
  const all = Array.from({ length: P }, (_, f) => f);
  // Publisher i receives on peer connection P + i every feed but its own; the S others get every feed.
  const receivers = Array.from({ length: P + S }, (_, i) => ({ k: P + i, feeds: i < P ? all.filter((f) => f !== i) : all }))
    .filter((r) => r.feeds.length);
  const ups = new Set();
  peer.on((m) => { if (m.op === 'up') ups.add(m.k); });
  const room = await janusRoom(j, { peer, publishers: P, receivers, substream: SUBSTREAM });
  const want = P + receivers.length;
  await eventually(() => ups.size === want, { timeoutMs: 30000, what: `${want} peer connections up (${ups.size})` });
  return { pid: j.pid, peer, rss0, pcs: want, metrics: null, threads: () => threads(j.pid),
    gone: () => room.states.filter((s) => s.errors.some((e) => /hangup|detached/.test(e))).length,
    errors: () => room.states.reduce((a, s) => a + s.errors.length, 0), close: () => room.close() };
}

const h = new Harness(`bench-sfu-${SERVER}-${P}x${S}`);
let status = 1;
try {
  const run = SERVER === 'janus' ? await janus(h) : await staffroom(h);
  const { pid, peer, rss0 } = run;
  const profiles = [...new Set(peer.messages.filter((m) => m.op === 'up').map((m) => m.profile))];
  peer.start();
  await new Promise((r) => setTimeout(r, WARMUP * 1000)); // warm-up: a measured duration, not a wait for an event
  const m0 = run.metrics ? await run.metrics() : null;
  const c0 = cpuTicks(pid), n0 = cpuNs(pid), l0 = cpuTicks(peer.pid), t0 = process.hrtime.bigint(), e0 = rcvbufErrors();
  peer.mark();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const rep = await peer.report();
  const m1 = run.metrics ? await run.metrics() : null;
  const c1 = cpuTicks(pid), n1 = cpuNs(pid), l1 = cpuTicks(peer.pid), e1 = rcvbufErrors();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss1 = rssKb(pid);
  const fwd = m1 ? m1.staffroom_sfu_forwarded_packets_total - m0.staffroom_sfu_forwarded_packets_total : null;
  const cpuS = (c1 - c0) / TICK, nsCpuS = (n1 - n0) / 1e9, loadCpuS = (l1 - l0) / TICK;
  const layerPps = 50 + 30 * 3; // per publisher, on the forwarded layer (f)
  const sentPerPub = SIMULCAST ? 50 + 30 * (3 + 2 + 1) : layerPps;
  const result = {
    server: SERVER, row: `${P}x${S}`, publishers: P, subscribers: S, participants: P + S, peer_connections: run.pcs,
    sent: SIMULCAST ? 'simulcast f+h+q, f forwarded' : 'one layer', event_loops: SERVER === 'janus' ? EVENT_LOOPS : null,
    seconds: +secs.toFixed(2), expected_fwd_pps: P * (P - 1 + S) * layerPps,
    sent_pps: Math.round(rep.tx_packets / rep.seconds), sent_expected_pps: P * sentPerPub,
    sfu_in_pps: m1 ? Math.round((m1.staffroom_sfu_rtp_received_total - m0.staffroom_sfu_rtp_received_total) / secs) : null,
    fwd_pps: fwd !== null ? Math.round(fwd / secs) : null, rx_pps: Math.round(rep.rx_packets / rep.seconds),
    sfu_cpu_share: +(cpuS / secs).toFixed(3), cpu_s: +cpuS.toFixed(2), cpu_s_schedstat: +nsCpuS.toFixed(4),
    us_per_pkt: fwd ? +(cpuS * 1e6 / fwd).toFixed(2) : null,
    us_per_rx_pkt: rep.rx_packets ? +(cpuS * 1e6 / rep.rx_packets).toFixed(2) : null,
    us_per_rx_pkt_schedstat: rep.rx_packets ? +(nsCpuS * 1e6 / rep.rx_packets).toFixed(2) : null,
    rx_per_cpu_s: cpuS ? Math.round(rep.rx_packets / cpuS) : null,
    lost: rep.lost, expected: rep.expected, loss_pct: rep.expected ? +(100 * rep.lost / rep.expected).toFixed(3) : null,
    udp_rcvbuf_drops: e1 - e0, lat_p50_us: rep.lat_p50_us, lat_p99_us: rep.lat_p99_us,
    rss_kb_per_participant: Math.round((rss1 - rss0) / (P + S)), load_cpu_share: +(loadCpuS / secs).toFixed(3),
    rx_streams: rep.rx_streams, srtp: profiles.join(','), server_threads: run.threads ? run.threads() : threads(pid),
    up: rep.up, failed: rep.failed, gone: run.gone(), errors: run.errors(),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  peer.send('quit');
  run.close();
  // The forwarded layer must be the full one, or the two servers did different work.
  const wrongLayer = rep.rx_streams.h + rep.rx_streams.q > rep.rx_streams.f / 100;
  if (wrongLayer) console.error(`sfu_bench: receivers got layers ${JSON.stringify(rep.rx_streams)}, not only f`);
  status = result.failed || !rep.rx_packets || wrongLayer ? 1 : 0;
} catch (e) {
  console.error(`sfu_bench ${SERVER} ${P}x${S}: ${e.stack || e}`);
} finally {
  await h.close();
}
process.exit(status);
