// fastpath.test.mjs — the call.signal fast path and the transport's indexes, over real nodes and Redis:
// signals between two nodes go through one PUBLISH to the target node's own channel (no script: Redis's
// call count for FCALL/EVALSHA does not move), on one node they go straight to the other connection;
// a signal with data whose text the server must pass through untouched arrives byte-exact; the path
// keeps working after a Redis restart (the node channel is resubscribed); a signal to a call that ended
// is refused by the script fallback; room.signal between participants on two nodes goes the same way once
// the nodes know the room's roster, and a signal to a device outside the room still gets not_found.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, httpGet } from '../lib/client.mjs';
import { assertError, user, circleWith } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000', '--message-rate', '100000', '--message-burst', '10000',
  '--signal-rate', '1000000', '--signal-burst', '100000'];
let h, stack;

before(async () => {
  h = new Harness('fastpath');
  stack = await startStack(h, { nodes: 2, args: ARGS });
});
after(async () => { await h.close(); });

const onCall = (call) => (e) => e.call === call;

async function connected(aUrl, bUrl) {
  const a = await user(aUrl, 'fa');
  const b = await user(bUrl, 'fb');
  const inv = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', onCall(inv.call));
  await b.client.ok('call.accept', { call: inv.call });
  const evA = await a.client.waitEvent('call.accepted', onCall(inv.call));
  await b.client.waitEvent('call.accepted', onCall(inv.call));
  return { a, b, call: inv.call, evA };
}

async function metric(node, name) {
  const m = (await httpGet(`${node.httpUrl}/metrics`)).body.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : NaN;
}

// How many scripts Redis has run (EVALSHA, EVAL, FCALL), from INFO commandstats.
async function scriptCalls() {
  const info = await stack.redisCmd('INFO', 'commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval|fcall|fcall_ro):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
}

test('across nodes: 200 signals each way arrive in order through the node channels, with no script', async () => {
  const { a, b, call, evA } = await connected(stack.nodes[0].wsUrl, stack.nodes[1].wsUrl);
  assert.equal(typeof evA.peer_device, 'string', 'call.accepted names the peer device');
  const sent0 = await metric(stack.nodes[0], 'staffroom_direct_sent_total');
  const scripts0 = await scriptCalls();
  const N = 200;
  const sends = [];
  for (let i = 0; i < N; i++) sends.push(a.client.ok('call.signal', { call, data: { seq: i, candidate: `a${i}` } }));
  for (let i = 0; i < N; i++) sends.push(b.client.ok('call.signal', { call, data: { seq: i, candidate: `b${i}` } }));
  await Promise.all(sends);
  for (let i = 0; i < N; i++) {
    const ev = await b.client.waitEvent('call.signal', onCall(call));
    assert.equal(ev.data.seq, i, 'in order');
    assert.equal(typeof ev.from, "string");
    assert.equal(ev.to_device, undefined);
  }
  for (let i = 0; i < N; i++) assert.equal((await a.client.waitEvent('call.signal', onCall(call))).data.seq, i);
  assert.equal(await metric(stack.nodes[0], 'staffroom_direct_sent_total') - sent0, N, 'one direct publish per signal');
  const scripts = (await scriptCalls()) - scripts0;
  // 400 signals through scripts would be >= 400 calls; the periodic sweeps of both nodes add a few a second
  assert.ok(scripts < N / 2, `signals ran ${scripts} scripts`);
  await a.client.ok('call.hangup', { call });
  await b.client.waitEvent('call.ended', onCall(call));
  await a.client.waitEvent('call.ended', onCall(call));
  assertError(await b.client.request('call.signal', { call, data: { x: 1 } }), 'not_found');
  await a.client.close();
  await b.client.close();
});

test('on one node: delivered directly, data passed through byte-exact (escapes, unicode, nesting)', async () => {
  const { a, b, call } = await connected(stack.nodes[0].wsUrl, stack.nodes[0].wsUrl);
  const sent0 = await metric(stack.nodes[0], 'staffroom_direct_sent_total');
  const raw = '{"sdp":"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n","n":[1,{"x":"}]\\"{"}],"é":"\\u00e9 ✓","t":true,"z":null}';
  a.client.sendRaw(`{"type":"call.signal","id":"raw1","call":"${call}","data":${raw}}`);
  const ev = await b.client.waitEvent('call.signal', onCall(call));
  assert.deepEqual(ev.data, JSON.parse(raw));
  assert.equal(await metric(stack.nodes[0], 'staffroom_direct_sent_total'), sent0, 'no publish for a local peer');
  await a.client.ok('call.hangup', { call });
  await a.client.close();
  await b.client.close();
});

test('outsiders and ringing calls still get the script\'s exact errors', async () => {
  const a = await user(stack.nodes[0].wsUrl, 'oa');
  const b = await user(stack.nodes[1].wsUrl, 'ob');
  const o = await user(stack.nodes[1].wsUrl, 'oo');
  const inv = await a.client.ok('call.invite', { user: b.user.id });
  assertError(await a.client.request('call.signal', { call: inv.call, data: { x: 1 } }), 'conflict');
  await b.client.ok('call.accept', { call: inv.call });
  await a.client.waitEvent('call.accepted', onCall(inv.call));
  assertError(await o.client.request('call.signal', { call: inv.call, data: { x: 1 } }), 'forbidden');
  await a.client.ok('call.hangup', { call: inv.call });
  for (const u of [a, b, o]) await u.client.close();
});

test('after a Redis restart, signals still cross nodes (the node channels are resubscribed)', async () => {
  const { a, b, call } = await connected(stack.nodes[0].wsUrl, stack.nodes[1].wsUrl);
  const port = stack.redis.port;
  await h.stop(stack.redis); // SIGTERM: AOF written; the call record survives
  stack.redis = await h.redis({ port });
  // wait until both nodes are back on Redis
  for (const n of stack.nodes) {
    for (let i = 0; i < 100; i++) {
      if (/"redis":true/.test((await httpGet(`${n.httpUrl}/healthz`)).body)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // the subscription may lag the command connection: retry the first signal until it arrives
  let got = null;
  for (let i = 0; i < 50 && !got; i++) {
    await a.client.ok('call.signal', { call, data: { probe: i } });
    got = await b.client.waitEvent('call.signal', onCall(call), 200).catch(() => null);
  }
  assert.ok(got, 'a signal crossed nodes after the restart');
  b.client.events.length = 0;
  await b.client.ok('call.signal', { call, data: { back: 1 } });
  assert.equal((await a.client.waitEvent('call.signal', (e) => e.call === call && e.data.back === 1)).data.back, 1);
  await a.client.close();
  await b.client.close();
});

test('room.signal: participants on two nodes signal through the node channels; outsiders still refused', async () => {
  const a = await user(stack.nodes[0].wsUrl, 'ra');
  const b = await user(stack.nodes[1].wsUrl, 'rb');
  const c = await user(stack.nodes[1].wsUrl, 'rc');
  const cid = await circleWith(stack, [a, b, c]);
  const { rooms } = await a.client.ok('room.list', { circle: cid });
  const room = rooms[0].id;
  const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
  const jb = await b.client.ok('room.join', { room, camera: true, mic: true });
  // a's node learns b's device from the room.participants event
  await a.client.waitEvent('room.participants', (e) => e.room === room && e.participants.length === 2);
  const sent0 = await metric(stack.nodes[0], 'staffroom_direct_sent_total');
  const scripts0 = await scriptCalls();
  const N = 200;
  for (let i = 0; i < N; i++) await a.client.ok('room.signal', { room, to: jb.device, data: { seq: i } });
  for (let i = 0; i < N; i++) {
    const ev = await b.client.waitEvent('room.signal', (e) => e.room === room);
    assert.equal(ev.data.seq, i);
    assert.equal(ev.from, ja.device);
    assert.equal(ev.user, a.user.id);
  }
  await b.client.ok('room.signal', { room, to: ja.device, data: { back: true } });
  assert.equal((await a.client.waitEvent('room.signal', (e) => e.room === room)).data.back, true);
  assert.equal(await metric(stack.nodes[0], 'staffroom_direct_sent_total') - sent0, N);
  const scripts = (await scriptCalls()) - scripts0;
  assert.ok(scripts < N / 2, `${N} signals ran ${scripts} scripts (periodic sweeps only)`);
  // c is a member but not in the room: cannot be signalled, and cannot signal
  const cdev = 'signal1-999999';
  assertError(await a.client.request('room.signal', { room, to: cdev, data: { x: 1 } }), 'not_found');
  assertError(await c.client.request('room.signal', { room, to: ja.device, data: { x: 1 } }), 'forbidden');
  // after b leaves, a's signals to b's device are refused again (roster updated by the event)
  a.client.events.length = 0; // an older one-participant event (a alone) must not match
  await b.client.ok('room.leave', { room });
  await a.client.waitEvent('room.participants', (e) => e.room === room && e.participants.length === 1);
  assertError(await a.client.request('room.signal', { room, to: jb.device, data: { x: 1 } }), 'not_found');
  for (const u of [a, b, c]) await u.client.close();
});
