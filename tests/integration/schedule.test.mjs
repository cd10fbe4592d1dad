// schedule.test.mjs — scheduled mentoring against real staffroom-signal nodes and Redis: availability,
// slots across a daylight-saving change, atomic booking, rules re-checked, cancel/reschedule events,
// reminders (claimed once across two nodes, waiting for an offline user), the session join window,
// mentoring notes, and the .ics export checked by libical (tests/integration/ics_check.c).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually, bin } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joinAndWait, assertError, NO_SUCH_ID, SIGNIN, startReadyStack, startReadyNode } from '../lib/community.mjs';

const TICK = ['--schedule-tick', '200'];
let h, stack, admin, circle;

// 2027-03-23 is a Tuesday on GMT; 2027-03-30 a Tuesday on BST (clocks go forward on 2027-03-28).
const MAR23_1900Z = Date.UTC(2027, 2, 23, 19, 0) / 1000;
const MAR30_1800Z = Date.UTC(2027, 2, 30, 18, 0) / 1000;
const LONDON = { tz: 'Europe/London', windows: [{ day: 'tue', start: '19:00', end: '21:00' }],
  slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 60, max_ahead_days: 180 };
// Every day, all day, in UTC, 5-minute slots, no notice: a slot starts within 5 minutes of any moment.
const ALWAYS = { tz: 'UTC', windows: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((day) => ({ day, start: '00:00', end: '24:00' })),
  slot_minutes: 5, buffer_minutes: 0, min_notice_minutes: 0, max_ahead_days: 180 };

before(async () => {
  h = new Harness('schedule');
  stack = await startReadyStack(h, { args: ['--presence-ttl', '3', ...SIGNIN, ...TICK] });
  admin = await newAdmin(stack);
  circle = (await createCircle(admin, { name: 'Mentoring circle' })).circle;
});

after(async () => { await h.close(); });

async function member(prefix = 'm', url = stack.wsUrl) {
  const m = await newMember(stack, prefix, url);
  await joinAndWait(m, circle.id);
  return m;
}

async function mentor(rules) {
  const m = await member('mentor');
  await admin.client.ok('circle.set_role', { circle: circle.id, user: m.user.id, role: 'mentor' });
  await m.client.waitEvent('circle.membership', (e) => e.role === 'mentor');
  if (rules) await m.client.ok('schedule.availability.set', rules);
  return m;
}

// The first slot of `rules`' 5-minute grid that starts at least `leadS` seconds from now.
function nextGrid(leadS) {
  const t = Math.floor(Date.now() / 1000) + leadS;
  return Math.ceil(t / 300) * 300;
}

// The start of a session whose room is open now (it opens 300 s before its start): the next 5-minute
// boundary at least leadS ahead. In the last leadS seconds before a boundary that one is too close to book
// and the one after is not open yet, so it waits for the boundary to pass (at most leadS seconds; the
// clock is the event here).
async function openGrid(leadS) {
  for (;;) {
    const start = nextGrid(leadS);
    if (start - 300 <= Math.floor(Date.now() / 1000)) return start;
    await new Promise((resolve) => setTimeout(resolve, (start - 300) * 1000 - Date.now() + 50));
  }
}

function icsFields(text) {
  const file = path.join(h.dir, `b${Math.random().toString(16).slice(2)}.ics`);
  fs.writeFileSync(file, text);
  const out = execFileSync(bin('tests/integration/ics_check'), [file], { encoding: 'utf8' });
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

test('schedule requests before sign-in are unauthorized', async () => {
  const c = await connect(stack.wsUrl);
  for (const [type, fields] of [['schedule.availability.set', LONDON], ['schedule.slots', { mentor: NO_SUCH_ID }],
    ['schedule.book', { mentor: NO_SUCH_ID, start: MAR23_1900Z }], ['schedule.mine', {}],
    ['session.join', { booking: NO_SUCH_ID }], ['notifications.list', {}],
    ['mentoring.notes.list', { with: NO_SUCH_ID }]])
    assertError(await c.request(type, fields), 'unauthorized');
  await c.close();
});

test('schedule.availability.set/get: a mentor publishes rules; fields are validated; non-mentors are forbidden', async () => {
  const m = await mentor();
  const c = m.client;
  assertError(await c.request('schedule.availability.set', { ...LONDON, tz: undefined }), 'bad_request', 'tz');
  assertError(await c.request('schedule.availability.set', { ...LONDON, tz: 'Mars/Olympus' }), 'bad_request', 'tz');
  assertError(await c.request('schedule.availability.set', { ...LONDON, windows: [{ day: 'tue', start: '21:00', end: '19:00' }] }), 'bad_request', 'windows');
  assertError(await c.request('schedule.availability.set', { ...LONDON, windows: [{ day: 'funday', start: '19:00', end: '21:00' }] }), 'bad_request', 'windows');
  assertError(await c.request('schedule.availability.set', { ...LONDON, windows: [{ day: 'tue', start: '19:00', end: '21:00' }, { day: 'tue', start: '20:00', end: '22:00' }] }), 'bad_request', 'windows');
  assertError(await c.request('schedule.availability.set', { ...LONDON, slot_minutes: 1 }), 'bad_request', 'slot_minutes');
  assertError(await c.request('schedule.availability.set', { ...LONDON, max_ahead_days: 1000 }), 'bad_request', 'max_ahead_days');
  const set = await c.ok('schedule.availability.set', { tz: 'Europe/London', windows: [{ day: 'tue', start: '19:00', end: '21:00' }] });
  assert.deepEqual(set.availability, { tz: 'Europe/London', windows: [{ day: 'tue', start: '19:00', end: '21:00' }],
    slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 60, max_ahead_days: 60 });
  const other = await member();
  const got = await other.client.ok('schedule.availability.get', { mentor: m.user.id });
  assert.equal(got.mentor.id, m.user.id);
  assert.deepEqual(got.availability, set.availability);
  assert.equal((await other.client.ok('schedule.availability.get', {})).availability, null);
  assertError(await other.client.request('schedule.availability.set', LONDON), 'forbidden');
  assertError(await other.client.request('schedule.availability.get', { mentor: NO_SUCH_ID }), 'not_found');
  assertError(await other.client.request('schedule.slots', { mentor: other.user.id }), 'not_found');
});

test('schedule.slots: a Tuesday 19:00 Europe/London window is 19:00Z in March and 18:00Z after the clocks change', async () => {
  const m = await mentor(LONDON);
  const u = await member();
  const r = await u.client.ok('schedule.slots', { mentor: m.user.id, from: MAR23_1900Z - 86400, to: MAR30_1800Z + 86400 });
  assert.equal(r.tz, 'Europe/London');
  assert.deepEqual(r.slots.map((s) => s.start), [0, 1800, 3600, 5400].map((d) => MAR23_1900Z + d)
    .concat([0, 1800, 3600, 5400].map((d) => MAR30_1800Z + d)));
  for (const s of r.slots) assert.equal(s.end - s.start, 1800);
  // booking both lands at the right instants, and the booked slots leave the list
  const b1 = await u.client.ok('schedule.book', { mentor: m.user.id, start: MAR23_1900Z, topic: 'Before the change' });
  const b2 = await u.client.ok('schedule.book', { mentor: m.user.id, start: MAR30_1800Z, topic: 'After the change' });
  assert.equal(b1.booking.start, MAR23_1900Z);
  assert.equal(b2.booking.start, MAR30_1800Z);
  assert.equal(b2.booking.end, MAR30_1800Z + 1800);
  const again = await u.client.ok('schedule.slots', { mentor: m.user.id, from: MAR23_1900Z - 86400, to: MAR30_1800Z + 86400 });
  assert.equal(again.slots.length, 6);
  assert.ok(!again.slots.some((s) => s.start === MAR23_1900Z || s.start === MAR30_1800Z));
  assertError(await u.client.request('schedule.slots', { mentor: m.user.id, from: 100, to: 50 }), 'bad_request', 'to');
  assertError(await u.client.request('schedule.slots', { mentor: m.user.id, from: 0, to: 40 * 86400 }), 'bad_request', 'to');
});

test('schedule.book: two mentees booking one slot at the same moment → exactly one succeeds', async () => {
  const m = await mentor(LONDON);
  const [a, b] = [await member(), await member()];
  const around = MAR23_1900Z + 14 * 86400; // Tuesday 2027-04-06
  const slots = await a.client.ok('schedule.slots', { mentor: m.user.id, from: around - 86400, to: around + 86400 });
  assert.equal(slots.slots[0].start, around - 3600); // 19:00 BST
  const slot = slots.slots[0].start;
  const answers = await Promise.all([a, b].map((x) => x.client.request('schedule.book', { mentor: m.user.id, start: slot, topic: 'race' })));
  assert.equal(answers.filter((r) => r.type === 'ok').length, 1, JSON.stringify(answers));
  assertError(answers.find((r) => r.type === 'error'), 'conflict');
});

test('schedule.book: the rules are checked again (not a slot, too soon, too far, yourself, not a fellow member)', async () => {
  const m = await mentor(LONDON);
  const u = await member();
  assertError(await u.client.request('schedule.book', { mentor: m.user.id, start: MAR23_1900Z + 900 }), 'bad_request', 'start');
  assertError(await u.client.request('schedule.book', { mentor: m.user.id, start: MAR23_1900Z + 86400 }), 'bad_request', 'start');
  assertError(await u.client.request('schedule.book', { mentor: m.user.id }), 'bad_request', 'start');
  assertError(await m.client.request('schedule.book', { mentor: m.user.id, start: MAR23_1900Z }), 'bad_request', 'mentor');
  const soon = await mentor({ ...ALWAYS, min_notice_minutes: 60, max_ahead_days: 30 });
  assertError(await u.client.request('schedule.book', { mentor: soon.user.id, start: nextGrid(120) }), 'conflict', 'start');
  assertError(await u.client.request('schedule.book', { mentor: soon.user.id, start: nextGrid(40 * 86400) }), 'conflict', 'start');
  assertError(await u.client.request('schedule.book', { mentor: m.user.id, start: String(MAR23_1900Z) }), 'bad_request', 'start');
  assertError(await u.client.request('schedule.book', { mentor: m.user.id, start: MAR23_1900Z, topic: 'x'.repeat(201) }), 'bad_request', 'topic');
  assertError(await u.client.request('schedule.book', { mentor: 'nonsense', start: MAR23_1900Z }), 'bad_request', 'mentor');
  assertError(await m.client.request('schedule.availability.set', { ...LONDON,
    windows: Array.from({ length: 29 }, (_, i) => ({ day: 'mon', start: `${String(i % 24).padStart(2, '0')}:00`, end: '24:00' })) }), 'bad_request', 'windows');
  // one person, one session at a time: the same mentee cannot book two mentors at once
  const other = await mentor(LONDON);
  await u.client.ok('schedule.book', { mentor: m.user.id, start: MAR23_1900Z + 5400 });
  const twice = await u.client.request('schedule.book', { mentor: other.user.id, start: MAR23_1900Z + 5400 });
  assertError(twice, 'conflict');
  assert.match(twice.message, /you already have a session/);
  const outsider = await newMember(stack, 'out'); // not in the circle
  assertError(await outsider.client.request('schedule.book', { mentor: m.user.id, start: MAR23_1900Z + 3600 }), 'forbidden');
  assertError(await u.client.request('schedule.book', { mentor: NO_SUCH_ID, start: MAR23_1900Z }), 'not_found');
});

test('schedule.reschedule and schedule.cancel: both parties are told; the .ics follows (libical)', async () => {
  const m = await mentor(LONDON);
  const u = await member();
  const third = await member();
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start: MAR23_1900Z, topic: 'Fractions, ratios; and "more"' })).booking;
  for (const c of [m.client, u.client]) await c.waitEvent('schedule.booked', (e) => e.booking.id === b.id);
  assert.equal(b.status, 'booked');
  assert.equal(b.mentor.id, m.user.id);
  assert.equal(b.mentee.id, u.user.id);
  assert.equal(b.sequence, 0);

  const url = `${stack.httpUrl}/ics/${b.id}.ics`;
  // The calendar token (calendar.token), never the session token, opens the .ics.
  const uCal = (await u.client.ok('calendar.token')).token;
  const mCal = (await m.client.ok('calendar.token')).token;
  let res = await fetch(`${url}?token=${uCal}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/calendar/);
  let f = icsFields(await res.text());
  assert.equal(f.METHOD, 'REQUEST');
  assert.equal(f.UID, `${b.id}@staffroom`);
  assert.equal(Number(f.DTSTART), MAR23_1900Z);
  assert.equal(Number(f.DTEND), MAR23_1900Z + 1800);
  assert.equal(f.SEQUENCE, '0');
  assert.match(f.SUMMARY, /^Mentoring: /);
  assert.match(f.DESCRIPTION, /Fractions, ratios; and "more"\\nJoin the session: http:\/\/127\.0\.0\.1:\d+\/#\/sessions\/join\/[0-9a-f]{32}$/);
  assert.ok(Math.abs(Number(f.DTSTAMP) - Date.now() / 1000) < 120);

  assertError(await third.client.request('schedule.reschedule', { booking: b.id, start: MAR23_1900Z + 3600 }), 'forbidden');
  assertError(await u.client.request('schedule.reschedule', { booking: b.id, start: MAR23_1900Z + 600 }), 'bad_request', 'start');
  const r = await m.client.ok('schedule.reschedule', { booking: b.id, start: MAR30_1800Z });
  assert.equal(r.booking.start, MAR30_1800Z);
  assert.equal(r.booking.sequence, 1);
  for (const c of [m.client, u.client]) {
    const e = await c.waitEvent('schedule.rescheduled', (x) => x.booking.id === b.id);
    assert.equal(e.old_start, MAR23_1900Z);
    assert.equal(e.booking.start, MAR30_1800Z);
  }
  res = await fetch(url, { headers: { authorization: `Bearer ${mCal}` } });
  assert.equal(res.status, 200);
  f = icsFields(await res.text());
  assert.equal(f.SEQUENCE, '1');
  assert.equal(Number(f.DTSTART), MAR30_1800Z);

  assertError(await third.client.request('schedule.cancel', { booking: b.id }), 'forbidden');
  const c = await u.client.ok('schedule.cancel', { booking: b.id });
  assert.equal(c.booking.status, 'cancelled');
  for (const cl of [m.client, u.client]) {
    const e = await cl.waitEvent('schedule.cancelled', (x) => x.booking.id === b.id);
    assert.equal(e.by, u.user.id);
  }
  assertError(await u.client.request('schedule.cancel', { booking: b.id }), 'conflict');
  assertError(await u.client.request('schedule.cancel', { booking: NO_SUCH_ID }), 'not_found');
  f = icsFields(await (await fetch(`${url}?token=${uCal}`)).text());
  assert.equal(f.METHOD, 'CANCEL');
  assert.equal(f.STATUS, 'CANCELLED');
  assert.equal(f.SEQUENCE, '2');
  // the slot is free again
  const slots = await third.client.ok('schedule.slots', { mentor: m.user.id, from: MAR30_1800Z - 60, to: MAR30_1800Z + 60 });
  assert.deepEqual(slots.slots.map((s) => s.start), [MAR30_1800Z]);

  const mine = await u.client.ok('schedule.mine');
  const mineB = mine.upcoming.find((x) => x.id === b.id);
  assert.equal(mineB.status, 'cancelled');
  assert.equal(mineB.role, 'mentee');
  assert.equal((await m.client.ok('schedule.mine')).upcoming.find((x) => x.id === b.id).role, 'mentor');
});

test('GET /ics: without a valid token 401, for a third person 403, for no such booking 404', async () => {
  const m = await mentor(LONDON);
  const u = await member();
  const third = await member();
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start: MAR23_1900Z + 3600 })).booking;
  const url = `${stack.httpUrl}/ics/${b.id}.ics`;
  const uCal = (await u.client.ok('calendar.token')).token;
  const thirdCal = (await third.client.ok('calendar.token')).token;
  assert.equal((await fetch(url)).status, 401);
  assert.equal((await fetch(`${url}?token=${u.token}`)).status, 401, 'a session token is not a calendar token');
  assert.equal((await fetch(`${url}?token=${'0'.repeat(64)}`)).status, 401);
  assert.equal((await fetch(`${url}?token=nonsense`)).status, 401);
  assert.equal((await fetch(url, { headers: { authorization: 'Bearer nonsense' } })).status, 401);
  assert.equal((await fetch(`${url}?token=${thirdCal}`)).status, 403);
  assert.equal((await fetch(`${stack.httpUrl}/ics/${NO_SUCH_ID}.ics?token=${uCal}`)).status, 404);
  assert.equal((await fetch(`${stack.httpUrl}/ics/nonsense?token=${uCal}`)).status, 404);
});

test('session.join: open from 5 minutes before the start for the two participants only', async () => {
  const m = await mentor(ALWAYS);
  const u = await member();
  const third = await member();
  const start = await openGrid(10);
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start })).booking;
  const j = await u.client.ok('session.join', { booking: b.id });
  assert.equal(j.open, true);
  assert.equal(j.peer.id, m.user.id);
  assert.equal(j.opens_at, start - 300);
  assert.equal(j.closes_at, start + 300 + 900);
  assert.equal((await m.client.ok('session.join', { booking: b.id })).peer.id, u.user.id);
  assertError(await third.client.request('session.join', { booking: b.id }), 'forbidden');
  assertError(await u.client.request('session.join', { booking: NO_SUCH_ID }), 'not_found');
  // a session that ended more than 15 minutes ago is closed (written straight into Redis: the past
  // cannot be booked)
  const now = Math.floor(Date.now() / 1000);
  await stack.redisCmd('HSET', `booking:${'e'.repeat(32)}`, 'mentor', m.user.id, 'mentee', u.user.id,
    'start', String(now - 3600), 'end', String(now - 1500), 'topic', '', 'status', 'booked', 'sequence', '0',
    'created', '0', 'updated', '0');
  const over = await u.client.request('session.join', { booking: 'e'.repeat(32) });
  assertError(over, 'conflict');
  assert.match(over.message, /over/);
  await stack.redisCmd('HSET', `booking:${'e'.repeat(32)}`, 'end', String(now - 600));
  assert.equal((await u.client.ok('session.join', { booking: 'e'.repeat(32) })).open, true); // 10 min after the end
  const later = (await u.client.ok('schedule.book', { mentor: m.user.id, start: nextGrid(3600) })).booking;
  const early = await u.client.request('session.join', { booking: later.id });
  assertError(early, 'conflict');
  assert.match(early.message, /not open yet/);
});

test('the session room: only its two people enter and signal each other; it closes at its time and on a cancel', async () => {
  const m = await mentor(ALWAYS);
  const u = await member();
  const third = await member();
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start: await openGrid(10) })).booking;
  const room = (await u.client.ok('session.join', { booking: b.id })).room;
  assert.equal(room, b.id);
  // the private room is no room of the circle
  const listed = (await u.client.ok('room.list', { circle: circle.id })).rooms;
  assert.ok(!listed.some((r) => r.id === room));
  const ju = await u.client.ok('room.join', { room, camera: true, mic: true });
  assert.equal(ju.room.private, true);
  assert.equal(ju.room.circle, null);
  // the mentor sees the mentee inside before joining (room.participants goes to both guests)
  const seen = await m.client.waitEvent('room.participants', (e) => e.room === room && e.participants.length === 1);
  assert.equal(seen.participants[0].user.id, u.user.id);
  const jm = await m.client.ok('room.join', { room, camera: true, mic: false });
  assert.equal(jm.room.participants.length, 2);
  await m.client.ok('room.signal', { room, to: ju.device, data: { description: { type: 'offer', sdp: 'v=0' } } });
  const sig = await u.client.waitEvent('room.signal', (e) => e.room === room);
  assert.equal(sig.from, jm.device);
  // a third member of the same circle: refused by the session and by the room
  assertError(await third.client.request('session.join', { booking: b.id }), 'forbidden');
  assertError(await third.client.request('room.join', { room, camera: true, mic: true }), 'forbidden');
  assertError(await third.client.request('room.signal', { room, to: ju.device, data: {} }), 'forbidden');
  await u.client.waitEvent('presence', (e) => e.user === m.user.id && e.status === 'in_call');
  // its time is over (moved into the past in Redis): the sweep takes both out and tells them
  await stack.redisCmd('HSET', `room:${room}`, 'closes', String(Math.floor(Date.now() / 1000)));
  await u.client.waitEvent('room.closed', (e) => e.room === room);
  await m.client.waitEvent('room.closed', (e) => e.room === room);
  assertError(await m.client.request('room.join', { room, camera: true, mic: true }), 'conflict');
  assertError(await m.client.request('room.leave', { room }), 'not_found');
  await u.client.waitEvent('presence', (e) => e.user === m.user.id && e.status === 'online');
  // a cancel closes an open session room at once
  const b2 = (await u.client.ok('schedule.book', { mentor: m.user.id, start: nextGrid(900) })).booking;
  const soon = Math.floor(Date.now() / 1000) + 60; // moved in Redis to start in a minute: its room is open
  await stack.redisCmd('HSET', `booking:${b2.id}`, 'start', String(soon), 'end', String(soon + 300));
  const room2 = (await m.client.ok('session.join', { booking: b2.id })).room;
  await m.client.ok('room.join', { room: room2, camera: true, mic: true });
  await u.client.ok('schedule.cancel', { booking: b2.id });
  await m.client.waitEvent('room.closed', (e) => e.room === room2);
  assertError(await m.client.request('room.join', { room: room2, camera: true, mic: true }), 'conflict');
});

test('mentoring notes: shared by the pair, with their sessions; anyone else is forbidden', async () => {
  const m = await mentor(LONDON);
  const u = await member();
  const third = await member();
  assertError(await u.client.request('mentoring.notes.add', { with: m.user.id, kind: 'note', text: 'hi' }), 'forbidden');
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start: MAR23_1900Z + 1800 })).booking;
  const n1 = await u.client.ok('mentoring.notes.add', { with: m.user.id, kind: 'goal', text: 'Plan a unit on ratios' });
  assert.equal(n1.note.kind, 'goal');
  assert.equal(n1.note.by.id, u.user.id);
  const ev = await m.client.waitEvent('mentoring.note', (e) => e.note.id === n1.note.id);
  assert.equal(ev.with.id, u.user.id);
  await m.client.ok('mentoring.notes.add', { with: u.user.id, kind: 'note', text: 'Try the bar model' });
  for (const [c, other] of [[u.client, m.user.id], [m.client, u.user.id]]) {
    const l = await c.ok('mentoring.notes.list', { with: other });
    assert.deepEqual(l.notes.map((x) => [x.kind, x.text]), [['goal', 'Plan a unit on ratios'], ['note', 'Try the bar model']]);
    assert.deepEqual(l.sessions.map((s) => s.id), [b.id]);
    assert.equal(l.with.id, other);
  }
  assertError(await third.client.request('mentoring.notes.list', { with: m.user.id }), 'forbidden');
  assertError(await third.client.request('mentoring.notes.add', { with: u.user.id, kind: 'note', text: 'x' }), 'forbidden');
  assertError(await u.client.request('mentoring.notes.add', { with: m.user.id, kind: 'rant', text: 'x' }), 'bad_request', 'kind');
  assertError(await u.client.request('mentoring.notes.add', { with: m.user.id, kind: 'note', text: '' }), 'bad_request', 'text');
  assertError(await u.client.request('mentoring.notes.list', { with: u.user.id }), 'bad_request', 'with');
});

test('reminders fire once across two nodes, and wait for a user who is offline until the next sign-in', async () => {
  const m = await mentor(ALWAYS);
  // A second node whose reminder offsets put the two reminders a few seconds from now.
  const start = nextGrid(30);
  const off1 = start - Math.floor(Date.now() / 1000) - 10;
  const off2 = off1 - 2;
  const node1 = await startReadyNode(h, { redisPort: stack.redisPort, label: 'signal-rem',
    args: ['--presence-ttl', '3', ...SIGNIN, ...TICK, '--reminder-offsets', `${off1}s,${off2}s`] });
  const u = await member('mentee', node1.wsUrl);
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start })).booking;
  await u.client.close();
  await eventually(async () => (await stack.redisCmd('ZSCORE', 'presence:online', u.user.id)) === null, { what: 'mentee offline' });
  // the mentor (online, on the other node) gets both, in order
  const r1 = await m.client.waitEvent('schedule.reminder', (e) => e.booking.id === b.id, 30000);
  const r2 = await m.client.waitEvent('schedule.reminder', (e) => e.booking.id === b.id, 30000);
  assert.deepEqual([r1.seconds, r2.seconds], [off1, off2]);
  assert.equal(r1.minutes, Math.floor(off1 / 60));
  // the mentee signs in again and is handed what waited
  const back = await connect(stack.wsUrl);
  await back.ok('auth.resume', { token: u.token });
  const w1 = await back.waitEvent('schedule.reminder', (e) => e.booking.id === b.id);
  const w2 = await back.waitEvent('schedule.reminder', (e) => e.booking.id === b.id);
  assert.deepEqual([w1.seconds, w2.seconds], [off1, off2]);
  // in-app history on both sides; each reminder was sent once although both nodes claim
  const list = await back.ok('notifications.list');
  assert.deepEqual(list.notifications.filter((n) => n.event.booking.id === b.id).map((n) => n.event.seconds), [off2, off1]);
  const ml = await m.client.ok('notifications.list');
  assert.equal(ml.notifications.filter((n) => n.event.booking.id === b.id).length, 2);
  assert.equal(await stack.redisCmd('LLEN', `notif:${u.user.id}:pending`), 0);
  // a new sign-in hands over nothing more
  const again = await connect(stack.wsUrl);
  await again.ok('auth.resume', { token: u.token });
  await again.ok('ping');
  assert.equal(again.events.filter((e) => e.type === 'schedule.reminder').length, 0);
  await back.close();
  await again.close();
});
