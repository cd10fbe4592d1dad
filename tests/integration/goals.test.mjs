// goals.test.mjs — mentoring relationships with goals (goals.h) with a real Redis, a real PostgreSQL 15 and a
// real staffroom-signal node: propose → accept, progress, links to a session (a real booking) and a clip,
// close with outcomes, the history in time order; a third person (and a guessed id) gets not_found, an admin
// may read the history; the 1–5 goals limit, bad input, and a closed or declined mentorship is read-only.
// Notes of the pair link to a goal (a note of another pair does not); the history lists the pair's bookings
// and the recordings of those bookings that the reader may see, linked or not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, SIGNIN, startReadyStack, NO_SUCH_ID } from '../lib/community.mjs';

let h, pg, stack, admin, circle, mentor, mentee, carol;
const MAR23_1900Z = Date.UTC(2027, 2, 23, 19, 0) / 1000;
const LONDON = { tz: 'Europe/London', windows: [{ day: 'tue', start: '19:00', end: '21:00' }],
  slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 60, max_ahead_days: 180 };
const rows = (sql) => h.psql(pg, sql).trim();

before(async () => {
  h = new Harness('goals');
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...SIGNIN, '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200',
    '--request-rate', '100000', '--request-burst', '100000', '--message-rate', '100000', '--message-burst', '100000'] });
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])),
    { what: 'PostgreSQL migrated', timeoutMs: 30000 });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin, { name: 'Mentoring circle' }));
  mentor = await joined(stack, circle.id, 'mentor');
  mentee = await joined(stack, circle.id, 'mentee');
  carol = await newMember(stack, 'carol');
  await admin.client.ok('circle.set_role', { circle: circle.id, user: mentor.user.id, role: 'mentor' });
  await mentor.client.waitEvent('circle.membership', (e) => e.role === 'mentor');
  await mentor.client.ok('schedule.availability.set', LONDON);
});

after(async () => { await h.close(); });

const GOALS = [{ title: 'Ask open questions', measure: 'half of the questions in a lesson are open' },
  { title: 'Wait three seconds after a question' }];

async function openMentorship() {
  const p = await mentor.client.ok('mentorship.propose', { mentee: mentee.user.id, goals: GOALS });
  assert.equal(p.mentorship.state, 'proposed');
  const ev = await mentee.client.waitEvent('mentorship.updated', (e) => e.mentorship.id === p.mentorship.id);
  assert.equal(ev.mentorship.mentor.id, mentor.user.id);
  const a = await mentee.client.ok('mentorship.accept', { mentorship: p.mentorship.id });
  assert.equal(a.mentorship.state, 'open');
  await mentor.client.waitEvent('mentorship.updated', (e) => e.mentorship.id === p.mentorship.id && e.mentorship.state === 'open');
  return a.mentorship;
}

test('the flow: propose, accept, progress, link a session and a clip, close with outcomes, history in order', async () => {
  const m = await openMentorship();
  assert.deepEqual(m.goals.map((g) => g.title), GOALS.map((g) => g.title));
  assert.equal(m.goals[0].measure, GOALS[0].measure);
  assert.equal(m.goals[1].measure, '');
  const [g1, g2] = m.goals;

  let r = await mentee.client.ok('goal.progress', { goal: g1.id, note: 'Tried it in year 9', rating: 2 });
  assert.deepEqual(r.mentorship.goals[0].progress.map((p) => [p.rating, p.by]), [[2, mentee.user.id]]);
  r = await mentor.client.ok('goal.progress', { goal: g1.id, note: 'Better in the second half', rating: 4 });
  assert.deepEqual(r.mentorship.goals[0].progress.map((p) => p.rating), [2, 4]);

  // a real booking between the two is a session that can be linked; the same goal twice is one link
  const b = await mentee.client.ok('schedule.book', { mentor: mentor.user.id, start: MAR23_1900Z, topic: 'Questioning' });
  r = await mentor.client.ok('goal.link', { goal: g2.id, session: b.booking.id });
  r = await mentee.client.ok('goal.link', { goal: g2.id, session: b.booking.id });
  assert.deepEqual(r.mentorship.goals[1].links.map((l) => [l.kind, l.ref, l.at]), [['session', b.booking.id, MAR23_1900Z * 1000]]);
  // a booking of someone else, or none, is not a session of this pair
  const other = await joined(stack, circle.id, 'other');
  const b2 = await other.client.ok('schedule.book', { mentor: mentor.user.id, start: MAR23_1900Z + 1800, topic: 'Other' });
  assertError(await mentee.client.request('goal.link', { goal: g2.id, session: b2.booking.id }), 'not_found', 'session');
  assertError(await mentee.client.request('goal.link', { goal: g2.id, session: NO_SUCH_ID }), 'not_found', 'session');
  // a media item the user cannot see is not found; a ready clip of theirs links (inserted as media.c would leave it)
  const clip = 'c'.repeat(32);
  rows(`INSERT INTO media (id, owner, kind, title, state) VALUES ('${clip}', '${mentee.user.id}', 'clip', 'Year 9 questioning', 'ready')`);
  assertError(await mentor.client.request('goal.link', { goal: g1.id, media: clip }), 'not_found', 'media');
  r = await mentee.client.ok('goal.link', { goal: g1.id, media: clip });
  assert.deepEqual(r.mentorship.goals[0].links.map((l) => [l.kind, l.title]), [['media', 'Year 9 questioning']]);

  // outcomes must name every goal, and only valid words
  assertError(await mentor.client.request('mentorship.close', { mentorship: m.id, outcomes: { [g1.id]: 'met' } }), 'bad_request', 'outcomes');
  assertError(await mentor.client.request('mentorship.close', { mentorship: m.id, outcomes: { [g1.id]: 'met', [g2.id]: 'great' } }), 'bad_request', 'outcomes');
  assertError(await mentor.client.request('mentorship.close', { mentorship: m.id, outcomes: { [g1.id]: 'met', [NO_SUCH_ID]: 'met' } }), 'bad_request', 'outcomes');
  r = await mentee.client.ok('mentorship.close', { mentorship: m.id, outcomes: { [g1.id]: 'met', [g2.id]: 'partly' } });
  assert.equal(r.mentorship.state, 'closed');
  assert.deepEqual(r.mentorship.goals.map((g) => g.outcome), ['met', 'partly']);

  const hist = await mentee.client.ok('mentorship.history', { mentorship: m.id });
  const kinds = hist.history.map((e) => e.kind);
  for (const k of ['proposed', 'accepted', 'progress', 'session', 'media', 'closed']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  const at = hist.history.map((e) => e.at);
  assert.deepEqual(at, [...at].sort((a, b) => a - b), 'history in time order');
  assert.deepEqual(kinds.slice(-2), ['session', 'booking'], 'the session (next March) comes last: its link, then the booking');
  assert.equal(hist.history.at(-1).booking, b.booking.id);
  assert.deepEqual(hist.history.filter((e) => e.kind === 'progress').map((e) => e.note), ['Tried it in year 9', 'Better in the second half']);

  // closed → read-only for both
  assertError(await mentor.client.request('goal.progress', { goal: g1.id, note: 'late', rating: 5 }), 'conflict');
  assertError(await mentor.client.request('goal.link', { goal: g1.id, session: b.booking.id }), 'conflict');
  assertError(await mentor.client.request('mentorship.close', { mentorship: m.id, outcomes: { [g1.id]: 'met', [g2.id]: 'met' } }), 'conflict');
  assert.equal(rows(`SELECT count(*) FROM goal_progress p JOIN goals g ON g.id = p.goal_id WHERE g.mentorship_id = '${m.id}'`), '2');

  // both see it in their lists
  for (const who of [mentor, mentee]) {
    const list = (await who.client.ok('mentorship.list', {})).mentorships;
    assert.ok(list.some((x) => x.id === m.id && x.state === 'closed'));
  }
});

test('a third person gets not_found for everything; an admin may read the history but not change it', async () => {
  const m = await openMentorship();
  const g = m.goals[0].id;
  for (const [type, fields] of [['mentorship.history', { mentorship: m.id }], ['mentorship.accept', { mentorship: m.id }],
    ['mentorship.decline', { mentorship: m.id }], ['goal.progress', { goal: g, note: 'x', rating: 3 }],
    ['goal.link', { goal: g, session: NO_SUCH_ID }], ['mentorship.close', { mentorship: m.id, outcomes: { [g]: 'met' } }],
    ['mentorship.history', { mentorship: NO_SUCH_ID }], ['goal.progress', { goal: NO_SUCH_ID, note: 'x', rating: 3 }]]) {
    assertError(await carol.client.request(type, fields), 'not_found');
  }
  assert.ok(!(await carol.client.ok('mentorship.list', {})).mentorships.some((x) => x.id === m.id));
  const hist = await admin.client.ok('mentorship.history', { mentorship: m.id });
  assert.equal(hist.mentorship.id, m.id);
  assertError(await admin.client.request('goal.progress', { goal: g, note: 'x', rating: 3 }), 'not_found');
  assert.equal(rows(`SELECT count(*) FROM goal_progress WHERE goal_id = '${g}'`), '0');
});

test('proposals: 1–5 goals, the other side answers, a declined one is read-only', async () => {
  const six = Array.from({ length: 6 }, (_, i) => ({ title: `Goal ${i + 1}` }));
  assertError(await mentor.client.request('mentorship.propose', { mentee: mentee.user.id, goals: six }), 'bad_request', 'goals');
  assertError(await mentor.client.request('mentorship.propose', { mentee: mentee.user.id, goals: [] }), 'bad_request', 'goals');
  const five = await mentee.client.ok('mentorship.propose', { mentor: mentor.user.id, goals: six.slice(0, 5) });
  assert.equal(five.mentorship.goals.length, 5);
  assert.equal(five.mentorship.proposed_by, mentee.user.id);
  assert.equal(five.mentorship.mentor.id, mentor.user.id);
  // the proposer cannot accept their own proposal; nothing happens before it is accepted
  assertError(await mentee.client.request('mentorship.accept', { mentorship: five.mentorship.id }), 'forbidden');
  assertError(await mentee.client.request('goal.progress', { goal: five.mentorship.goals[0].id, note: 'early', rating: 3 }), 'conflict');
  const d = await mentor.client.ok('mentorship.decline', { mentorship: five.mentorship.id });
  assert.equal(d.mentorship.state, 'declined');
  assertError(await mentor.client.request('mentorship.accept', { mentorship: five.mentorship.id }), 'conflict');
  assertError(await mentee.client.request('goal.progress', { goal: five.mentorship.goals[0].id, note: 'late', rating: 3 }), 'conflict');
});

test('bad input: each field is checked and named', async () => {
  const cases = [
    ['mentorship.propose', { goals: GOALS }, 'mentee'],
    ['mentorship.propose', { mentee: mentee.user.id, mentor: mentor.user.id, goals: GOALS }, 'mentee'],
    ['mentorship.propose', { mentee: mentor.user.id, goals: GOALS }, 'mentee'],
    ['mentorship.propose', { mentee: 'not-an-id', goals: GOALS }, 'mentee'],
    ['mentorship.propose', { mentee: mentee.user.id, goals: 'many' }, 'goals'],
    ['mentorship.propose', { mentee: mentee.user.id, goals: [{ title: '' }] }, 'goals'],
    ['mentorship.propose', { mentee: mentee.user.id, goals: [{ title: 'x'.repeat(201) }] }, 'goals'],
    ['mentorship.propose', { mentee: mentee.user.id, goals: [{ title: 'ok', measure: 5 }] }, 'goals'],
    ['mentorship.propose', { mentee: mentee.user.id, goals: ['just text'] }, 'goals'],
    ['goal.progress', { goal: NO_SUCH_ID, note: 'x', rating: 0 }, 'rating'],
    ['goal.progress', { goal: NO_SUCH_ID, note: 'x', rating: 6 }, 'rating'],
    ['goal.progress', { goal: NO_SUCH_ID, note: '', rating: 3 }, 'note'],
    ['goal.progress', { goal: 'x', note: 'x', rating: 3 }, 'goal'],
    ['goal.link', { goal: NO_SUCH_ID }, 'session'],
    ['goal.link', { goal: NO_SUCH_ID, session: NO_SUCH_ID, media: NO_SUCH_ID }, 'session'],
    ['mentorship.close', { mentorship: NO_SUCH_ID, outcomes: [] }, 'outcomes'],
    ['mentorship.close', { mentorship: NO_SUCH_ID, outcomes: { 'not-an-id': 'met' } }, 'outcomes'],
    ['mentorship.accept', {}, 'mentorship'],
    ['mentorship.history', { mentorship: 7 }, 'mentorship'],
  ];
  for (const [type, fields, field] of cases) assertError(await mentor.client.request(type, fields), 'bad_request', field);
  assertError(await mentor.client.request('mentorship.propose', { mentee: NO_SUCH_ID, goals: GOALS }), 'not_found', 'mentee');
  // the server is still fine
  assert.ok(Array.isArray((await mentor.client.ok('mentorship.list', {})).mentorships));
});

// A recording row exactly as record.c stores one when the SFU has closed a session room's files (INSERT_SQL:
// kind recording, owned by the one who asked, shared with the others who agreed, `session` the booking id).
function storeRecording(id, owner, session, sharedWith = []) {
  rows(`INSERT INTO media (id, owner, kind, title, mime, duration_ms, path, state, session, meta) VALUES ('${id}',
    '${owner}', 'recording', 'Recording ${id.slice(0, 4)}', 'video/webm', 10000, 'recordings/${id}', 'ready', '${session}', '{}')`);
  for (const u of sharedWith) rows(`INSERT INTO media_shares (media_id, user_id) VALUES ('${id}', '${u}')`);
}

test('notes link to a goal (only the pair\'s); the history lists the pair\'s bookings and recordings in order', async () => {
  const m = await openMentorship();
  const [g1, g2] = m.goals;
  // two sessions of the pair (20:00 and 20:30 on 23 March), the first one cancelled
  const b1 = (await mentee.client.ok('schedule.book', { mentor: mentor.user.id, start: MAR23_1900Z + 3600, topic: 'Hinge questions' })).booking;
  const b2 = (await mentee.client.ok('schedule.book', { mentor: mentor.user.id, start: MAR23_1900Z + 5400, topic: 'Wait time' })).booking;
  await mentor.client.ok('schedule.cancel', { booking: b1.id });
  // another pair of the same mentor, with three notes of its own (so its note numbers 2 and 3 exist there only)
  const dan = await joined(stack, circle.id, 'dan');
  const MAR30_1800Z = Date.UTC(2027, 2, 30, 18, 0) / 1000; // 19:00 in London (BST)
  const bd = (await dan.client.ok('schedule.book', { mentor: mentor.user.id, start: MAR30_1800Z, topic: 'Dan' })).booking;
  for (const text of ['dan 1', 'dan 2', 'dan 3']) await dan.client.ok('mentoring.notes.add', { with: mentor.user.id, kind: 'note', text });

  const n = (await mentee.client.ok('mentoring.notes.add', { with: mentor.user.id, kind: 'note', text: 'Try cold calling with thinking time' })).note;
  let r = await mentee.client.ok('goal.link', { goal: g2.id, note: n.id });
  assert.deepEqual(r.mentorship.goals[1].links.map((l) => [l.kind, l.ref, l.title, l.at]), [['note', String(n.id), n.text, n.at]]);
  r = await mentor.client.ok('goal.link', { goal: g2.id, note: n.id }); // either side; twice is one link
  assert.equal(r.mentorship.goals[1].links.length, 1);
  // a number that only dan's pair has is no note of this pair, even for the mentor who is in both
  const danNotes = (await dan.client.ok('mentoring.notes.list', { with: mentor.user.id })).notes;
  const foreign = Math.max(...danNotes.map((x) => x.id));
  const own = (await mentee.client.ok('mentoring.notes.list', { with: mentor.user.id })).notes;
  assert.ok(!own.some((x) => x.id === foreign), 'the foreign number is not one of the pair\'s');
  assertError(await mentor.client.request('goal.link', { goal: g1.id, note: foreign }), 'not_found', 'note');
  assertError(await mentee.client.request('goal.link', { goal: g1.id, note: foreign }), 'not_found', 'note');
  assertError(await mentee.client.request('goal.link', { goal: g1.id, note: 9007199254740991 }), 'not_found', 'note');
  // dan cannot link anything to a goal that is not his, his own note number included
  assertError(await dan.client.request('goal.link', { goal: g1.id, note: 1 }), 'not_found');
  for (const [fields, field] of [[{ goal: g1.id, note: 0 }, 'note'], [{ goal: g1.id, note: 'one' }, 'note'],
    [{ goal: g1.id, note: 1.5 }, 'note'], [{ goal: g1.id, note: 2 ** 53 }, 'note'], [{ goal: g1.id, note: 1, session: b2.id }, 'session'],
    [{ goal: g1.id, note: 1, media: NO_SUCH_ID }, 'session']]) {
    assertError(await mentee.client.request('goal.link', fields), 'bad_request', field);
  }

  // recordings: one of the cancelled session shared with the mentor, one of the other session kept by the
  // mentee alone, one of dan's session (the mentor sees it, but it is not this pair's)
  const [rShared, rMine, rDan] = ['a', 'b', 'd'].map((c) => c.repeat(31) + '1');
  storeRecording(rShared, mentee.user.id, b1.id, [mentor.user.id]);
  storeRecording(rMine, mentee.user.id, b2.id);
  storeRecording(rDan, mentor.user.id, bd.id, [dan.user.id]);

  const seen = async (who) => (await who.client.ok('mentorship.history', { mentorship: m.id })).history;
  const hm = await seen(mentee);
  const at = hm.map((e) => e.at);
  assert.deepEqual(at, [...at].sort((a, b) => a - b), 'history in time order');
  const bookings = hm.filter((e) => e.kind === 'booking');
  const mine = bookings.filter((e) => e.booking === b1.id || e.booking === b2.id);
  assert.deepEqual(mine.map((e) => [e.booking, e.status, e.topic, e.start, e.at]),
    [[b1.id, 'cancelled', 'Hinge questions', b1.start, b1.start * 1000], [b2.id, 'booked', 'Wait time', b2.start, b2.start * 1000]]);
  assert.ok(!bookings.some((e) => e.booking === bd.id), 'dan\'s booking is not in this history');
  assert.deepEqual(hm.filter((e) => e.kind === 'recording').map((e) => [e.media, e.session, e.duration_ms]).sort(),
    [[rShared, b1.id, 10000], [rMine, b2.id, 10000]]);
  const noteEv = hm.find((e) => e.kind === 'note');
  assert.deepEqual([noteEv.goal, noteEv.title, noteEv.ref, noteEv.at], [g2.id, n.text, String(n.id), n.at]);
  // the recordings come before the March sessions (stored now), the note link before the recordings
  const idx = (pred) => hm.findIndex(pred);
  assert.ok(idx((e) => e.kind === 'note') < idx((e) => e.kind === 'recording'));
  assert.ok(idx((e) => e.kind === 'recording') < idx((e) => e.booking === b1.id));

  // the mentor sees the shared recording only; an admin sees the bookings but no recording (shared with
  // neither); a third person and dan get not_found
  assert.deepEqual((await seen(mentor)).filter((e) => e.kind === 'recording').map((e) => e.media), [rShared]);
  const ha = (await admin.client.ok('mentorship.history', { mentorship: m.id })).history;
  assert.ok(ha.some((e) => e.booking === b2.id));
  assert.equal(ha.filter((e) => e.kind === 'recording').length, 0);
  for (const who of [carol, dan]) assertError(await who.client.request('mentorship.history', { mentorship: m.id }), 'not_found');
  // a recording withdrawn from the mentor (share removed) leaves the mentor's history
  rows(`DELETE FROM media_shares WHERE media_id = '${rShared}'`);
  assert.equal((await seen(mentor)).filter((e) => e.kind === 'recording').length, 0);
});
