// sentinel.test.mjs — Redis with Sentinel under two staffroom-signal nodes (issue 12): a master, a replica
// and three Sentinels (Debian's redis-server; redis-sentinel, or redis-server --sentinel), all started here
// on loopback ports. Clients on both nodes chat without pause while
//   1. the master is killed (SIGKILL): the replica is promoted, both nodes follow it;
//   2. the new master is paused (SIGSTOP), later resumed (SIGCONT): promoted again, followed again.
// The nodes run with chat-wait-replicas 1, so a message is acknowledged only once a replica has it:
// every message acknowledged ok must be in chat.history afterwards (counted). Requests during a switch
// answer `unavailable` — never another error, never a hang — and the clients keep their connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Harness, eventually, freePort } from '../lib/harness.mjs';
import { startNode, redisCommand, connect, registerUser, uniqueName } from '../lib/client.mjs';
import { SIGNIN, redisReady, newAdmin, createCircle, joinAndWait } from '../lib/community.mjs';

const MASTER = 'staffroom';
const REDIS_TIMEOUT_MS = 2000;
const HANG_MS = 8000; // no request may take longer than this, switch or not
let h;
const ports = {};
const procs = {};

function sentinelCommand() {
  try {
    execFileSync('sh', ['-c', 'command -v redis-sentinel'], { stdio: 'ignore' });
    return { file: 'redis-sentinel', extra: [] };
  } catch {
    return { file: 'redis-server', extra: ['--sentinel'] }; // the same program, in Sentinel mode
  }
}

async function startRedis(label, port, replicaOf) {
  const dir = path.join(h.dir, label);
  fs.mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--protected-mode', 'no', '--repl-diskless-sync-delay', '0'];
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  return h.start(label, 'redis-server', args, { ready: /Ready to accept connections/ });
}

async function startSentinel(i, masterPort) {
  const port = await freePort();
  const dir = path.join(h.dir, `sentinel${i}`);
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', 'protected-mode no', `dir ${dir}`,
    `sentinel monitor ${MASTER} 127.0.0.1 ${masterPort} 2`,
    // 2 s, not 1: a Sentinel pings once a second, so at 1 s a master just promoted could be judged down
    // before its first answer arrived and a second failover followed at once (seen on a loaded machine).
    `sentinel down-after-milliseconds ${MASTER} 2000`,
    `sentinel failover-timeout ${MASTER} 4000`,
    `sentinel parallel-syncs ${MASTER} 1`, '',
  ].join('\n'));
  const { file, extra } = sentinelCommand();
  const rec = await h.start(`sentinel${i}`, file, [conf, ...extra], { ready: /Sentinel ID is/ });
  rec.port = port;
  return rec;
}

const sentinelSays = async (port) => {
  const r = await redisCommand(port, ['SENTINEL', 'get-master-addr-by-name', MASTER]);
  return Number(r[1]);
};

// The replica has finished its sync with the master, and every Sentinel knows the two others and that
// replica: a failover can be authorised, and would promote a replica that has the data.
async function sentinelsReady(expectReplicaPort) {
  await eventually(async () => {
    const info = await redisCommand(expectReplicaPort, ['INFO', 'replication']);
    if (!/master_link_status:up/.test(info)) return false;
    for (const s of procs.sentinels) {
      const others = await redisCommand(s.port, ['SENTINEL', 'sentinels', MASTER]);
      const replicas = await redisCommand(s.port, ['SENTINEL', 'replicas', MASTER]);
      const ok = replicas.some((flat) => {
        const o = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
        return Number(o.port) === expectReplicaPort && !/s_down|o_down|disconnected/.test(o.flags);
      });
      if (others.length !== 2 || !ok) return false;
    }
    return true;
  }, { what: 'Sentinels that know each other and the replica', timeoutMs: 30000, everyMs: 200 });
}

before(async () => {
  h = new Harness('sentinel');
  ports.a = await freePort();
  ports.b = await freePort();
  procs.a = await startRedis('redis-a', ports.a);
  procs.b = await startRedis('redis-b', ports.b, ports.a);
  procs.sentinels = [];
  for (let i = 0; i < 3; i++) procs.sentinels.push(await startSentinel(i, ports.a));
  await sentinelsReady(ports.b);
});
after(async () => {
  for (const p of [procs.a, procs.b]) if (p && !p.exited) p.proc.kill('SIGCONT');
  await h.close();
});

// One client sending chat messages back to back until stopped; every answer is recorded.
function sender(client, channel, tag) {
  const s = { acked: [], codes: {}, maxMs: 0, sent: 0, stop: false };
  s.done = (async () => {
    for (let i = 0; !s.stop; i++) {
      const text = `${tag}-${i}`;
      const t0 = Date.now();
      const r = await client.request('chat.send', { channel, text }, HANG_MS + 5000);
      s.maxMs = Math.max(s.maxMs, Date.now() - t0);
      s.sent++;
      if (r.type === 'ok') s.acked.push(text);
      else {
        s.codes[r.code] = (s.codes[r.code] || 0) + 1;
        await new Promise((res) => setTimeout(res, 50)); // a client's retry pause
      }
    }
  })();
  return s;
}

// Waits until every sender has `n` more acknowledged messages than it had.
async function moreAcks(senders, n, what) {
  const base = senders.map((s) => s.acked.length);
  await eventually(() => senders.every((s, i) => s.acked.length >= base[i] + n), { what, timeoutMs: 40000, everyMs: 50 });
}

async function history(client, channel) {
  const texts = [];
  let after = '0-0'; // from the start, oldest first
  for (;;) {
    const r = await client.ok('chat.history', { channel, limit: 100, after });
    for (const m of r.messages) texts.push(m.text);
    if (!r.has_more || !r.messages.length) break;
    after = r.messages[r.messages.length - 1].id;
  }
  return texts;
}

test('a failover (SIGKILL, then SIGSTOP/SIGCONT of the master) loses no acknowledged message; requests answer unavailable meanwhile, never hang', async () => {
  const sentinels = procs.sentinels.map((s) => `127.0.0.1:${s.port}`);
  const args = [...SIGNIN, ...sentinels.flatMap((a) => ['--redis-sentinel', a]), '--redis-master-name', MASTER,
    '--chat-wait-replicas', '1', '--chat-wait-timeout', '500',
    '--redis-timeout', String(REDIS_TIMEOUT_MS), '--redis-ping-interval', '300', '--message-rate', '1000000', '--message-burst', '100000'];
  // --redis-host/--redis-port point at a port where nothing listens: the Sentinels are the only way in.
  const nowhere = await freePort();
  const n0 = await redisReady(await startNode(h, { redisPort: nowhere, label: 'signal0', args }));
  const n1 = await redisReady(await startNode(h, { redisPort: nowhere, label: 'signal1', args }));

  const admin = await newAdmin({ redisPort: ports.a, wsUrl: n0.wsUrl });
  const { circle, channels } = await createCircle(admin);
  const channel = channels[0].id;
  const users = [];
  for (const n of [n0, n1]) {
    const client = await connect(n.wsUrl);
    const reg = await registerUser(client, uniqueName('st'));
    const u = { client, ...reg };
    await joinAndWait(u, circle.id);
    users.push(u);
  }
  const senders = users.map((u, i) => sender(u.client, channel, `n${i}`));
  await moreAcks(senders, 20, 'chat flowing');

  // 1. SIGKILL the master mid-stream.
  procs.a.proc.kill('SIGKILL');
  await eventually(async () => (await sentinelSays(procs.sentinels[0].port)) === ports.b, { what: 'b promoted', timeoutMs: 30000, everyMs: 100 });
  // The promoted b has no replica yet: under chat-wait-replicas 1 sends answer unavailable until one
  // is back. The old master returns as b's replica.
  procs.a = await startRedis('redis-a2', ports.a, ports.b);
  await moreAcks(senders, 20, 'chat flowing again after the failover to b');
  const afterKill = senders.map((s) => ({ ...s.codes }));

  // 2. SIGSTOP the master (b): silent, not closed. The Sentinels promote a; the nodes notice the silence.
  await sentinelsReady(ports.a);
  procs.b.proc.kill('SIGSTOP');
  await eventually(async () => (await sentinelSays(procs.sentinels[1].port)) === ports.a, { what: 'a promoted', timeoutMs: 30000, everyMs: 100 });
  await new Promise((res) => setTimeout(res, 500));
  procs.b.proc.kill('SIGCONT'); // resumes believing it is the master; the Sentinels turn it into a's replica
  await moreAcks(senders, 20, 'chat flowing again after the failover to a');

  for (const s of senders) s.stop = true;
  await Promise.all(senders.map((s) => s.done));

  // Every acknowledged message is in the history; nothing failed except as unavailable; nothing hung.
  const texts = new Set(await history(users[0].client, channel));
  let acked = 0;
  for (const s of senders) {
    for (const t of s.acked) assert.ok(texts.has(t), `acknowledged ${t} is in chat.history`);
    acked += s.acked.length;
    assert.deepEqual(Object.keys(s.codes).filter((c) => c !== 'unavailable'), [], JSON.stringify(s.codes));
    assert.ok(s.maxMs < HANG_MS, `slowest answer ${s.maxMs} ms`);
  }
  const unavailable = senders.reduce((n, s) => n + (s.codes.unavailable || 0), 0);
  console.log(`# sentinel: ${acked} acknowledged messages, all in chat.history (${texts.size} stored); ` +
    `${unavailable} answered unavailable during the switches (after the SIGKILL: ${JSON.stringify(afterKill)}); ` +
    `slowest answer ${Math.max(...senders.map((s) => s.maxMs))} ms`);
  assert.ok(acked >= 120);
  // The clients never lost their connections.
  for (const u of users) assert.equal(u.client.closed, null);
  for (const n of [n0, n1]) assert.equal((await fetch(`${n.httpUrl}/healthz`)).status, 200);
  for (const u of [...users, admin]) await u.client.close();
});
