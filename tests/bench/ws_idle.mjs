// ws_idle.mjs — what idle WebSockets cost staffroom-signal: RSS per connection (fresh, and after cycles of
// connecting and leaving) and CPU while they sit idle. Figures, not pass/fail.
//
//   ulimit -n 20000   # the client side holds N sockets too
//   STAFFROOM_BUILD=$PWD/build node tests/bench/ws_idle.mjs [N=5000] [CYCLES=5] [HOLD_SECONDS=30] [-- signal args…]
//
// Starts its own redis-server and staffroom-signal (the optimised build unless STAFFROOM_BUILD says
// otherwise), opens N connections (subprotocol staffroom.v1, not signed in: this measures the transport),
// reads /proc/PID/status (VmRSS) and /proc/PID/stat (utime+stime).
import fs from 'node:fs';
import WebSocket from 'ws';
import { Harness, bin, freePort } from '../lib/harness.mjs';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const pos = dd >= 0 ? argv.slice(0, dd) : argv;
const extra = dd >= 0 ? argv.slice(dd + 1) : [];
const N = Number(pos[0] || 5000), CYCLES = Number(pos[1] || 5), HOLD = Number(pos[2] || 30);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100 per second on Linux)
};

async function openAll(url, n) {
  const socks = [];
  for (let i = 0; i < n; i += 250) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 250); k++) {
      batch.push(new Promise((resolve, reject) => {
        const ws = new WebSocket(url, 'staffroom.v1');
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      }));
    }
    socks.push(...await Promise.all(batch));
  }
  return socks;
}

async function closeAll(socks) {
  await Promise.all(socks.map((ws) => new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  })));
}

const h = new Harness('ws-idle');
try {
  const redis = await h.redis({ appendonly: false });
  const port = await freePort();
  const sig = await h.start('signal', bin('staffroom-signal'), ['--listen-port', String(port), '--redis-port', String(redis.port),
    '--web-root', 'webclient', '--log-level', 'warn', ...extra], { ready: /listening on/ });
  const pid = sig.proc.pid, url = `ws://127.0.0.1:${port}/ws`;
  await sleep(500);
  const base = rssKb(pid);
  console.log(`baseline RSS ${base} KB; ${N} connections, ${CYCLES} cycles, hold ${HOLD} s; args: ${extra.join(' ') || '(defaults)'}`);
  let socks = await openAll(url, N);
  await sleep(1000);
  const fresh = rssKb(pid);
  console.log(`fresh: ${fresh} KB with ${N} open = ${((fresh - base) * 1024 / N).toFixed(0)} B per connection`);
  const t0 = cpuTicks(pid), w0 = Date.now();
  await sleep(HOLD * 1000);
  const cpu = (cpuTicks(pid) - t0) / ((Date.now() - w0) / 1000); // ticks per second = % of a core
  console.log(`idle CPU with ${N} open over ${HOLD} s: ${cpu.toFixed(1)} % of a core`);
  for (let c = 0; c < CYCLES; c++) {
    await closeAll(socks);
    await sleep(1500);
    const gone = rssKb(pid);
    socks = await openAll(url, N);
    await sleep(1000);
    console.log(`cycle ${c + 1}: ${gone} KB after all left, ${rssKb(pid)} KB with ${N} open again`);
  }
  const again = rssKb(pid);
  console.log(`after ${CYCLES} cycles: ${again} KB with ${N} open = ${((again - base) * 1024 / N).toFixed(0)} B per connection`);
  await closeAll(socks);
  await sleep(2500);
  console.log(`after ${CYCLES} cycles, all left: ${rssKb(pid)} KB (baseline ${base} KB)`);
  await sleep(11000); // the server may hand freed memory back to the system on its next pass
  console.log(`11 s later: ${rssKb(pid)} KB`);
} finally {
  await h.close();
}
