// circles.test.mjs — circle.* against a real staffroom-signal and Redis: directory, membership, join
// requests, roles; every request's happy path and its errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, joinAndWait, assertError, NO_SUCH_ID, SIGNIN, startReadyStack } from '../lib/community.mjs';

let h, stack, admin;

before(async () => {
  h = new Harness('circles');
  stack = await startReadyStack(h, { args: ['--presence-ttl', '3', ...SIGNIN] });
  admin = await newAdmin(stack);
});

after(async () => { await h.close(); });

test('circle requests before sign-in are unauthorized', async () => {
  const c = await connect(stack.wsUrl);
  for (const [type, fields] of [
    ['circle.create', { name: 'x', subject: 'y', phase: 'primary' }], ['circle.list', {}],
    ['circle.get', { circle: NO_SUCH_ID }], ['circle.join', { circle: NO_SUCH_ID }],
    ['circle.leave', { circle: NO_SUCH_ID }], ['circle.pending', { circle: NO_SUCH_ID }],
    ['circle.approve', { circle: NO_SUCH_ID, user: NO_SUCH_ID }],
    ['circle.reject', { circle: NO_SUCH_ID, user: NO_SUCH_ID }], ['circle.members', { circle: NO_SUCH_ID }],
    ['circle.set_role', { circle: NO_SUCH_ID, user: NO_SUCH_ID, role: 'expert' }],
  ]) assertError(await c.request(type, fields), 'unauthorized');
  await c.close();
});

test('circle.create: an admin makes a circle with general and help channels and moderates it', async () => {
  const r = await createCircle(admin, { name: 'Algebra I', subject: 'Mathematics', phase: 'secondary',
    description: 'Teaching algebra to 13-year-olds', moderated: true });
  const c = r.circle;
  assert.match(c.id, /^[0-9a-f]{32}$/);
  assert.equal(c.name, 'Algebra I');
  assert.equal(c.subject, 'Mathematics');
  assert.equal(c.phase, 'secondary');
  assert.equal(c.description, 'Teaching algebra to 13-year-olds');
  assert.equal(c.moderated, true);
  assert.equal(c.members, 1);
  assert.equal(c.my_status, 'member');
  assert.equal(c.my_role, 'moderator');
  assert.deepEqual(r.channels.map((ch) => ch.name), ['general', 'help']);
  for (const ch of r.channels) assert.equal(ch.circle, c.id);
  const list = await admin.client.request('channel.list', { circle: c.id });
  assert.deepEqual(list.channels.map((ch) => ch.id), r.channels.map((ch) => ch.id));
});

test('circle.create: non-admins are forbidden', async () => {
  const u = await newMember(stack);
  assertError(await u.client.request('circle.create', { name: 'Mine', subject: 'Art', phase: 'primary' }), 'forbidden');
  await u.client.close();
});

test('circle.create: bad fields are named', async () => {
  const c = admin.client;
  assertError(await c.request('circle.create', { subject: 'Art', phase: 'primary' }), 'bad_request', 'name');
  assertError(await c.request('circle.create', { name: 'x'.repeat(65), subject: 'Art', phase: 'primary' }), 'bad_request', 'name');
  assertError(await c.request('circle.create', { name: 'A', phase: 'primary' }), 'bad_request', 'subject');
  assertError(await c.request('circle.create', { name: 'A', subject: 'Art', phase: 'college' }), 'bad_request', 'phase');
  assertError(await c.request('circle.create', { name: 'A', subject: 'Art', phase: 'primary', moderated: 'yes' }), 'bad_request', 'moderated');
  assertError(await c.request('circle.create', { name: 'A', subject: 'Art', phase: 'primary', description: 'd'.repeat(2001) }), 'bad_request', 'description');
});

test('circle.get: a circle by id; not_found and bad ids', async () => {
  const { circle } = await createCircle(admin, { name: 'Get me' });
  const u = await newMember(stack);
  const r = await u.client.request('circle.get', { circle: circle.id });
  assert.equal(r.type, 'ok');
  assert.equal(r.circle.name, 'Get me');
  assert.equal(r.circle.my_status, 'none');
  assert.equal(r.circle.my_role, null);
  assertError(await u.client.request('circle.get', { circle: NO_SUCH_ID }), 'not_found');
  assertError(await u.client.request('circle.get', { circle: 'circle:1' }), 'bad_request', 'circle');
  assertError(await u.client.request('circle.get', {}), 'bad_request', 'circle');
  await u.client.close();
});

test('circle.list: search, subject and phase filters, paging with a cursor', async () => {
  const tag = `zq${process.pid}`;
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push((await createCircle(admin, { name: `Paging ${tag} ${i}`, subject: `Subj${tag}`,
      phase: i % 2 ? 'primary' : 'further' })).circle.id);
  }
  await createCircle(admin, { name: 'Other', subject: 'Other', description: `mentions ${tag.toUpperCase()} here` });
  const u = await newMember(stack);
  // text search, case-insensitive over name, subject and description: 5 + the one that mentions it
  const all = await u.client.request('circle.list', { q: tag.toUpperCase(), limit: 100 });
  assert.equal(all.type, 'ok');
  assert.equal(all.circles.length, 6);
  assert.equal(all.next_cursor, null);
  // subject filter (case-insensitive, exact) and paging two at a time
  const seen = [];
  let cursor;
  let pages = 0;
  do {
    const r = await u.client.request('circle.list', { subject: `subj${tag}`, limit: 2, ...(cursor ? { cursor } : {}) });
    assert.equal(r.type, 'ok');
    assert.ok(r.circles.length <= 2);
    seen.push(...r.circles.map((c) => c.id));
    cursor = r.next_cursor;
    pages++;
  } while (cursor);
  assert.deepEqual(seen, made, 'every circle once, in creation order');
  assert.equal(pages, 3);
  // phase filter
  const prim = await u.client.request('circle.list', { subject: `Subj${tag}`, phase: 'primary' });
  assert.deepEqual(prim.circles.map((c) => c.id), [made[1], made[3]]);
  for (const c of prim.circles) assert.equal(c.phase, 'primary');
  // no match: an empty array, not an object
  const none = await u.client.request('circle.list', { q: `nothing-${tag}` });
  assert.deepEqual(none.circles, []);
  assert.equal(none.next_cursor, null);
  // bad fields
  assertError(await u.client.request('circle.list', { limit: 0 }), 'bad_request', 'limit');
  assertError(await u.client.request('circle.list', { limit: 101 }), 'bad_request', 'limit');
  assertError(await u.client.request('circle.list', { cursor: 'abc' }), 'bad_request', 'cursor');
  assertError(await u.client.request('circle.list', { phase: 'college' }), 'bad_request', 'phase');
  await u.client.close();
});

test('circle.list and circle.get count members, online members and experts online', async () => {
  const tag = `cnt${process.pid}`;
  const { circle } = await createCircle(admin, { name: `Counting ${tag}` });
  const expert = await joined(stack, circle.id, 'expert');
  const m = await joined(stack, circle.id, 'plain');
  assert.equal((await admin.client.ok('circle.set_role', { circle: circle.id, user: expert.user.id, role: 'expert' })).type, 'ok');
  const counts = async () => (await m.client.ok('circle.list', { q: tag })).circles[0];
  const c = await eventually(async () => { const x = await counts(); return x.online === 3 && x; }, { what: '3 online' });
  assert.equal(c.members, 3);
  assert.equal(c.experts_online, 1);
  assert.equal(c.my_status, 'member');
  assert.equal(c.my_role, 'member');
  // the expert vanishes: once presence expires, neither online count includes them
  await expert.client.close();
  const gone = await eventually(async () => { const x = (await m.client.ok('circle.get', { circle: circle.id })).circle; return x.online === 2 && x; },
    { what: 'expert offline', timeoutMs: 20000, everyMs: 100 });
  assert.equal(gone.experts_online, 0);
  assert.equal(gone.members, 3);
  await m.client.close();
});

test('circle.join and circle.leave on an open circle, with events', async () => {
  const { circle } = await createCircle(admin);
  const u = await newMember(stack);
  const r = await u.client.request('circle.join', { circle: circle.id });
  assert.equal(r.type, 'ok');
  assert.equal(r.status, 'member');
  const mem = await u.client.waitEvent('circle.membership', (e) => e.circle === circle.id);
  assert.deepEqual({ status: mem.status, role: mem.role, user: mem.user }, { status: 'member', role: 'member', user: u.user.id });
  const j = await admin.client.waitEvent('circle.member_joined', (e) => e.circle === circle.id && e.user.id === u.user.id);
  assert.equal(j.role, 'member');
  assert.equal(j.user.name, u.user.name);
  assertError(await u.client.request('circle.join', { circle: circle.id }), 'conflict');
  assertError(await u.client.request('circle.join', { circle: NO_SUCH_ID }), 'not_found');
  assert.equal((await u.client.request('circle.leave', { circle: circle.id })).type, 'ok');
  const left = await admin.client.waitEvent('circle.member_left', (e) => e.circle === circle.id && e.user.id === u.user.id);
  assert.equal(left.role, 'member');
  const none = await u.client.waitEvent('circle.membership', (e) => e.circle === circle.id && e.status === 'none');
  assert.equal(none.user, u.user.id);
  assertError(await u.client.request('circle.leave', { circle: circle.id }), 'not_found');
  assertError(await u.client.request('circle.leave', { circle: NO_SUCH_ID }), 'not_found');
  assert.equal((await u.client.ok('circle.get', { circle: circle.id })).circle.my_status, 'none');
  await u.client.close();
});

test('moderated circle: join requests wait for a moderator, who approves or rejects', async () => {
  const { circle } = await createCircle(admin, { moderated: true });
  const a = await newMember(stack, 'req');
  const b = await newMember(stack, 'req');
  const ra = await a.client.request('circle.join', { circle: circle.id });
  assert.equal(ra.status, 'pending');
  assert.equal((await a.client.waitEvent('circle.membership', (e) => e.circle === circle.id)).status, 'pending');
  const note = await admin.client.waitEvent('circle.join_request', (e) => e.circle === circle.id && e.user.id === a.user.id);
  assert.equal(typeof note.requested_at, 'number');
  assertError(await a.client.request('circle.join', { circle: circle.id }), 'conflict');
  assert.equal((await a.client.ok('circle.get', { circle: circle.id })).circle.my_status, 'pending');
  // pending is not member: no member list, no channels
  assertError(await a.client.request('circle.members', { circle: circle.id }), 'forbidden');
  assertError(await a.client.request('channel.list', { circle: circle.id }), 'forbidden');
  assert.equal((await b.client.request('circle.join', { circle: circle.id })).status, 'pending');
  // only moderators see and decide requests
  assertError(await a.client.request('circle.pending', { circle: circle.id }), 'forbidden');
  assertError(await a.client.request('circle.approve', { circle: circle.id, user: b.user.id }), 'forbidden');
  const p = await admin.client.request('circle.pending', { circle: circle.id });
  assert.deepEqual(p.requests.map((x) => x.user.id), [a.user.id, b.user.id]);
  assertError(await admin.client.request('circle.pending', { circle: NO_SUCH_ID }), 'not_found');
  // approve a, reject b
  assert.equal((await admin.client.request('circle.approve', { circle: circle.id, user: a.user.id })).type, 'ok');
  const ma = await a.client.waitEvent('circle.membership', (e) => e.circle === circle.id && e.status === 'member');
  assert.equal(ma.role, 'member');
  assert.equal((await a.client.ok('circle.get', { circle: circle.id })).circle.my_status, 'member');
  assert.equal((await a.client.request('channel.list', { circle: circle.id })).type, 'ok');
  assertError(await admin.client.request('circle.approve', { circle: circle.id, user: a.user.id }), 'not_found');
  assert.equal((await admin.client.request('circle.reject', { circle: circle.id, user: b.user.id })).type, 'ok');
  assert.equal((await b.client.waitEvent('circle.membership', (e) => e.circle === circle.id && e.status === 'none')).user, b.user.id);
  assert.equal((await b.client.ok('circle.get', { circle: circle.id })).circle.my_status, 'none');
  assertError(await admin.client.request('circle.reject', { circle: circle.id, user: b.user.id }), 'not_found');
  assertError(await admin.client.request('circle.approve', { circle: circle.id, user: 'nope' }), 'bad_request', 'user');
  assert.deepEqual((await admin.client.ok('circle.pending', { circle: circle.id })).requests, []);
  // b may ask again, and withdraw by leaving
  assert.equal((await b.client.request('circle.join', { circle: circle.id })).status, 'pending');
  assert.equal((await b.client.request('circle.leave', { circle: circle.id })).type, 'ok');
  assert.deepEqual((await admin.client.ok('circle.pending', { circle: circle.id })).requests, []);
  await a.client.close();
  await b.client.close();
});

test('circle.members pages a big circle: every member, pages bounded, cursors checked', async () => {
  const { circle } = await createCircle(admin);
  const m = await joined(stack, circle.id);
  // 600 more members written straight into Redis (user hashes with names, as accounts.c keeps them)
  const ids = Array.from({ length: 600 }, (_, i) => `${'d'.repeat(24)}${i.toString(16).padStart(8, '0')}`);
  const args = [];
  for (const id of ids) {
    await stack.redisCmd('HSET', `user:${id}`, 'name', `bulk${id.slice(-8)}`);
    args.push(id, 'member');
  }
  await stack.redisCmd('HSET', `circle:${circle.id}:members`, ...args);
  const seen = new Set();
  let cursor = '0';
  let pages = 0;
  do {
    const page = await m.client.ok('circle.members', { circle: circle.id, cursor, limit: 100 });
    assert.ok(page.members.length <= 300, `page of ${page.members.length}`); // COUNT is a hint: bounded, not exact
    for (const x of page.members) seen.add(x.user.id);
    cursor = page.next_cursor;
    pages++;
  } while (cursor !== null && pages < 100);
  assert.equal(cursor, null);
  assert.ok(pages >= 3, `${pages} pages`);
  assert.equal(seen.size, 602);
  for (const id of [admin.user.id, m.user.id, ...ids]) assert.ok(seen.has(id), id);
  // the first page without a cursor is a page too; a bad cursor or limit is named
  assert.notEqual((await m.client.ok('circle.members', { circle: circle.id })).next_cursor, null);
  assertError(await m.client.request('circle.members', { circle: circle.id, cursor: 'abc' }), 'bad_request', 'cursor');
  assertError(await m.client.request('circle.members', { circle: circle.id, limit: 501 }), 'bad_request', 'limit');
});

test('circle.members: roles and live presence, members only', async () => {
  const { circle } = await createCircle(admin);
  const m = await joined(stack, circle.id);
  const r = await eventually(async () => {
    const x = await m.client.ok('circle.members', { circle: circle.id });
    return x.members.every((mm) => mm.presence === 'online') && x;
  }, { what: 'members online' });
  assert.equal(r.members.length, 2);
  assert.deepEqual(r.members.map((x) => [x.user.id, x.role]), [[admin.user.id, 'moderator'], [m.user.id, 'member']]);
  assert.equal(r.members[1].user.name, m.user.name);
  assert.equal(typeof r.members[1].user.display_name, 'string');
  const outsider = await newMember(stack);
  assertError(await outsider.client.request('circle.members', { circle: circle.id }), 'forbidden');
  assertError(await outsider.client.request('circle.members', { circle: NO_SUCH_ID }), 'not_found');
  // presence follows the member's own setting
  assert.equal((await m.client.request('presence.set', { status: 'busy' })).type, 'ok');
  await eventually(async () => {
    const x = await admin.client.ok('circle.members', { circle: circle.id });
    return x.members.find((mm) => mm.user.id === m.user.id).presence === 'busy';
  }, { what: 'busy' });
  await m.client.close();
  await outsider.client.close();
});

test('circle.set_role: moderators and admins set roles; events; errors', async () => {
  const { circle } = await createCircle(admin);
  const m = await joined(stack, circle.id);
  const other = await joined(stack, circle.id);
  assert.equal((await admin.client.request('circle.set_role', { circle: circle.id, user: m.user.id, role: 'expert' })).type, 'ok');
  const ev = await other.client.waitEvent('circle.role', (e) => e.circle === circle.id && e.user.id === m.user.id);
  assert.equal(ev.role, 'expert');
  const mem = await m.client.waitEvent('circle.membership', (e) => e.circle === circle.id && e.role === 'expert');
  assert.equal(mem.status, 'member');
  // a plain member may not; an expert is not a moderator either
  assertError(await other.client.request('circle.set_role', { circle: circle.id, user: m.user.id, role: 'mentor' }), 'forbidden');
  assertError(await m.client.request('circle.set_role', { circle: circle.id, user: other.user.id, role: 'mentor' }), 'forbidden');
  // a new moderator may
  await admin.client.ok('circle.set_role', { circle: circle.id, user: m.user.id, role: 'moderator' });
  await m.client.waitEvent('circle.membership', (e) => e.circle === circle.id && e.role === 'moderator');
  assert.equal((await m.client.request('circle.set_role', { circle: circle.id, user: other.user.id, role: 'mentor' })).type, 'ok');
  const roles = Object.fromEntries((await m.client.ok('circle.members', { circle: circle.id })).members.map((x) => [x.user.id, x.role]));
  assert.deepEqual(roles, { [admin.user.id]: 'moderator', [m.user.id]: 'moderator', [other.user.id]: 'mentor' });
  // errors
  const outsider = await newMember(stack);
  assertError(await m.client.request('circle.set_role', { circle: circle.id, user: outsider.user.id, role: 'expert' }), 'not_found');
  assertError(await m.client.request('circle.set_role', { circle: circle.id, user: other.user.id, role: 'king' }), 'bad_request', 'role');
  assertError(await m.client.request('circle.set_role', { circle: NO_SUCH_ID, user: other.user.id, role: 'expert' }), 'not_found');
  // the last moderator cannot be demoted
  await m.client.ok('circle.set_role', { circle: circle.id, user: admin.user.id, role: 'member' });
  assertError(await m.client.request('circle.set_role', { circle: circle.id, user: m.user.id, role: 'member' }), 'conflict');
  // an admin who is a plain member still may (admins moderate everywhere)
  assert.equal((await admin.client.request('circle.set_role', { circle: circle.id, user: admin.user.id, role: 'moderator' })).type, 'ok');
  for (const x of [m, other, outsider]) await x.client.close();
});

test('circle.join makes the new member receive the circle\'s events', async () => {
  const { circle, channels } = await createCircle(admin);
  const u = await newMember(stack);
  await joinAndWait(u, circle.id);
  const sent = await admin.client.ok('chat.send', { channel: channels[0].id, text: 'welcome' });
  const ev = await u.client.waitEvent('chat.message', (e) => e.message.id === sent.message.id);
  assert.equal(ev.message.text, 'welcome');
  await u.client.close();
});
