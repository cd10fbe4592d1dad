// rooms_sfu.test.mjs — the signal side of group media (signalling/ARCHITECTURE.md, "Group media") over real
// staffroom-signal nodes and a real Redis: room.join says media "sfu"; room.media.offer/answer/candidate
// reach the room's SFU as the contract's commands and its replies come back as answers; placement picks
// the least loaded live SFU and keeps a room on one SFU across nodes; errors (not in the room, bad input,
// oversized SDP, no SFU, an SFU that does not answer, the SFU's own errors passed through); leave, a closed
// socket and a closed private room reach the SFU; an SFU whose sfu:alive: key expires → room.media.reset
// to its participants within 5 s and the room placed on the other SFU.
//
// The SFU side here is a stand-in that speaks the control contract through the same Redis (registration,
// load, sfu:cmd:<id> in, sfu:to:<node> out) — it tests the signal node's half of the contract exactly,
// with scripted replies a real SFU would only give by accident (glare, bad_sdp, silence). The real
// staffroom-sfu is exercised by tests/e2e/rooms_sfu.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack, startNode } from '../lib/client.mjs';
import { assertError, user, circleWith, hexId } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000', '--room-participant-ttl', '3',
  '--sfu-request-timeout', '800', '--sfu-check-interval', '300', '--max-frame-bytes', '262144'];
const HEARTBEAT_MS = 300;
let h, stack;

// ---- a minimal RESP connection for the stand-in (commands and pub/sub) ----
class Resp {
  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    this.onMessage = null;
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._drain(); });
    this.sock.on('error', () => {});
    this.ready = new Promise((resolve) => this.sock.once('connect', resolve));
  }

  _drain() {
    for (;;) {
      const r = parse(this.buf, 0);
      if (!r) return;
      this.buf = this.buf.subarray(r.end);
      const v = r.value;
      if (Array.isArray(v) && v[0] === 'message' && this.onMessage) this.onMessage(v[1], v[2]);
      else if (this.waiting.length) this.waiting.shift()(v);
    }
  }

  cmd(...args) {
    const enc = (a) => { const b = Buffer.from(String(a)); return `$${b.length}\r\n${b}\r\n`; };
    this.sock.write(`*${args.length}\r\n${args.map(enc).join('')}`);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close() { this.sock.destroy(); }
}

function parse(buf, i) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const t = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, eol);
  if (t === '+' || t === '-') return { value: t === '-' ? new Error(line) : line, end: eol + 2 };
  if (t === ':') return { value: Number(line), end: eol + 2 };
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: eol + 2 };
    if (buf.length < eol + 4 + n) return null;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 4 + n };
  }
  const n = Number(line);
  const arr = [];
  let at = eol + 2;
  for (let k = 0; k < n; k++) {
    const r = parse(buf, at);
    if (!r) return null;
    arr.push(r.value);
    at = r.end;
  }
  return { value: arr, end: at };
}

// The stand-in: registers like staffroom-sfu (sfu:alive:<id> every HEARTBEAT_MS, sfu:load), records every
// command it receives, and answers offers and answers with `reply(cmd)` (default: an answer / ok; null: no
// reply at all).
class StandInSfu {
  static async start(id, { load = 0, reply } = {}) {
    const s = new StandInSfu();
    s.id = id;
    s.load = load;
    s.cmds = [];
    s.waiters = [];
    s.reply = reply || ((c) => (c.op === 'offer' ? { op: 'answer', sdp: `answer from ${id}` } : { op: 'ok' }));
    s.pub = new Resp(stack.redisPort);
    s.sub = new Resp(stack.redisPort);
    await Promise.all([s.pub.ready, s.sub.ready]);
    s.sub.onMessage = (_ch, text) => s._command(JSON.parse(text));
    await s.sub.cmd('SUBSCRIBE', `sfu:cmd:${id}`);
    await s.beat();
    s.timer = setInterval(() => s.beat(), HEARTBEAT_MS);
    return s;
  }

  beat() {
    this.beating = (async () => {
      await this.pub.cmd('SET', `sfu:alive:${this.id}`, JSON.stringify({ id: this.id, participants: this.load, rooms: 1,
        capacity: 100, started_ms: 0 }), 'PX', String(3 * HEARTBEAT_MS));
      await this.pub.cmd('ZADD', 'sfu:load', String(this.load), this.id);
    })();
    return this.beating;
  }

  // Draining: no more heartbeats (the last one finished), out of sfu:load, the alive key left to expire.
  async drain() {
    clearInterval(this.timer);
    await this.beating;
    await this.pub.cmd('ZREM', 'sfu:load', this.id);
  }

  _command(c) {
    this.cmds.push(c);
    for (const w of [...this.waiters]) {
      if (w.pred(c)) { this.waiters.splice(this.waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(c); }
    }
    if ((c.op === 'offer' || c.op === 'answer') && c.tx) {
      const r = this.reply(c);
      if (r) this.send(c.node, { tx: c.tx, room: c.room, pid: c.pid, ...r });
    }
  }

  // A command already received (oldest first) or the next one matching pred.
  waitCmd(pred, timeoutMs = 5000) {
    const got = this.cmds.find(pred);
    if (got) return Promise.resolve(got);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(w), 1); reject(new Error(`${this.id}: no such command; got ${JSON.stringify(this.cmds).slice(0, 1500)}`)); }, timeoutMs);
      this.waiters.push(w);
    });
  }

  send(node, msg) { return this.pub.cmd('PUBLISH', `sfu:to:${node}`, JSON.stringify(msg)); }

  // Dies as a SIGKILLed SFU does: no more heartbeats, no goodbye; its alive key expires by itself.
  kill() { clearInterval(this.timer); this.sub.close(); }

  async stop() {
    clearInterval(this.timer);
    await this.pub.cmd('DEL', `sfu:alive:${this.id}`);
    await this.pub.cmd('ZREM', 'sfu:load', this.id);
    this.pub.close();
    this.sub.close();
  }
}

before(async () => {
  h = new Harness('rooms-sfu');
  stack = await startStack(h, { nodes: 2, args: ARGS });
});
after(async () => { await h.close(); });

async function noSfus() {
  const ids = await stack.redisCmd('ZRANGE', 'sfu:load', '0', '-1');
  for (const id of ids) await stack.redisCmd('DEL', `sfu:alive:${id}`);
  await stack.redisCmd('DEL', 'sfu:load');
}

// n users (alternating over the given nodes) in a fresh circle; its standing room.
async function roomOf(n, nodes = [0]) {
  const us = [];
  for (let i = 0; i < n; i++) us.push(await user(stack.nodes[nodes[i % nodes.length]].wsUrl, 's'));
  const cid = await circleWith(stack, us);
  const { rooms } = await us[0].client.ok('room.list', { circle: cid });
  return { cid, us, room: rooms[0].id };
}

const OFFER = { sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n', tracks: { 0: 'mic', 1: 'camera' } };
const nodeOf = (device) => device.slice(0, device.lastIndexOf('-'));

test('room.join says media sfu; with no SFU registered an offer is answered unavailable; bad input is refused', async () => {
  await noSfus();
  const { us: [a, out], room } = await roomOf(2);
  assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'not_found'); // not in the room yet
  const j = await a.client.ok('room.join', { room, camera: true, mic: true });
  assert.equal(j.media, 'sfu');
  assert.equal(j.device, j.room.participants[0].device);
  assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'unavailable');
  assertError(await a.client.request('room.media.offer', { room, tracks: OFFER.tracks }), 'bad_request', 'sdp');
  assertError(await a.client.request('room.media.offer', { room, sdp: '', tracks: OFFER.tracks }), 'bad_request', 'sdp');
  assertError(await a.client.request('room.media.offer', { room, sdp: 'v=0' }), 'bad_request', 'tracks');
  assertError(await a.client.request('room.media.offer', { room, sdp: 'v=0', tracks: { 0: 'hologram' } }), 'bad_request', 'tracks');
  assertError(await a.client.request('room.media.offer', { room, sdp: 'v=0', tracks: {} }), 'bad_request', 'tracks');
  assertError(await a.client.request('room.media.offer', { room, sdp: 'x'.repeat(65537), tracks: OFFER.tracks }), 'too_large', 'sdp');
  assertError(await a.client.request('room.media.answer', { room, sdp: 'x'.repeat(70000) }), 'too_large', 'sdp');
  assertError(await a.client.request('room.media.candidate', { room, mid: '0' }), 'bad_request', 'candidate');
  assertError(await a.client.request('room.media.offer', { room: 'nope', ...OFFER }), 'bad_request', 'room');
  assertError(await out.client.request('room.media.offer', { room, ...OFFER }), 'not_found');
  assertError(await out.client.request('room.media.answer', { room, sdp: 'v=0' }), 'not_found');
  assertError(await out.client.request('room.media.candidate', { room, mid: '0', candidate: '' }), 'not_found');
  assert.equal(await stack.redisCmd('EXISTS', `room:${room}:sfu`), 0, 'no placement without an SFU');
  await a.client.close();
  await out.client.close();
});

test('placement: the least loaded SFU; both nodes\' participants of a room share it; events and replies flow both ways', async () => {
  await noSfus();
  const busy = await StandInSfu.start(`busy-${hexId().slice(0, 6)}`, { load: 7 });
  const idle = await StandInSfu.start(`idle-${hexId().slice(0, 6)}`, { load: 1 });
  try {
    const { us: [a, b], room } = await roomOf(2, [0, 1]);
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    const jb = await b.client.ok('room.join', { room, camera: true, mic: false });
    assert.notEqual(nodeOf(ja.device), nodeOf(jb.device), 'the two are on two nodes');
    const ans = await a.client.ok('room.media.offer', { room, ...OFFER });
    assert.equal(ans.sdp, `answer from ${idle.id}`);
    const cmd = await idle.waitCmd((c) => c.op === 'offer' && c.pid === ja.device);
    assert.equal(cmd.room, room);
    assert.equal(cmd.user, a.user.id);
    assert.equal(cmd.node, nodeOf(ja.device));
    assert.equal(cmd.sdp, OFFER.sdp);
    assert.deepEqual(cmd.tracks, OFFER.tracks);
    assert.equal(await stack.redisCmd('GET', `room:${room}:sfu`), idle.id);
    // the idle SFU is now the busier one: the room stays where it is
    idle.load = 20;
    await idle.beat();
    const ansB = await b.client.ok('room.media.offer', { room, sdp: 'v=0\r\n', tracks: { a: 'mic' } });
    assert.equal(ansB.sdp, `answer from ${idle.id}`);
    await idle.waitCmd((c) => c.op === 'offer' && c.pid === jb.device && c.node === nodeOf(jb.device));
    assert.equal(busy.cmds.length, 0, 'nothing went to the busier SFU');

    // candidates from the client reach the SFU, in order after the offer
    await a.client.ok('room.media.candidate', { room, mid: '0', candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ relay' });
    await a.client.ok('room.media.candidate', { room, mid: '0', candidate: '' });
    const cands = await eventually(() => { const c = idle.cmds.filter((x) => x.op === 'candidate' && x.pid === ja.device); return c.length === 2 && c; });
    assert.equal(cands[0].candidate, 'candidate:1 1 udp 1 127.0.0.1 5000 typ relay');
    assert.equal(cands[1].candidate, '');
    assert.equal(cands[0].mid, '0');

    // the SFU renegotiates toward a (on node 0) with b's tracks; a answers; the SFU says ok
    await idle.send(nodeOf(ja.device), { op: 'offer', room, pid: ja.device, sdp: 'sfu offer',
      tracks: { 2: { pid: jb.device, user: b.user.id, kind: 'mic' } } });
    const off = await a.client.waitEvent('room.media.offer', (e) => e.room === room);
    assert.equal(off.sdp, 'sfu offer');
    assert.deepEqual(off.tracks, { 2: { device: jb.device, user: b.user.id, kind: 'mic' } });
    await a.client.ok('room.media.answer', { room, sdp: 'client answer' });
    const answered = await idle.waitCmd((c) => c.op === 'answer' && c.pid === ja.device);
    assert.equal(answered.sdp, 'client answer');
    // the SFU's candidate toward b (on node 1)
    await idle.send(nodeOf(jb.device), { op: 'candidate', room, pid: jb.device, mid: '0', candidate: 'candidate:9 1 udp 9 127.0.0.1 40000 typ host' });
    const ce = await b.client.waitEvent('room.media.candidate', (e) => e.room === room);
    assert.equal(ce.candidate, 'candidate:9 1 udp 9 127.0.0.1 40000 typ host');
    assert.equal(ce.mid, '0');
    // the active speaker, told once per node
    for (const j of [ja, jb]) await idle.send(nodeOf(j.device), { op: 'speaker', room, pid: jb.device, to: [j.device] });
    for (const u of [a, b]) {
      const sp = await u.client.waitEvent('room.speaker', (e) => e.room === room);
      assert.equal(sp.device, jb.device);
      assert.equal(sp.user, b.user.id);
    }
    // the SFU dropped a's media (ICE failed): a is told to start again
    await idle.send(nodeOf(ja.device), { op: 'gone', room, pid: ja.device, reason: 'ice_failed' });
    const reset = await a.client.waitEvent('room.media.reset', (e) => e.room === room);
    assert.equal(reset.reason, 'ice_failed');
    // a message for someone not in the room, and garbage, are dropped; the node carries on
    await idle.send(nodeOf(ja.device), { op: 'offer', room: hexId(), pid: ja.device, sdp: 'x', tracks: {} });
    await idle.pub.cmd('PUBLISH', `sfu:to:${nodeOf(ja.device)}`, 'not json');
    await idle.pub.cmd('PUBLISH', `sfu:to:${nodeOf(ja.device)}`, '{"op":"answer","tx":999999}');

    // leaving, and a closed socket, reach the SFU
    await a.client.ok('room.leave', { room });
    await idle.waitCmd((c) => c.op === 'leave' && c.pid === ja.device && c.room === room);
    b.client.terminate();
    await idle.waitCmd((c) => c.op === 'leave' && c.pid === jb.device && c.room === room);
    assert.equal(a.client.events.filter((e) => e.type === 'room.media.offer').length, 0, 'the stray offer was not delivered');
    await a.client.close();
  } finally {
    await busy.stop();
    await idle.stop();
  }
});

test('the SFU\'s errors are passed through; an SFU that does not answer → unavailable', async () => {
  await noSfus();
  let mode = 'bad_sdp';
  const sfu = await StandInSfu.start(`err-${hexId().slice(0, 6)}`, {
    reply: (c) => {
      if (mode === 'silent') return null;
      if (mode === 'bad_sdp') return { op: 'error', code: 'bad_sdp', message: 'no usable m-line in the offer' };
      if (mode === 'glare') return { op: 'error', code: 'glare', message: 'answer my offer first' };
      if (mode === 'odd') return { op: 'error', code: 'weird', message: 'what' };
      return c.op === 'offer' ? { op: 'answer', sdp: 'fine' } : { op: 'ok' };
    },
  });
  try {
    const { us: [a], room } = await roomOf(1);
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    const bad = await a.client.request('room.media.offer', { room, ...OFFER });
    assertError(bad, 'bad_sdp');
    assert.equal(bad.message, 'no usable m-line in the offer');
    mode = 'glare';
    assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'glare');
    assertError(await a.client.request('room.media.answer', { room, sdp: 'v=0' }), 'glare');
    mode = 'odd';
    assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'internal');
    mode = 'silent';
    const t0 = Date.now();
    assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'unavailable');
    const waited = Date.now() - t0;
    assert.ok(waited >= 700 && waited < 3000, `answered after the 800 ms timeout (${waited} ms)`);
    // a late admission is undone: the SFU is told to drop the participant it may still be admitting
    await sfu.waitCmd((c) => c.op === 'leave' && c.pid === ja.device && c.room === room);
    mode = 'ok';
    assert.equal((await a.client.ok('room.media.offer', { room, ...OFFER })).sdp, 'fine');
    // an SFU whose alive key is there but that listens no more: unavailable at once, not after the timeout
    sfu.sub.close();
    const t1 = Date.now();
    assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'unavailable');
    assert.ok(Date.now() - t1 < 700, `no receiver → answered at once (${Date.now() - t1} ms)`);
    await a.client.close();
  } finally {
    await sfu.stop();
  }
});

test('an SFU that dies: its participants get room.media.reset within 5 s and the room goes to the other SFU', async () => {
  await noSfus();
  const first = await StandInSfu.start(`first-${hexId().slice(0, 6)}`, { load: 0 });
  const second = await StandInSfu.start(`second-${hexId().slice(0, 6)}`, { load: 3 });
  try {
    const { us: [a, b], room } = await roomOf(2, [0, 1]);
    await a.client.ok('room.join', { room, camera: true, mic: true });
    await b.client.ok('room.join', { room, camera: true, mic: true });
    assert.equal((await a.client.ok('room.media.offer', { room, ...OFFER })).sdp, `answer from ${first.id}`);
    assert.equal((await b.client.ok('room.media.offer', { room, ...OFFER })).sdp, `answer from ${first.id}`);
    const t0 = Date.now();
    first.kill();
    const resets = await Promise.all([a, b].map((u) => u.client.waitEvent('room.media.reset', (e) => e.room === room, 5000)));
    const took = Date.now() - t0;
    for (const r of resets) assert.equal(r.reason, 'sfu_lost');
    assert.ok(took < 5000, `reset within 5 s (${took} ms)`);
    console.log(`# SFU killed → room.media.reset on both nodes after ${took} ms (heartbeat ${HEARTBEAT_MS} ms, alive TTL ${3 * HEARTBEAT_MS} ms)`);
    assert.equal((await a.client.ok('room.media.offer', { room, ...OFFER })).sdp, `answer from ${second.id}`);
    assert.equal((await b.client.ok('room.media.offer', { room, ...OFFER })).sdp, `answer from ${second.id}`);
    assert.equal(await stack.redisCmd('GET', `room:${room}:sfu`), second.id);
    assert.equal(await stack.redisCmd('ZSCORE', 'sfu:load', first.id), null, 'the dead SFU left sfu:load');
    await a.client.close();
    await b.client.close();
  } finally {
    await first.stop().catch(() => {});
    await second.stop();
  }
});

test('a draining SFU (out of sfu:load, still alive) moves its rooms: moved → reset, the next offer goes elsewhere', async () => {
  await noSfus();
  const old = await StandInSfu.start(`old-${hexId().slice(0, 6)}`, { load: 0 });
  const next = await StandInSfu.start(`next-${hexId().slice(0, 6)}`, { load: 5 });
  try {
    const { us: [a], room } = await roomOf(1);
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    assert.equal((await a.client.ok('room.media.offer', { room, ...OFFER })).sdp, `answer from ${old.id}`);
    await old.drain(); // it keeps its alive key for now but leaves sfu:load
    assert.equal(await stack.redisCmd('EXISTS', `sfu:alive:${old.id}`), 1);
    await old.send(nodeOf(ja.device), { op: 'moved', room, pids: [ja.device], reason: 'drain' });
    const r = await a.client.waitEvent('room.media.reset', (e) => e.room === room);
    assert.equal(r.reason, 'sfu_moved');
    assert.equal((await a.client.ok('room.media.offer', { room, ...OFFER })).sdp, `answer from ${next.id}`);
    await a.client.close();
  } finally {
    await old.stop();
    await next.stop();
  }
});

test('a private (session) room that closes: its SFU gets close', async () => {
  await noSfus();
  const sfu = await StandInSfu.start(`priv-${hexId().slice(0, 6)}`);
  try {
    const a = await user(stack.nodes[0].wsUrl, 'p');
    const b = await user(stack.nodes[1].wsUrl, 'p');
    const room = hexId();
    const now = Math.floor(Date.now() / 1000);
    await stack.redisCmd('HSET', `room:${room}`, 'private', '1', 'name', 'Session', 'standing', '0', 'opens', String(now - 60), 'closes', String(now + 3));
    await stack.redisCmd('SADD', `room:${room}:guests`, a.user.id, b.user.id);
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    assert.equal(ja.media, 'sfu');
    await a.client.ok('room.media.offer', { room, ...OFFER });
    await a.client.waitEvent('room.closed', (e) => e.room === room, 8000);
    const close = await sfu.waitCmd((c) => c.op === 'close' && c.room === room, 3000);
    assert.equal(close.pid, undefined);
    await a.client.close();
    await b.client.close();
  } finally {
    await sfu.stop();
  }
});

test('room-media mesh: join says mesh, room.media.* is refused, room.signal still works', async () => {
  const mesh = await startNode(h, { redisPort: stack.redisPort, label: 'mesh', args: [...ARGS, '--room-media', 'mesh'] });
  const a = await user(mesh.wsUrl, 'm');
  const cid = await circleWith(stack, [a]);
  const { rooms: [{ id: room }] } = await a.client.ok('room.list', { circle: cid });
  assert.equal((await a.client.ok('room.join', { room, camera: true, mic: true })).media, 'mesh');
  assertError(await a.client.request('room.media.offer', { room, ...OFFER }), 'bad_request');
  await a.client.close();
  await h.stop(mesh.proc);
});
