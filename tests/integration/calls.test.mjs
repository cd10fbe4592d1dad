// calls.test.mjs — 1:1 calls over real staffroom-signal nodes and Redis: invite, ring on every device,
// accept (first device wins, the others get answered_elsewhere), decline, cancel, busy, ring timeout, hang
// up, disconnect, glare, call.signal ordering and authorisation, in_call presence, two nodes, and a node
// that dies (SIGKILL) in the middle of a ringing or an active call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, startNode } from '../lib/client.mjs';
import { assertError, user, device, circleWith, hexId } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000', '--message-rate', '100000', '--message-burst', '10000',
  '--call-ring-timeout', '2', '--presence-ttl', '3', '--presence-sweep-interval', '300'];
let h, stack;

before(async () => {
  h = new Harness('calls');
  stack = await startStack(h, { nodes: 2, args: ARGS });
});
after(async () => { await h.close(); });

const onCall = (call) => (e) => e.call === call;

// A rings B, B accepts: returns { a, b, call, accepted events }.
async function connected(aUrl = stack.nodes[0].wsUrl, bUrl = stack.nodes[0].wsUrl) {
  const a = await user(aUrl, 'ca');
  const b = await user(bUrl, 'cb');
  const inv = await a.client.ok('call.invite', { user: b.user.id });
  assert.equal(inv.state, 'ringing');
  const inc = await b.client.waitEvent('call.incoming', onCall(inv.call));
  assert.equal(inc.from.id, a.user.id);
  const acc = await b.client.ok('call.accept', { call: inv.call });
  assert.equal(acc.polite, true);
  const evA = await a.client.waitEvent('call.accepted', onCall(inv.call));
  const evB = await b.client.waitEvent('call.accepted', onCall(inv.call));
  assert.equal(evA.polite, false);
  assert.equal(evB.polite, true);
  assert.equal(evA.peer, b.user.id);
  assert.equal(evB.peer, a.user.id);
  return { a, b, call: inv.call };
}

async function closeAll(...us) { for (const u of us) await u.client.close(); }

test('invite, accept, signal both ways in order, hang up: both get call.ended', async () => {
  const { a, b, call } = await connected();
  for (let i = 0; i < 20; i++) await a.client.ok('call.signal', { call, data: { seq: i, candidate: `c${i}` } });
  for (let i = 0; i < 20; i++) {
    const ev = await b.client.waitEvent('call.signal', onCall(call));
    assert.equal(ev.data.seq, i, 'signals arrive in order');
    assert.equal(ev.to_device, undefined, 'the routing member is stripped');
  }
  await b.client.ok('call.signal', { call, data: { type: 'answer', sdp: 'v=0' } });
  assert.equal((await a.client.waitEvent('call.signal', onCall(call))).data.sdp, 'v=0');
  await a.client.ok('call.hangup', { call, reason: 'hangup' });
  const eb = await b.client.waitEvent('call.ended', onCall(call));
  const ea = await a.client.waitEvent('call.ended', onCall(call));
  assert.equal(eb.reason, 'hangup');
  assert.equal(ea.reason, 'hangup');
  assert.equal(eb.by, a.user.id);
  assertError(await b.client.request('call.signal', { call, data: { x: 1 } }), 'not_found');
  await closeAll(a, b);
});

test('every device of the callee rings; the first accept wins, the others get answered_elsewhere', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  const b1 = await user(stack.nodes[0].wsUrl);
  const b2 = await device(stack.nodes[1].wsUrl, b1);
  const { call } = await a.client.ok('call.invite', { user: b1.user.id });
  await b1.client.waitEvent('call.incoming', onCall(call));
  await b2.client.waitEvent('call.incoming', onCall(call));
  const [r1, r2] = await Promise.all([b1.client.request('call.accept', { call }), b2.client.request('call.accept', { call })]);
  const winners = [r1, r2].filter((r) => r.type === 'ok');
  assert.equal(winners.length, 1, `exactly one accept wins: ${JSON.stringify([r1, r2])}`);
  const loser = r1.type === 'ok' ? b2 : b1;
  const winner = r1.type === 'ok' ? b1 : b2;
  assertError(r1.type === 'ok' ? r2 : r1, 'conflict');
  await loser.client.waitEvent('call.answered_elsewhere', onCall(call));
  await winner.client.waitEvent('call.accepted', onCall(call));
  // Signals reach the accepted device only.
  await a.client.ok('call.signal', { call, data: { n: 1 } });
  await winner.client.waitEvent('call.signal', onCall(call));
  // The other device is not a party: it may not signal or hang up.
  assertError(await loser.client.request('call.signal', { call, data: { n: 2 } }), 'forbidden');
  assertError(await loser.client.request('call.hangup', { call }), 'forbidden');
  assert.equal(loser.client.events.filter((e) => e.type === 'call.signal').length, 0);
  await a.client.ok('call.hangup', { call });
  await winner.client.waitEvent('call.ended', onCall(call));
  await closeAll(a, b1, b2);
});

test('decline: the caller is told (reason declined)', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  const b = await user(stack.nodes[1].wsUrl);
  const { call } = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', onCall(call));
  await b.client.ok('call.decline', { call });
  assert.equal((await a.client.waitEvent('call.ended', onCall(call))).reason, 'declined');
  assert.equal((await b.client.waitEvent('call.ended', onCall(call))).reason, 'declined');
  assertError(await b.client.request('call.accept', { call }), 'not_found');
  await closeAll(a, b);
});

test('cancel: the callee stops ringing (reason cancelled); only the caller may cancel', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  const b = await user(stack.nodes[0].wsUrl);
  const { call } = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', onCall(call));
  assertError(await b.client.request('call.cancel', { call }), 'forbidden');
  await a.client.ok('call.cancel', { call });
  assert.equal((await b.client.waitEvent('call.ended', onCall(call))).reason, 'cancelled');
  await closeAll(a, b);
});

test('busy: calling someone already in a call ends at once with reason busy; the caller in a call gets conflict', async () => {
  const { a, b, call } = await connected();
  const c = await user(stack.nodes[1].wsUrl);
  const r = await c.client.ok('call.invite', { user: b.user.id });
  assert.equal(r.state, 'ended');
  assert.equal(r.reason, 'busy');
  assert.equal((await c.client.waitEvent('call.ended', onCall(r.call))).reason, 'busy');
  assert.equal(b.client.events.filter((e) => e.type === 'call.incoming').length, 0, 'a busy callee is not rung');
  assertError(await a.client.request('call.invite', { user: c.user.id }), 'conflict');
  await a.client.ok('call.hangup', { call });
  await b.client.waitEvent('call.ended', onCall(call));
  // Free again: the call goes through.
  const again = await c.client.ok('call.invite', { user: b.user.id });
  assert.equal(again.state, 'ringing');
  await c.client.ok('call.cancel', { call: again.call });
  await closeAll(a, b, c);
});

test('no answer: call.ended reason timeout to both after call-ring-timeout (2 s)', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  const b = await user(stack.nodes[1].wsUrl);
  const t0 = Date.now();
  const { call } = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', onCall(call));
  assert.equal((await a.client.waitEvent('call.ended', onCall(call), 6000)).reason, 'timeout');
  assert.equal((await b.client.waitEvent('call.ended', onCall(call), 6000)).reason, 'timeout');
  const took = Date.now() - t0;
  assert.ok(took >= 1900 && took < 5000, `timed out after ${took} ms`);
  assertError(await b.client.request('call.accept', { call }), 'not_found');
  await closeAll(a, b);
});

test('a call that was answered does not time out', async () => {
  const { a, b, call } = await connected();
  await new Promise((r) => setTimeout(r, 2600)); // longer than the ring timeout: nothing may end the call
  await a.client.ok('call.signal', { call, data: { still: 'up' } });
  await b.client.waitEvent('call.signal', onCall(call));
  assert.equal(a.client.events.filter((e) => e.type === 'call.ended').length, 0);
  await b.client.ok('call.hangup', { call });
  await a.client.waitEvent('call.ended', onCall(call));
  await closeAll(a, b);
});

test('glare: both invite each other at once → one call, both connected', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  const b = await user(stack.nodes[1].wsUrl);
  const [ra, rb] = await Promise.all([
    a.client.ok('call.invite', { user: b.user.id }), b.client.ok('call.invite', { user: a.user.id })]);
  assert.equal(ra.call, rb.call, `one call: ${JSON.stringify([ra, rb])}`);
  assert.equal([ra, rb].filter((r) => r.glare).length, 1, 'the second invite accepted the first');
  const ea = await a.client.waitEvent('call.accepted', onCall(ra.call));
  const eb = await b.client.waitEvent('call.accepted', onCall(ra.call));
  assert.notEqual(ea.polite, eb.polite, 'exactly one side is polite');
  await a.client.ok('call.signal', { call: ra.call, data: { hi: 1 } });
  await b.client.waitEvent('call.signal', onCall(ra.call));
  await a.client.ok('call.hangup', { call: ra.call });
  await b.client.waitEvent('call.ended', onCall(ra.call));
  await closeAll(a, b);
});

test('outsiders cannot signal, accept, decline or hang up a call', async () => {
  const { a, b, call } = await connected();
  const m = await user(stack.nodes[0].wsUrl, 'mal');
  assertError(await m.client.request('call.signal', { call, data: { type: 'offer', sdp: 'evil' } }), 'forbidden');
  assertError(await m.client.request('call.accept', { call }), 'forbidden');
  assertError(await m.client.request('call.decline', { call }), 'forbidden');
  assertError(await m.client.request('call.hangup', { call }), 'forbidden');
  assertError(await m.client.request('call.signal', { call: hexId(), data: {} }), 'not_found');
  // B's other device is not the accepted one either.
  const b2 = await device(stack.nodes[1].wsUrl, b);
  assertError(await b2.client.request('call.signal', { call, data: { x: 1 } }), 'forbidden');
  await a.client.ok('call.signal', { call, data: { ok: 1 } });
  const ev = await b.client.waitEvent('call.signal', onCall(call));
  assert.deepEqual(ev.data, { ok: 1 });
  assert.equal(b.client.events.some((e) => e.type === 'call.signal'), false, 'nothing injected');
  await a.client.ok('call.hangup', { call });
  await closeAll(a, b, b2, m);
});

test('bad requests name their field', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  assertError(await a.client.request('call.invite', {}), 'bad_request', 'user');
  assertError(await a.client.request('call.invite', { user: 'nope' }), 'bad_request', 'user');
  assertError(await a.client.request('call.invite', { user: hexId() }), 'not_found');
  assertError(await a.client.request('call.invite', { user: a.user.id }), 'conflict');
  assertError(await a.client.request('call.accept', { call: 5 }), 'bad_request', 'call');
  assertError(await a.client.request('call.signal', { call: hexId(), data: 'x' }), 'bad_request', 'data');
  assertError(await a.client.request('call.hangup', { call: hexId(), reason: 'boom' }), 'bad_request', 'reason');
  await a.client.close();
});

test('a party whose socket dies ends the call (reason disconnected); presence shows in_call meanwhile', async () => {
  const a = await user(stack.nodes[0].wsUrl);
  const b = await user(stack.nodes[1].wsUrl);
  const watcher = await user(stack.nodes[0].wsUrl, 'w');
  await circleWith(stack, [a, b, watcher]);
  const { call } = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', onCall(call));
  await b.client.ok('call.accept', { call });
  await watcher.client.waitEvent('presence', (e) => e.user === a.user.id && e.status === 'in_call');
  await watcher.client.waitEvent('presence', (e) => e.user === b.user.id && e.status === 'in_call');
  b.client.terminate();
  const ev = await a.client.waitEvent('call.ended', onCall(call));
  assert.equal(ev.reason, 'disconnected');
  await watcher.client.waitEvent('presence', (e) => e.user === a.user.id && e.status === 'online');
  // A can be called again at once.
  const c = await user(stack.nodes[1].wsUrl);
  assert.equal((await c.client.ok('call.invite', { user: a.user.id })).state, 'ringing');
  await closeAll(a, c, watcher);
});

test('caller and callee on two different nodes', async () => {
  const { a, b, call } = await connected(stack.nodes[0].wsUrl, stack.nodes[1].wsUrl);
  await b.client.ok('call.signal', { call, data: { from: 'node1' } });
  assert.equal((await a.client.waitEvent('call.signal', onCall(call))).data.from, 'node1');
  await b.client.ok('call.hangup', { call });
  assert.equal((await a.client.waitEvent('call.ended', onCall(call))).reason, 'hangup');
  await closeAll(a, b);
});

test('a node that dies mid-call: the other party gets call.ended (disconnected) within the party TTL (15 s)', async () => {
  const doomed = await startNode(h, { redisPort: stack.redisPort, label: 'doomed-active', args: ARGS });
  const { a, b, call } = await connected(stack.nodes[0].wsUrl, doomed.wsUrl);
  const t0 = Date.now();
  await h.stop(doomed.proc, 'SIGKILL');
  const ev = await a.client.waitEvent('call.ended', onCall(call), 20000);
  assert.equal(ev.reason, 'disconnected');
  assert.equal(ev.by, b.user.id);
  assert.ok(Date.now() - t0 < 17000, `${Date.now() - t0} ms`);
  // the survivor is free again: it can call someone else at once
  const c = await user(stack.nodes[0].wsUrl, 'cc');
  assert.equal((await a.client.ok('call.invite', { user: c.user.id })).state, 'ringing');
  assert.deepEqual(await stack.redisCmd('ZRANGE', 'calls:deadlines', '0', '-1').then((r) => r.filter((m) => m.startsWith(call))), []);
  await closeAll(a, c);
});

test('a node that dies while its user rings someone: the callee still gets the timeout, once', async () => {
  const doomed = await startNode(h, { redisPort: stack.redisPort, label: 'doomed-ringing', args: ARGS });
  const a = await user(doomed.wsUrl, 'ca');
  const b = await user(stack.nodes[1].wsUrl, 'cb');
  const inv = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', onCall(inv.call));
  await h.stop(doomed.proc, 'SIGKILL');
  const ev = await b.client.waitEvent('call.ended', onCall(inv.call), 10000);
  assert.equal(ev.reason, 'timeout');
  await new Promise((r) => setTimeout(r, 1500)); // a second call.ended would come within a sweep or two
  assert.equal(b.client.events.filter((e) => e.type === 'call.ended' && e.call === inv.call).length, 0);
  await closeAll(b);
});
