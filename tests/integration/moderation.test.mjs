// moderation.test.mjs — running a community (issue 11), on two real staffroom-signal nodes sharing one
// Redis: role requests and decisions, circle.remove (access lost at once on every device and node),
// moderators' deletions as tombstones, reports and the moderation queue, the audit log, suspension, and
// help.request's answer fields and reach:"online". Every request: who may (member, moderator, admin,
// outsider) and bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, NO_SUCH_ID, SIGNIN, startReadyStack } from '../lib/community.mjs';

const ARGS = [...SIGNIN, '--message-rate', '100000', '--message-burst', '10000'];
let h, stack, admin;

before(async () => {
  h = new Harness('moderation');
  stack = await startReadyStack(h, { nodes: 2, args: ARGS });
  admin = await newAdmin(stack);
});
after(async () => { await h.close(); });

const node = (i) => stack.nodes[i].wsUrl;

// A fresh open circle made by the admin (its moderator), with its general channel.
async function circle() {
  const { circle: c, channels } = await createCircle(admin);
  return { cid: c.id, general: channels.find((ch) => ch.name === 'general').id, help: channels.find((ch) => ch.name === 'help').id };
}

// A member of cid on node n, with `role` if not member.
async function person(cid, { role = 'member', n = 0 } = {}) {
  const m = await joined(stack, cid, role[0], node(n));
  if (role !== 'member') {
    await admin.client.ok('circle.set_role', { circle: cid, user: m.user.id, role });
    await m.client.waitEvent('circle.membership', (e) => e.circle === cid && e.role === role);
  }
  return m;
}

// Another connection of u's session on node n (auth.resume with its token).
async function device(u, n) {
  const client = await connect(node(n));
  await client.ok('auth.resume', { token: u.token });
  return client;
}

// Proves that client (signed in as uid) got no event matching pred so far: a marker published on the
// user's channel after the events in question arrives after anything published before it.
async function assertNoEvent(client, uid, pred, what) {
  const marker = `marker-${Math.random()}`;
  await stack.redisCmd('PUBLISH', `ev:u:${uid}`, JSON.stringify({ type: 'test.marker', marker }));
  await client.waitEvent('test.marker', (e) => e.marker === marker);
  assert.equal(client.events.filter(pred).length, 0, what);
}

async function auditActions(cid, by = admin) {
  return (await by.client.ok('moderation.audit', { circle: cid })).entries.map((e) => e.action);
}

async function closeAll(...cs) { for (const c of cs) await (c.client || c).close(); }

test('every new request needs a signed-in connection', async () => {
  const c = await connect(node(0));
  for (const [type, fields] of [
    ['circle.role_request', { circle: NO_SUCH_ID, role: 'expert' }], ['circle.role_requests', { circle: NO_SUCH_ID }],
    ['circle.role_decide', { circle: NO_SUCH_ID, user: NO_SUCH_ID, role: 'expert', approve: true }],
    ['circle.remove', { circle: NO_SUCH_ID, user: NO_SUCH_ID }],
    ['chat.report', { channel: NO_SUCH_ID, message: '1-0', reason: 'x' }], ['moderation.queue', { circle: NO_SUCH_ID }],
    ['moderation.resolve', { circle: NO_SUCH_ID, report: NO_SUCH_ID, action: 'dismiss' }],
    ['moderation.audit', { circle: NO_SUCH_ID }], ['admin.suspend', { user: NO_SUCH_ID }],
    ['admin.unsuspend', { user: NO_SUCH_ID }],
  ]) assertError(await c.request(type, fields), 'unauthorized');
  await c.close();
});

test('role requests: a member asks, moderators see and decide; the user hears the verdict; logged', async () => {
  const { cid } = await circle();
  const mod = await person(cid, { role: 'moderator', n: 1 });
  const ann = await person(cid);
  const ben = await person(cid, { n: 1 });
  const outsider = await newMember(stack);

  await ann.client.ok('circle.role_request', { circle: cid, role: 'expert', note: 'I teach stats at night' });
  const ev = await mod.client.waitEvent('circle.role_request', (e) => e.circle === cid && e.user.id === ann.user.id);
  assert.deepEqual([ev.role, ev.note, ev.user.name], ['expert', 'I teach stats at night', ann.user.name]);
  assert.equal(typeof ev.requested_at, 'number');
  await admin.client.waitEvent('circle.role_request', (e) => e.user.id === ann.user.id); // the admin moderates it too
  assertError(await ann.client.request('circle.role_request', { circle: cid, role: 'mentor' }), 'conflict');
  await ben.client.ok('circle.role_request', { circle: cid, role: 'mentor' });
  // bad input and who may ask
  assertError(await outsider.client.request('circle.role_request', { circle: cid, role: 'expert' }), 'forbidden');
  assertError(await ann.client.request('circle.role_request', { circle: NO_SUCH_ID, role: 'expert' }), 'not_found');
  assertError(await ann.client.request('circle.role_request', { circle: 'c1', role: 'expert' }), 'bad_request', 'circle');
  assertError(await ann.client.request('circle.role_request', { circle: cid, role: 'moderator' }), 'bad_request', 'role');
  assertError(await ann.client.request('circle.role_request', { circle: cid }), 'bad_request', 'role');
  assertError(await ann.client.request('circle.role_request', { circle: cid, role: 'expert', note: 'n'.repeat(501) }), 'bad_request', 'note');

  // the list: moderators and admins only, oldest first
  const { requests } = await mod.client.ok('circle.role_requests', { circle: cid });
  assert.deepEqual(requests.map((q) => [q.user.id, q.role]), [[ann.user.id, 'expert'], [ben.user.id, 'mentor']]);
  assert.equal(requests[0].note, 'I teach stats at night');
  assertError(await ann.client.request('circle.role_requests', { circle: cid }), 'forbidden');
  assertError(await outsider.client.request('circle.role_requests', { circle: cid }), 'forbidden');

  // decisions: members may not; approve sets the role with the usual events; decline only tells the user
  assertError(await ben.client.request('circle.role_decide', { circle: cid, user: ann.user.id, role: 'expert', approve: true }), 'forbidden');
  assertError(await mod.client.request('circle.role_decide', { circle: cid, user: ann.user.id, role: 'mentor', approve: true }), 'not_found');
  assertError(await mod.client.request('circle.role_decide', { circle: cid, user: ann.user.id, role: 'expert' }), 'bad_request', 'approve');
  assertError(await mod.client.request('circle.role_decide', { circle: cid, user: 'u', role: 'expert', approve: true }), 'bad_request', 'user');
  await mod.client.ok('circle.role_decide', { circle: cid, user: ann.user.id, role: 'expert', approve: true });
  const verdict = await ann.client.waitEvent('circle.role_decided', (e) => e.circle === cid);
  assert.deepEqual([verdict.role, verdict.approved], ['expert', true]);
  await ann.client.waitEvent('circle.membership', (e) => e.circle === cid && e.role === 'expert');
  await ben.client.waitEvent('circle.role', (e) => e.user.id === ann.user.id && e.role === 'expert');
  await admin.client.ok('circle.role_decide', { circle: cid, user: ben.user.id, role: 'mentor', approve: false });
  const no = await ben.client.waitEvent('circle.role_decided', (e) => e.circle === cid);
  assert.equal(no.approved, false);
  assert.deepEqual((await mod.client.ok('circle.role_requests', { circle: cid })).requests, []);
  // an expert asking to be an expert again: conflict
  assertError(await ann.client.request('circle.role_request', { circle: cid, role: 'expert' }), 'conflict');
  // circle.set_role and the decisions are in the audit log, newest first
  await mod.client.ok('circle.set_role', { circle: cid, user: ben.user.id, role: 'expert' });
  const { entries } = await mod.client.ok('moderation.audit', { circle: cid });
  assert.deepEqual(entries.slice(0, 3).map((e) => [e.action, e.target_user.id, e.actor.id]), [
    ['role_set', ben.user.id, mod.user.id], ['role_request_decided', ben.user.id, admin.user.id],
    ['role_request_decided', ann.user.id, mod.user.id]]);
  assert.match(entries[1].detail, /declined/);
  await closeAll(mod, ann, ben, outsider);
});

test('circle.remove: access ends at once on every device and node; the removed user hears no more', async () => {
  const { cid, general } = await circle();
  const mod = await person(cid, { role: 'moderator' });
  const pat = await person(cid);                  // device 1 on node 0
  const patOn1 = await device(pat, 1);            // device 2 on node 1
  const watcher = await person(cid, { n: 1 });
  // pat is in the circle's drop-in room from node 1
  const { rooms } = await patOn1.ok('room.list', { circle: cid });
  const room = rooms[0].id;
  await patOn1.ok('room.join', { room, camera: false, mic: true });
  await watcher.client.waitEvent('room.participants', (e) => e.room === room && e.participants.some((p) => p.user.id === pat.user.id));

  // who may remove whom
  assertError(await watcher.client.request('circle.remove', { circle: cid, user: pat.user.id }), 'forbidden');
  assertError(await mod.client.request('circle.remove', { circle: cid, user: mod.user.id }), 'conflict');
  assertError(await mod.client.request('circle.remove', { circle: cid, user: NO_SUCH_ID }), 'not_found');
  assertError(await mod.client.request('circle.remove', { circle: NO_SUCH_ID, user: pat.user.id }), 'not_found');
  assertError(await mod.client.request('circle.remove', { circle: cid, user: 'x' }), 'bad_request', 'user');
  assertError(await mod.client.request('circle.remove', { circle: cid, user: pat.user.id, reason: 'r'.repeat(501) }), 'bad_request', 'reason');

  await mod.client.ok('circle.remove', { circle: cid, user: pat.user.id, reason: 'spam' });
  for (const c of [pat.client, patOn1]) {
    const ev = await c.waitEvent('circle.membership', (e) => e.circle === cid && e.status === 'none');
    assert.equal(ev.role, null);
  }
  const left = await watcher.client.waitEvent('circle.member_left', (e) => e.user.id === pat.user.id);
  assert.equal(left.removed, true);
  // out of the room too: the others see it, and the device's node forgot it (no media, nothing to leave)
  await watcher.client.waitEvent('room.participants', (e) => e.room === room && !e.participants.some((p) => p.user.id === pat.user.id));
  await patOn1.waitEvent('room.removed', (e) => e.room === room);
  assertError(await patOn1.request('room.media.offer', { room, sdp: 'v=0', tracks: { 0: 'mic' } }), 'not_found');
  assertError(await patOn1.request('room.leave', { room }), 'not_found');
  assertError(await patOn1.request('room.join', { room, camera: false, mic: true }), 'forbidden');
  // the other device, on the other node: no chat, no history, no member list
  assertError(await patOn1.request('chat.send', { channel: general, text: 'still here?' }), 'forbidden');
  assertError(await patOn1.request('chat.history', { channel: general }), 'forbidden');
  assertError(await pat.client.request('circle.members', { circle: cid }), 'forbidden');
  // and no more circle events on either device
  const after = (await mod.client.ok('chat.send', { channel: general, text: 'after the removal' })).message;
  await watcher.client.waitEvent('chat.message', (e) => e.message.id === after.id);
  for (const c of [pat.client, patOn1])
    await assertNoEvent(c, pat.user.id, (e) => e.type === 'chat.message' && e.message.id === after.id, 'a removed member gets no circle events');
  assert.equal((await pat.client.ok('circle.get', { circle: cid })).circle.my_status, 'none');
  const entry = (await mod.client.ok('moderation.audit', { circle: cid })).entries[0];
  assert.deepEqual([entry.action, entry.target_user.id, entry.detail], ['member_removed', pat.user.id, 'spam']);
  // the circle's last moderator cannot be removed (the admin made the circle: demote it first)
  await admin.client.ok('circle.set_role', { circle: cid, user: admin.user.id, role: 'member' });
  assertError(await admin.client.request('circle.remove', { circle: cid, user: mod.user.id }), 'conflict');
  await closeAll(mod, pat, patOn1, watcher);
});

test('chat.delete by a moderator leaves a tombstone and is logged; by the author, the message is gone', async () => {
  const { cid, general, help } = await circle();
  const mod = await person(cid, { role: 'moderator', n: 1 });
  const amy = await person(cid);
  const rude = (await amy.client.ok('chat.send', { channel: general, text: 'something rude' })).message;
  const oops = (await amy.client.ok('chat.send', { channel: general, text: 'oops' })).message;
  await mod.client.ok('chat.delete', { channel: general, message: rude.id });
  const ev = await amy.client.waitEvent('chat.deleted', (e) => e.message === rude.id);
  assert.deepEqual([ev.by, ev.channel, ev.circle], ['moderator', general, cid]);
  await amy.client.ok('chat.delete', { channel: general, message: oops.id });
  assert.equal((await mod.client.waitEvent('chat.deleted', (e) => e.message === oops.id)).by, 'author');
  const { messages } = await amy.client.ok('chat.history', { channel: general });
  assert.deepEqual(messages.map((m) => [m.id, m.text, m.removed]), [[rude.id, '', 'moderator']]);
  assert.equal(messages[0].user.id, amy.user.id);
  // a tombstone cannot be edited, deleted again or reported
  assertError(await amy.client.request('chat.edit', { channel: general, message: rude.id, text: 'fixed' }), 'not_found');
  assertError(await mod.client.request('chat.delete', { channel: general, message: rude.id }), 'not_found');
  assertError(await mod.client.request('chat.report', { channel: general, message: rude.id, reason: 'rude' }), 'not_found');
  const entry = (await mod.client.ok('moderation.audit', { circle: cid })).entries[0];
  assert.deepEqual([entry.action, entry.message, entry.channel, entry.target_user.id, entry.actor.id],
    ['message_removed', rude.id, general, amy.user.id, mod.user.id]);
  // a removed help request's post shows nothing of it, and its later status changes do not bring it back
  const asked = (await amy.client.ok('help.request', { circle: cid, topic: 'my private topic' })).request;
  await mod.client.ok('chat.delete', { channel: help, message: asked.message });
  await amy.client.ok('help.cancel', { request: asked.id });
  await assertNoEvent(mod.client, mod.user.id, (e) => e.type === 'chat.updated' && e.message.id === asked.message, 'no update of a tombstone');
  const post = (await mod.client.ok('chat.history', { channel: help })).messages.find((m) => m.id === asked.message);
  assert.deepEqual([post.text, post.removed, post.help], ['', 'moderator', undefined]);
  await closeAll(mod, amy);
});

test('reports: members report once; moderators get them, work the queue, dismiss or remove; logged', async () => {
  const { cid, general } = await circle();
  const mod = await person(cid, { role: 'moderator', n: 1 });
  const amy = await person(cid);
  const bo = await person(cid, { n: 1 });
  const outsider = await newMember(stack);
  const m1 = (await amy.client.ok('chat.send', { channel: general, text: 'buy cheap pills' })).message;
  const m2 = (await amy.client.ok('chat.send', { channel: general, text: 'a fair point' })).message;

  const r1 = (await bo.client.ok('chat.report', { channel: general, message: m1.id, reason: 'spam' })).report;
  assert.match(r1.id, /^[0-9a-f]{32}$/);
  assert.deepEqual([r1.circle, r1.channel, r1.message.id, r1.message.text, r1.message.user.id, r1.reporter.id, r1.reason, r1.status],
    [cid, general, m1.id, 'buy cheap pills', amy.user.id, bo.user.id, 'spam', 'open']);
  assert.equal(typeof r1.created, 'number');
  const ev = await mod.client.waitEvent('moderation.report', (e) => e.report.id === r1.id);
  assert.equal(ev.circle, cid);
  assertError(await bo.client.request('chat.report', { channel: general, message: m1.id, reason: 'again' }), 'conflict');
  const r2 = (await mod.client.ok('chat.report', { channel: general, message: m1.id, reason: 'spam too' })).report;
  const r3 = (await amy.client.ok('chat.report', { channel: general, message: m2.id, reason: 'meh' })).report;
  // bad input and outsiders
  assertError(await outsider.client.request('chat.report', { channel: general, message: m1.id, reason: 'x' }), 'forbidden');
  assertError(await bo.client.request('chat.report', { channel: general, message: m1.id, reason: '' }), 'bad_request', 'reason');
  assertError(await bo.client.request('chat.report', { channel: general, message: m1.id, reason: 'r'.repeat(501) }), 'bad_request', 'reason');
  assertError(await bo.client.request('chat.report', { channel: general, message: m1.id }), 'bad_request', 'reason');
  assertError(await bo.client.request('chat.report', { channel: general, message: 'm1', reason: 'x' }), 'bad_request', 'message');
  assertError(await bo.client.request('chat.report', { channel: general, message: '1-0', reason: 'x' }), 'not_found');
  assertError(await bo.client.request('chat.report', { channel: NO_SUCH_ID, message: m1.id, reason: 'x' }), 'not_found');

  // the queue: open reports, oldest first; moderators and admins only
  const q = await mod.client.ok('moderation.queue', { circle: cid });
  assert.deepEqual(q.reports.map((r) => r.id), [r1.id, r2.id, r3.id]);
  assertError(await bo.client.request('moderation.queue', { circle: cid }), 'forbidden');
  assertError(await outsider.client.request('moderation.queue', { circle: cid }), 'forbidden');
  assertError(await mod.client.request('moderation.queue', { circle: NO_SUCH_ID }), 'not_found');

  // resolving
  assertError(await bo.client.request('moderation.resolve', { circle: cid, report: r3.id, action: 'dismiss' }), 'forbidden');
  assertError(await mod.client.request('moderation.resolve', { circle: cid, report: r3.id, action: 'ban' }), 'bad_request', 'action');
  assertError(await mod.client.request('moderation.resolve', { circle: cid, report: NO_SUCH_ID, action: 'dismiss' }), 'not_found');
  await mod.client.ok('moderation.resolve', { circle: cid, report: r3.id, action: 'dismiss' });
  assertError(await mod.client.request('moderation.resolve', { circle: cid, report: r3.id, action: 'remove' }), 'conflict');
  await admin.client.ok('moderation.resolve', { circle: cid, report: r1.id, action: 'remove' });
  const del = await amy.client.waitEvent('chat.deleted', (e) => e.message === m1.id);
  assert.equal(del.by, 'moderator');
  // every open report of that message is closed with it; the other message is untouched
  assert.deepEqual((await mod.client.ok('moderation.queue', { circle: cid })).reports, []);
  const { messages } = await bo.client.ok('chat.history', { channel: general });
  assert.deepEqual(messages.map((m) => [m.id, m.text]), [[m1.id, ''], [m2.id, 'a fair point']]);
  const actions = await auditActions(cid, mod);
  assert.deepEqual(actions.slice(0, 3), ['report_resolved', 'message_removed', 'report_resolved']);
  await closeAll(mod, amy, bo, outsider);
});

test('moderation.audit: newest first, paged with before/limit; moderators and admins only', async () => {
  const { cid } = await circle();
  const mod = await person(cid, { role: 'moderator' });
  const m = await person(cid, { n: 1 });
  for (const role of ['expert', 'mentor', 'member', 'expert', 'member']) await mod.client.ok('circle.set_role', { circle: cid, user: m.user.id, role });
  const first = await mod.client.ok('moderation.audit', { circle: cid, limit: 2 });
  assert.equal(first.has_more, true);
  assert.deepEqual(first.entries.map((e) => e.detail), ['member', 'expert']);
  for (const e of first.entries) {
    assert.match(e.id, /^\d+-\d+$/);
    assert.equal(typeof e.ts, 'number');
    assert.deepEqual([e.actor.id, e.action, e.target_user.name], [mod.user.id, 'role_set', m.user.name]);
  }
  const next = await mod.client.ok('moderation.audit', { circle: cid, before: first.entries[1].id, limit: 100 });
  assert.deepEqual(next.entries.map((e) => e.detail), ['member', 'mentor', 'expert', 'moderator']);
  assert.equal(next.has_more, false);
  assert.equal((await admin.client.ok('moderation.audit', { circle: cid })).entries.length, 6);
  assertError(await m.client.request('moderation.audit', { circle: cid }), 'forbidden');
  assertError(await mod.client.request('moderation.audit', { circle: cid, limit: 0 }), 'bad_request', 'limit');
  assertError(await mod.client.request('moderation.audit', { circle: cid, limit: 101 }), 'bad_request', 'limit');
  assertError(await mod.client.request('moderation.audit', { circle: cid, before: 'yesterday' }), 'bad_request', 'before');
  assertError(await mod.client.request('moderation.audit', { circle: NO_SUCH_ID }), 'not_found');
  assert.deepEqual((await mod.client.ok('moderation.audit', { circle: cid, before: '0-1' })).entries, []);
  await closeAll(mod, m);
});

test('admin.suspend closes every connection of the user on every node; sign-in refused until unsuspended', async () => {
  const { cid } = await circle();
  const sue = await person(cid);
  const sueOn1 = await device(sue, 1);
  const other = await person(cid, { n: 1 });
  // admins only; not oneself; bad input
  assertError(await other.client.request('admin.suspend', { user: sue.user.id }), 'forbidden');
  assertError(await admin.client.request('admin.suspend', { user: admin.user.id }), 'conflict');
  assertError(await admin.client.request('admin.suspend', { user: NO_SUCH_ID }), 'not_found');
  assertError(await admin.client.request('admin.suspend', { user: 'sue' }), 'bad_request', 'user');
  assertError(await admin.client.request('admin.suspend', { user: sue.user.id, reason: 'r'.repeat(501) }), 'bad_request', 'reason');
  assertError(await admin.client.request('admin.unsuspend', { user: sue.user.id }), 'conflict');

  await admin.client.ok('admin.suspend', { user: sue.user.id, reason: 'harassment' });
  for (const c of [sue.client, sueOn1]) {
    const ev = await c.waitEvent('auth.suspended', () => true);
    assert.equal(ev.reason, 'harassment');
    const closed = await c.waitClose();
    assert.equal(closed.code, 1008);
  }
  const c = await connect(node(1));
  assertError(await c.request('auth.login', { name: sue.user.name, password: sue.password }, 30000), 'suspended');
  assertError(await c.request('auth.resume', { token: sue.token }), 'suspended');
  assert.deepEqual((await auditActions(cid)).slice(0, 1), ['user_suspended']);
  // other users are not touched
  assert.equal((await other.client.request('profile.get', {})).type, 'ok');

  assertError(await other.client.request('admin.unsuspend', { user: sue.user.id }), 'forbidden');
  await admin.client.ok('admin.unsuspend', { user: sue.user.id });
  assert.equal((await c.request('auth.resume', { token: sue.token })).type, 'ok');
  assert.equal((await c.request('auth.login', { name: sue.user.name, password: sue.password }, 30000)).type, 'ok');
  assert.deepEqual((await auditActions(cid)).slice(0, 2), ['user_unsuspended', 'user_suspended']);
  await closeAll(c, other);
});

test('help.request answers experts_on_duty/experts_online; reach "online" nudges experts not on duty', async () => {
  const { cid } = await circle();
  const asker = await person(cid);
  const onDuty = await person(cid, { role: 'expert', n: 1 });
  await onDuty.client.ok('help.duty', { circle: cid, on: true });
  const idle = await person(cid, { role: 'mentor', n: 1 });
  const r = await asker.client.ok('help.request', { circle: cid, topic: 'fractions', reach: 'online' });
  assert.deepEqual([r.offered, r.experts_on_duty, r.experts_online], [1, 1, 2]);
  const nudge = await idle.client.waitEvent('help.nudge', (e) => e.request === r.request.id);
  assert.deepEqual([nudge.circle, nudge.topic, nudge.by.id], [cid, 'fractions', asker.user.id]);
  await onDuty.client.waitEvent('help.offer', (e) => e.request.id === r.request.id);
  await assertNoEvent(onDuty.client, onDuty.user.id, (e) => e.type === 'help.nudge', 'the expert on duty gets the offer, not a nudge');
  // a nudged expert may take the request
  const taken = await idle.client.ok('help.accept', { request: r.request.id });
  assert.equal(taken.request.status, 'taken');
  // the default reach nudges nobody
  await idle.client.ok('call.hangup', { call: taken.call });
  const quiet = await asker.client.ok('help.request', { circle: cid, topic: 'decimals' });
  assert.deepEqual([quiet.offered, quiet.experts_on_duty, quiet.experts_online], [1, 1, 2]);
  await assertNoEvent(idle.client, idle.user.id, (e) => e.type === 'help.nudge' && e.request === quiet.request.id, 'no nudge without reach online');
  assertError(await asker.client.request('help.request', { circle: cid, topic: 't', reach: 'everyone' }), 'bad_request', 'reach');
  await closeAll(asker, onDuty, idle);
});

test('circle.list mine:true lists only my circles (member or pending)', async () => {
  const a = await circle();
  const b = await circle();
  const { circle: moderated } = await createCircle(admin, { moderated: true });
  const u = await joined(stack, a.cid, 'mine');
  await u.client.ok('circle.join', { circle: moderated.id });
  const { circles, next_cursor } = await u.client.ok('circle.list', { mine: true });
  assert.deepEqual(circles.map((c) => [c.id, c.my_status]), [[a.cid, 'member'], [moderated.id, 'pending']]);
  assert.equal(next_cursor, null);
  assert.ok(!circles.some((c) => c.id === b.cid));
  assertError(await u.client.request('circle.list', { mine: 'yes' }), 'bad_request', 'mine');
  await u.client.close();
});

test('an admin who is not a member moderates any circle: queue, audit, deletion, removal, role decisions', async () => {
  const { cid, general } = await circle();
  const other = await newAdmin(stack, node(1));
  const amy = await person(cid);
  const m = (await amy.client.ok('chat.send', { channel: general, text: 'off topic' })).message;
  await amy.client.ok('chat.report', { channel: general, message: m.id, reason: 'off topic' });
  assert.equal((await other.client.ok('moderation.queue', { circle: cid })).reports.length, 1);
  await other.client.ok('chat.delete', { channel: general, message: m.id });
  assert.equal((await amy.client.waitEvent('chat.deleted', (e) => e.message === m.id)).by, 'moderator');
  await amy.client.ok('circle.role_request', { circle: cid, role: 'mentor' });
  await other.client.ok('circle.role_decide', { circle: cid, user: amy.user.id, role: 'mentor', approve: true });
  await amy.client.waitEvent('circle.role_decided', (e) => e.approved === true);
  await other.client.ok('circle.remove', { circle: cid, user: amy.user.id });
  await amy.client.waitEvent('circle.membership', (e) => e.circle === cid && e.status === 'none');
  const actions = (await other.client.ok('moderation.audit', { circle: cid })).entries.map((e) => [e.action, e.actor.id]);
  assert.deepEqual(actions.slice(0, 3), [['member_removed', other.user.id], ['role_request_decided', other.user.id],
    ['message_removed', other.user.id]]);
  assert.deepEqual((await other.client.ok('circle.role_requests', { circle: cid })).requests, []);
  await closeAll(other, amy);
});
