// record_bench.mjs — what recording costs the SFU: a fresh Redis and staffroom-sfu (the optimised build/),
// one sfu_peer process playing P publishers in one room (synthetic RTP: Opus-sized packets every 20 ms, VP8
// frames of 3 × 1000-byte packets at 30 fps — about 0.8 Mbit/s each), spoken to over the SFU's Redis channel
// as a signal node does (tests/tools/sfu_peer.mjs bridgeRedis).
//   1. BENCH_SECONDS forwarding only: the SFU's CPU (utime+stime, /proc/<pid>/stat, all its threads).
//   2. record.start for every publisher, BENCH_SECONDS again: the SFU's CPU with the recorder and its writer
//      thread at work.
//   3. record.stop: the time until the recorded event (every file closed), as the SFU reports it
//      (finalize_ms) and as the node sees it.
// Prints RESULT {json}: CPU % of one core per recorded participant (2 minus 1, divided by P), bytes written
// per participant-second, finalize times. Run it a few times: `node tests/bench/record_bench.mjs P`.
//   env: BENCH_SECONDS (15), STAFFROOM_BUILD (default: the optimised build/)
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually, ROOT } from '../lib/harness.mjs';
import { startSfu, sfuNode, sfuCommand } from '../lib/sfu.mjs';
import { startPeer, bridgeRedis, peerBin } from '../tools/sfu_peer.mjs';

const P = Number(process.argv[2] || 4);
const SECONDS = Number(process.env.BENCH_SECONDS || 15);
const cpuTicks = (pid) => {
  const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dirBytes = (d) => fs.readdirSync(d).reduce((n, f) => n + fs.statSync(path.join(d, f)).size, 0);

const h = new Harness(`bench-record-${P}`);
let status = 1;
try {
  const redis = await h.redis({ appendonly: false });
  const recDir = path.join(h.dir, 'recordings');
  fs.mkdirSync(recDir);
  const sfu = await startSfu(h, { redisPort: redis.port, logLevel: 'warn', mediaPorts: null,
    args: ['--recordings-dir', recDir, '--room-max-participants', String(P + 1)] });
  const pid = sfu.rec.proc.pid;
  const peer = await startPeer(h, { label: 'load', file: peerBin(), args: ['--count', String(P), '--publishers', String(P), '--publish', 'synthetic'] });
  const room = `rec${P}`;
  const bridge = await bridgeRedis(peer, { redisPort: redis.port, sfuId: sfu.id, node: 'bench', room, count: P });
  const ups = new Set();
  peer.on((m) => { if (m.op === 'up') ups.add(m.k); });
  await eventually(() => ups.size === P, { timeoutMs: 30000, what: `${P} publishers up` });
  peer.start();
  await sleep(3000);

  let t = cpuTicks(pid);
  await sleep(SECONDS * 1000);
  const forwarding = (cpuTicks(pid) - t) / SECONDS; // ticks per second = % of a core

  const node = await sfuNode(redis.port, 'benchrec');
  await sfuCommand(redis.port, sfu.id, { op: 'record.start', tx: 1, room, node: 'benchrec', name: 'bench',
    pids: bridge.states.map((s) => s.pid) });
  const ok = await node.next((m) => m.tx === 1);
  if (ok.op !== 'ok') throw new Error(`record.start: ${JSON.stringify(ok)}`);
  await sleep(1000); // the first keyframes
  t = cpuTicks(pid);
  await sleep(SECONDS * 1000);
  const recording = (cpuTicks(pid) - t) / SECONDS;
  const t0 = Date.now();
  await sfuCommand(redis.port, sfu.id, { op: 'record.stop', tx: 2, room, node: 'benchrec' });
  const rec = await node.next((m) => m.op === 'recorded', 30000);
  const seen = Date.now() - t0;
  node.close();
  const bytes = dirBytes(path.join(recDir, 'bench'));
  const recordedSeconds = rec.duration_ms / 1000;
  const result = {
    publishers: P, seconds: SECONDS, forwarding_cpu_pct: forwarding, recording_cpu_pct: recording,
    cpu_pct_per_recorded_participant: Number(((recording - forwarding) / P).toFixed(2)),
    files: rec.files.length, frames_dropped: rec.files.reduce((n, f) => n + f.dropped, 0) + rec.dropped,
    bytes_per_participant_second: Math.round(bytes / P / recordedSeconds),
    finalize_ms: rec.finalize_ms, stop_to_recorded_event_ms: seen,
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  bridge.close();
  status = 0;
} catch (err) {
  console.error(err);
} finally {
  await h.close();
  process.exit(status);
}
