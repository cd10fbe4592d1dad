// rooms.test.mjs — drop-in rooms over real staffroom-signal nodes and Redis: the standing room, who is
// inside (room.participants to the circle), join/update/leave, the cap (room_full), signals between
// participants only, members only, a dead socket leaves at once, a dead node's participants expire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, startNode } from '../lib/client.mjs';
import { assertError, user, circleWith, hexId } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000', '--room-media', 'mesh', '--room-max-participants', '3',
  '--room-participant-ttl', '3', '--presence-ttl', '3', '--presence-sweep-interval', '300'];
let h, stack;

before(async () => {
  h = new Harness('rooms');
  stack = await startStack(h, { nodes: 2, args: ARGS });
});
after(async () => { await h.close(); });

const inRoom = (room, n) => (e) => e.room === room && e.participants.length === n;
const users = (ev) => ev.participants.map((p) => p.user.id).sort();
// Exactly these users inside (events are buffered: a count alone could match an older event).
const only = (room, ids) => (e) => e.room === room && JSON.stringify(users(e)) === JSON.stringify([...ids].sort());

async function circleOf(n, roles, nodes = [0]) {
  const us = [];
  for (let i = 0; i < n; i++) us.push(await user(stack.nodes[nodes[i % nodes.length]].wsUrl, 'r'));
  const cid = await circleWith(stack, us, roles);
  const { rooms } = await us[0].client.ok('room.list', { circle: cid });
  assert.equal(rooms.length, 1, 'every circle has its standing drop-in room');
  assert.equal(rooms[0].standing, true);
  assert.deepEqual(rooms[0].participants, []);
  return { cid, us, room: rooms[0].id };
}

async function closeAll(us) { for (const u of us) await u.client.close(); }

test('join, see who is inside before joining, update camera/mic, leave', async () => {
  const { cid, us: [a, b, viewer], room } = await circleOf(3, [], [0, 1]);
  const again = await viewer.client.ok('room.list', { circle: cid });
  assert.equal(again.rooms[0].id, room, 'the standing room is made once');
  const ja = await a.client.ok('room.join', { room, camera: true, mic: false });
  assert.equal(ja.room.participants.length, 1);
  assert.ok(ja.device, 'join tells the device id');
  const jb = await b.client.ok('room.join', { room, camera: false, mic: true });
  const ev = await viewer.client.waitEvent('room.participants', inRoom(room, 2));
  assert.equal(ev.circle, cid);
  // the roster's revision orders the join answers and the events, whichever arrives first
  assert.ok(Number.isInteger(ja.room.rev) && jb.room.rev > ja.room.rev, `revisions grow: ${ja.room.rev} < ${jb.room.rev}`);
  assert.ok(ev.rev >= jb.room.rev, `the event of b's join is as new as b's answer (${ev.rev} >= ${jb.room.rev})`);
  assert.deepEqual(users(ev), [a.user.id, b.user.id].sort());
  const pa = ev.participants.find((p) => p.user.id === a.user.id);
  assert.equal(pa.camera, true);
  assert.equal(pa.mic, false);
  assert.equal(pa.device, ja.device);
  const listed = await viewer.client.ok('room.list', { circle: cid });
  assert.equal(listed.rooms[0].participants.length, 2, 'room.list shows who is inside');
  await a.client.ok('room.update', { room, camera: false, mic: true });
  const up = await viewer.client.waitEvent('room.participants', (e) => e.room === room
    && e.participants.some((p) => p.user.id === a.user.id && !p.camera && p.mic));
  assert.equal(up.participants.length, 2);
  assert.ok(up.rev > ev.rev, 'every change is a newer revision');
  await a.client.ok('room.leave', { room });
  const left = await viewer.client.waitEvent('room.participants', only(room, [b.user.id]));
  assert.deepEqual(users(left), [b.user.id]);
  assertError(await a.client.request('room.leave', { room }), 'not_found');
  assertError(await a.client.request('room.update', { room, camera: true, mic: true }), 'not_found');
  await closeAll([a, b, viewer]);
});

test('a room at its cap answers room_full', async () => {
  const { us, room } = await circleOf(4);
  for (const u of us.slice(0, 3)) await u.client.ok('room.join', { room, camera: true, mic: true });
  assertError(await us[3].client.request('room.join', { room, camera: true, mic: true }), 'room_full');
  // Joining again from inside is an update, not one more participant.
  await us[0].client.ok('room.join', { room, camera: false, mic: true });
  await us[2].client.ok('room.leave', { room });
  await us[3].client.ok('room.join', { room, camera: true, mic: true });
  await closeAll(us);
});

test('only circle members join; only participants signal, and only to participants', async () => {
  const { cid, us: [a, b], room } = await circleOf(2);
  const out = await user(stack.nodes[0].wsUrl, 'out');
  assertError(await out.client.request('room.join', { room, camera: true, mic: true }), 'forbidden');
  assertError(await out.client.request('room.list', { circle: cid }), 'forbidden');
  const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
  const jb = await b.client.ok('room.join', { room, camera: true, mic: true });
  await a.client.ok('room.signal', { room, to: jb.device, data: { type: 'offer', sdp: 'v=0' } });
  const sig = await b.client.waitEvent('room.signal', (e) => e.room === room);
  assert.equal(sig.from, ja.device);
  assert.equal(sig.data.sdp, 'v=0');
  assert.equal(sig.to_device, undefined);
  assertError(await out.client.request('room.signal', { room, to: jb.device, data: { x: 1 } }), 'forbidden');
  assertError(await a.client.request('room.signal', { room, to: 'nobody-1', data: { x: 1 } }), 'not_found');
  assertError(await a.client.request('room.join', { room: hexId(), camera: true, mic: true }), 'not_found');
  assertError(await a.client.request('room.join', { room: 'x', camera: true, mic: true }), 'bad_request', 'room');
  assertError(await a.client.request('room.join', { room }), 'bad_request', 'camera');
  await b.client.ok('room.leave', { room });
  assertError(await b.client.request('room.signal', { room, to: ja.device, data: { x: 1 } }), 'forbidden');
  assert.equal(b.client.events.filter((e) => e.type === 'room.signal').length, 0);
  await closeAll([a, b, out]);
});

test('moderators add rooms; members may not', async () => {
  const { cid, us: [mod, m] } = await circleOf(2, ['moderator', 'member']);
  const { room } = await mod.client.ok('room.create', { circle: cid, name: 'Marking clinic' });
  assert.equal(room.name, 'Marking clinic');
  await m.client.waitEvent('room.created', (e) => e.room.id === room.id);
  assertError(await m.client.request('room.create', { circle: cid, name: 'Mine' }), 'forbidden');
  const { rooms } = await m.client.ok('room.list', { circle: cid });
  assert.equal(rooms.length, 2);
  await closeAll([mod, m]);
});

test('a participant whose socket dies leaves the room at once; presence in_call meanwhile, even over presence.set', async () => {
  const { us: [a, b, viewer], room } = await circleOf(3, [], [0, 1]);
  await a.client.ok('room.join', { room, camera: true, mic: true });
  await b.client.ok('room.join', { room, camera: true, mic: true });
  await viewer.client.waitEvent('room.participants', only(room, [a.user.id, b.user.id]));
  await viewer.client.waitEvent('presence', (e) => e.user === b.user.id && e.status === 'in_call');
  viewer.client.events = viewer.client.events.filter((e) => e.type !== 'room.participants');
  b.client.terminate();
  const ev = await viewer.client.waitEvent('room.participants', only(room, [a.user.id]), 5000);
  assert.deepEqual(users(ev), [a.user.id]);
  // choosing "away" inside the room keeps in_call for others; it shows once a leaves
  const set = await a.client.ok('presence.set', { status: 'away' });
  assert.equal(set.combined, 'in_call');
  await a.client.ok('room.leave', { room });
  const back = await viewer.client.waitEvent('presence', (e) => e.user === a.user.id && e.status !== 'in_call');
  assert.equal(back.status, 'away');
  await closeAll([a, viewer]);
});

test('the participants of a node that dies expire within the participant TTL', async () => {
  const extra = await startNode(h, { redisPort: stack.redisPort, label: 'doomed', args: ARGS });
  const a = await user(stack.nodes[0].wsUrl, 'r');
  const d = await user(extra.wsUrl, 'r');
  const cid = await circleWith(stack, [a, d]);
  const { rooms: [{ id: room }] } = await a.client.ok('room.list', { circle: cid });
  await d.client.ok('room.join', { room, camera: true, mic: true });
  await a.client.waitEvent('room.participants', inRoom(room, 1));
  await h.stop(extra.proc, 'SIGKILL');
  const t0 = Date.now();
  await a.client.waitEvent('room.participants', inRoom(room, 0), 8000);
  const took = Date.now() - t0;
  assert.ok(took < 6000, `expired after ${took} ms`);
  await a.client.close();
});
