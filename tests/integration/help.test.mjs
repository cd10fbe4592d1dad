// help.test.mjs — help requests over two real staffroom-signal nodes and Redis: duty, routing only to
// on-duty experts of the circle who are not in a call, first accept wins (and opens a call), help.taken,
// cancel, timeout (help.unanswered) and wait, the help channel's status messages, help.list, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, NO_SUCH_ID, SIGNIN, startReadyStack, startReadyNode } from '../lib/community.mjs';
import { device } from '../lib/calls.mjs';

const TIMEOUT_S = 2;
const ARGS = [...SIGNIN, '--message-rate', '100000', '--message-burst', '10000', '--presence-ttl', '3',
  '--presence-sweep-interval', '300', '--help-timeout', String(TIMEOUT_S), '--help-sweep-interval', '100'];
let h, stack, admin;

before(async () => {
  h = new Harness('help');
  stack = await startReadyStack(h, { nodes: 2, args: ARGS });
  admin = await newAdmin(stack);
});
after(async () => { await h.close(); });

const node = (i) => stack.nodes[i].wsUrl;
const forReq = (rid) => (e) => e.request === rid || e.request?.id === rid;

// A circle made by the admin (with its general and help channels).
async function circle() {
  const { circle: c, channels } = await createCircle(admin);
  return { cid: c.id, help: channels.find((ch) => ch.name === 'help').id };
}

// A member of cid with `role` on node `n`, on duty if asked.
async function person(cid, { role = 'member', n = 0, duty = false } = {}) {
  const m = await joined(stack, cid, role[0], node(n));
  if (role !== 'member') {
    await admin.client.ok('circle.set_role', { circle: cid, user: m.user.id, role });
    await m.client.waitEvent('circle.membership', (e) => e.circle === cid && e.role === role);
  }
  if (duty) {
    const r = await m.client.ok('help.duty', { circle: cid, on: true });
    assert.equal(r.on_duty, true);
  }
  return m;
}

// Proves that `u` got no event of `type` for the request: a marker published on the user's channel after
// the request's script finished arrives after anything that script published to that user.
async function assertNoEvent(u, type, rid) {
  const marker = `marker-${Math.random()}`;
  await stack.redisCmd('PUBLISH', `ev:u:${u.user.id}`, JSON.stringify({ type: 'test.marker', marker }));
  await u.client.waitEvent('test.marker', (e) => e.marker === marker);
  assert.equal(u.client.events.filter((e) => e.type === type && forReq(rid)(e)).length, 0,
    `${u.user.name} must not get ${type}`);
}

async function closeAll(...us) { for (const u of us) await u.client.close(); }

test('help.duty: experts and mentors go on and off duty; circle and members show it; others are refused', async () => {
  const { cid } = await circle();
  const e = await person(cid, { role: 'expert' });
  const mentor = await person(cid, { role: 'mentor' });
  const m = await person(cid);
  const r1 = await e.client.ok('help.duty', { circle: cid, on: true });
  assert.deepEqual([r1.on_duty, r1.experts_on_duty], [true, 1]);
  const ev = await m.client.waitEvent('help.duty', (x) => x.user === e.user.id && x.on_duty === true);
  assert.equal(ev.experts_on_duty, 1);
  const r2 = await mentor.client.ok('help.duty', { circle: cid, on: true });
  assert.equal(r2.experts_on_duty, 2);
  assert.equal((await m.client.ok('circle.get', { circle: cid })).circle.experts_on_duty, 2);
  const members = (await m.client.ok('circle.members', { circle: cid })).members;
  assert.equal(members.find((x) => x.user.id === e.user.id).on_duty, true);
  assert.equal(members.find((x) => x.user.id === m.user.id).on_duty, false);
  // A presence change of an on-duty expert carries on_duty: true.
  await e.client.ok('presence.set', { status: 'away' });
  const away = await m.client.waitEvent('presence', (x) => x.user === e.user.id && x.status === 'away');
  assert.equal(away.on_duty, true);
  const list = (await m.client.ok('circle.list', { limit: 100 })).circles.find((c) => c.id === cid);
  assert.equal(list.experts_on_duty, 2);
  assert.equal((await e.client.ok('help.duty', { circle: cid, on: false })).experts_on_duty, 1);
  assertError(await m.client.request('help.duty', { circle: cid, on: true }), 'forbidden');
  const outsider = await newMember(stack);
  assertError(await outsider.client.request('help.duty', { circle: cid, on: true }), 'forbidden');
  assertError(await m.client.request('help.duty', { circle: NO_SUCH_ID, on: true }), 'not_found');
  assertError(await e.client.request('help.duty', { circle: cid }), 'bad_request', 'on');
  assertError(await e.client.request('help.duty', { circle: 'nope', on: true }), 'bad_request', 'circle');
  // Duty ends with the device: the mentor signs off, the count drops; the presence event says so.
  await mentor.client.close();
  const gone = await m.client.waitEvent('presence', (x) => x.user === mentor.user.id && x.status === 'offline');
  assert.equal(gone.on_duty, false);
  await eventually(async () => (await m.client.ok('circle.get', { circle: cid })).circle.experts_on_duty === 0,
    { what: 'duty ended with the device' });
  await closeAll(e, m, outsider);
});

test('help.request is offered only to on-duty experts of the circle who are not in a call (two nodes)', async () => {
  const { cid } = await circle();
  const other = await circle();
  const asker = await person(cid, { n: 0 });
  const e0 = await person(cid, { role: 'expert', n: 0, duty: true });
  const e1 = await person(cid, { role: 'mentor', n: 1, duty: true });
  const off = await person(cid, { role: 'expert', n: 1 });
  const busy = await person(cid, { role: 'expert', n: 0, duty: true });
  const elsewhere = await person(other.cid, { role: 'expert', n: 1, duty: true });
  const plain = await person(cid, { n: 1 });
  // busy is in a call with plain.
  const inv = await plain.client.ok('call.invite', { user: busy.user.id });
  await busy.client.waitEvent('call.incoming', (e) => e.call === inv.call);
  await busy.client.ok('call.accept', { call: inv.call });
  await plain.client.waitEvent('call.accepted', (e) => e.call === inv.call);

  const r = await asker.client.ok('help.request', { circle: cid, topic: 'p-values for adults', details: 'How do I explain them?' });
  const rid = r.request.id;
  assert.match(rid, /^[0-9a-f]{32}$/);
  assert.equal(r.request.status, 'open');
  assert.equal(r.offered, 2);
  for (const e of [e0, e1]) {
    const o = await e.client.waitEvent('help.offer', forReq(rid));
    assert.equal(o.request.topic, 'p-values for adults');
    assert.equal(o.request.details, 'How do I explain them?');
    assert.equal(o.request.requester.id, asker.user.id);
    assert.equal(o.request.circle, cid);
  }
  for (const u of [off, busy, elsewhere, plain, asker]) await assertNoEvent(u, 'help.offer', rid);
  await asker.client.ok('help.cancel', { request: rid });
  // Someone in a call cannot ask (the call that would follow could not start).
  assertError(await plain.client.request('help.request', { circle: cid, topic: 'from a call' }), 'conflict');
  await closeAll(asker, e0, e1, off, busy, elsewhere, plain);
});

test('two experts accept at once: exactly one wins, both parties get the call, the loser gets help.taken', async () => {
  const { cid, help } = await circle();
  const asker = await person(cid, { n: 0 });
  const a = await person(cid, { role: 'expert', n: 0, duty: true });
  const b = await person(cid, { role: 'expert', n: 1, duty: true });
  const { request } = await asker.client.ok('help.request', { circle: cid, topic: 'Standard deviation' });
  for (const e of [a, b]) await e.client.waitEvent('help.offer', forReq(request.id));
  const [ra, rb] = await Promise.all([a.client.request('help.accept', { request: request.id }),
    b.client.request('help.accept', { request: request.id })]);
  const oks = [ra, rb].filter((x) => x.type === 'ok');
  assert.equal(oks.length, 1, `exactly one accept wins: ${JSON.stringify([ra, rb])}`);
  const [winner, loser, lost] = ra.type === 'ok' ? [a, b, rb] : [b, a, ra];
  assertError(lost, 'conflict');
  const won = oks[0];
  assert.equal(won.request.status, 'taken');
  assert.equal(won.request.taken_by.id, winner.user.id);
  assert.equal(won.peer, asker.user.id);
  const evA = await asker.client.waitEvent('call.accepted', (e) => e.call === won.call);
  const evW = await winner.client.waitEvent('call.accepted', (e) => e.call === won.call);
  assert.deepEqual([evA.peer, evA.polite, evA.help], [winner.user.id, false, request.id]);
  assert.deepEqual([evW.peer, evW.polite, evW.help], [asker.user.id, true, request.id]);
  assert.equal(evA.peer_user.id, winner.user.id);
  const taken = await loser.client.waitEvent('help.taken', forReq(request.id));
  assert.equal(taken.by.id, winner.user.id);
  await assertNoEvent(winner, 'help.taken', request.id);
  // The call is a real accepted call: signals flow, then hang up ends it for both.
  await asker.client.ok('call.signal', { call: won.call, data: { type: 'offer', sdp: 'v=0' } });
  assert.equal((await winner.client.waitEvent('call.signal', (e) => e.call === won.call)).data.sdp, 'v=0');
  // The help channel shows the request, then its new status.
  const upd = await asker.client.waitEvent('chat.updated', (e) => e.message.help?.request === request.id);
  assert.equal(upd.message.help.status, 'taken');
  assert.equal(upd.message.help.taken_by.id, winner.user.id);
  assert.equal(upd.message.channel, help);
  const hist = await asker.client.ok('chat.history', { channel: help });
  const msg = hist.messages.find((x) => x.help?.request === request.id);
  assert.equal(msg.help.status, 'taken');
  assert.equal(msg.text, 'Standard deviation');
  // A third accept after the fact is a conflict too; cancel of a taken request as well.
  assertError(await loser.client.request('help.accept', { request: request.id }), 'conflict');
  assertError(await asker.client.request('help.cancel', { request: request.id }), 'conflict');
  await winner.client.ok('call.hangup', { call: won.call });
  await asker.client.waitEvent('call.ended', (e) => e.call === won.call);
  await closeAll(asker, a, b);
});

test('nobody accepts: help.unanswered after help-timeout; help.wait offers again; cancel tells the experts', async () => {
  const { cid } = await circle();
  const asker = await person(cid, { n: 1 });
  const t0 = Date.now();
  const { request } = await asker.client.ok('help.request', { circle: cid, topic: 'Nobody is here' });
  assert.equal(request.status, 'open');
  const un = await asker.client.waitEvent('help.unanswered', forReq(request.id), 15000);
  const waited = Date.now() - t0;
  assert.ok(waited >= TIMEOUT_S * 1000 - 200, `unanswered after ${waited} ms, not before the timeout`);
  assert.deepEqual(un.options, ['wait', 'post', 'book']);
  let list = (await asker.client.ok('help.list', { circle: cid })).requests;
  assert.equal(list[0].status, 'unanswered');
  // An expert comes on duty; the asker keeps waiting: the request is offered again.
  const e = await person(cid, { role: 'expert', n: 0, duty: true });
  const w = await asker.client.ok('help.wait', { request: request.id });
  assert.equal(w.request.status, 'open');
  assert.equal(w.offered, 1);
  await e.client.waitEvent('help.offer', forReq(request.id));
  const c = await asker.client.ok('help.cancel', { request: request.id });
  assert.equal(c.request.status, 'cancelled');
  const ce = await e.client.waitEvent('help.cancelled', forReq(request.id));
  assert.equal(ce.reason, 'cancelled');
  assertError(await e.client.request('help.accept', { request: request.id }), 'conflict');
  list = (await asker.client.ok('help.list', { circle: cid })).requests;
  assert.equal(list[0].status, 'cancelled');
  await closeAll(asker, e);
});

test('help.list: newest first with statuses; errors for non-members, bad fields and strangers', async () => {
  const { cid } = await circle();
  const asker = await person(cid);
  const e = await person(cid, { role: 'expert', duty: true });
  const first = (await asker.client.ok('help.request', { circle: cid, topic: 'first' })).request.id;
  const second = (await asker.client.ok('help.request', { circle: cid, topic: 'second' })).request.id;
  await e.client.waitEvent('help.offer', forReq(second));
  await asker.client.ok('help.cancel', { request: first });
  const acc = await e.client.ok('help.accept', { request: second });
  let list = (await asker.client.ok('help.list', { circle: cid, limit: 10 })).requests;
  assert.deepEqual(list.map((x) => [x.id, x.status]), [[second, 'taken'], [first, 'cancelled']]);
  assert.equal(list[0].taken_by.id, e.user.id);
  assert.equal((await asker.client.ok('help.list', { circle: cid, limit: 1 })).requests.length, 1);
  // Once the call is over the request reads as answered.
  await e.client.ok('call.hangup', { call: acc.call });
  await asker.client.waitEvent('call.ended', (x) => x.call === acc.call);
  list = (await asker.client.ok('help.list', { circle: cid, limit: 10 })).requests;
  assert.deepEqual(list.map((x) => x.status), ['answered', 'cancelled']);
  assert.equal(list[0].taken_by.id, e.user.id);

  const outsider = await newMember(stack);
  assertError(await outsider.client.request('help.request', { circle: cid, topic: 'x' }), 'forbidden');
  assertError(await outsider.client.request('help.list', { circle: cid }), 'forbidden');
  assertError(await asker.client.request('help.request', { circle: NO_SUCH_ID, topic: 'x' }), 'not_found');
  assertError(await asker.client.request('help.request', { circle: cid }), 'bad_request', 'topic');
  assertError(await asker.client.request('help.request', { circle: cid, topic: '' }), 'bad_request', 'topic');
  assertError(await asker.client.request('help.request', { circle: cid, topic: 'x'.repeat(121) }), 'bad_request', 'topic');
  assertError(await asker.client.request('help.request', { circle: cid, topic: 'x', details: 'd'.repeat(2001) }), 'bad_request', 'details');
  assertError(await asker.client.request('help.request', { circle: cid, topic: 7 }), 'bad_request', 'topic');
  assertError(await asker.client.request('help.request', { topic: 'x' }), 'bad_request', 'circle');
  assertError(await asker.client.request('help.accept', {}), 'bad_request', 'request');
  assertError(await asker.client.request('help.accept', { request: NO_SUCH_ID }), 'not_found');
  assertError(await asker.client.request('help.list', { circle: cid, limit: 0 }), 'bad_request', 'limit');
  // Only the requester cancels or waits; only offered experts accept.
  const third = (await asker.client.ok('help.request', { circle: cid, topic: 'third' })).request.id;
  assertError(await e.client.request('help.cancel', { request: third }), 'forbidden');
  assertError(await e.client.request('help.wait', { request: third }), 'forbidden');
  assertError(await outsider.client.request('help.accept', { request: third }), 'forbidden');
  assertError(await asker.client.request('help.accept', { request: third }), 'forbidden');
  await asker.client.ok('help.cancel', { request: third });
  // An asker who has gone (closed the tab) cannot be put in a call.
  const fourth = (await asker.client.ok('help.request', { circle: cid, topic: 'fourth' })).request.id;
  await e.client.waitEvent('help.offer', forReq(fourth));
  await asker.client.close();
  await eventually(async () => {
    const r = await e.client.request('help.accept', { request: fourth });
    assert.notEqual(r.type, 'ok', 'no call with an asker who is gone');
    return r.message.includes('no longer connected');
  }, { what: 'accept refused once the asker is gone' });
  await closeAll(e, outsider);
});

test('a request times out even when the node that made it is gone (every node sweeps)', async () => {
  const { cid } = await circle();
  const doomed = await startReadyNode(h, { redisPort: stack.redisPort, label: 'signal-doomed', args: ARGS });
  const asker = await joined(stack, cid, 'd', doomed.wsUrl);
  const other = await device(node(0), asker); // the asker's second device, on a node that stays
  const { request } = await asker.client.ok('help.request', { circle: cid, topic: 'Still there?' });
  await h.stop(doomed.proc, 'SIGKILL'); // no chance to clean up or to run its own sweep
  const un = await other.client.waitEvent('help.unanswered', forReq(request.id), 15000);
  assert.deepEqual(un.options, ['wait', 'post', 'book']);
  assert.equal((await other.client.ok('help.list', { circle: cid })).requests[0].status, 'unanswered');
  // Exactly once: the deadline was claimed (removed) by the sweep that announced it, so no node can again.
  assert.equal(await stack.redisCmd('ZSCORE', 'help:deadlines', request.id), null);
  assert.equal(other.client.events.filter((e) => e.type === 'help.unanswered').length, 0);
  await other.client.close();
});
