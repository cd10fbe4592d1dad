// sessions.test.mjs — signing out means out, everywhere (issue 12), on two real nodes sharing one Redis:
//   - auth.logout ends every live connection of that session, on every node, at once (not only the token);
//   - auth.logout_all ends all of the user's sessions; auth.password (old password required) ends the others;
//   - auth.sessions lists them (device, address, last seen, current); auth.session_end ends one;
//   - the calendar has its own read-only, revocable token: the session token is refused at /ics, the
//     calendar token works there (one booking and the webcal: feed) and nowhere else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joinAndWait, assertError, SIGNIN, startReadyStack } from '../lib/community.mjs';

let h, stack, n0, n1;
before(async () => {
  h = new Harness('sessions');
  stack = await startReadyStack(h, { nodes: 2, args: [...SIGNIN] });
  [n0, n1] = stack.nodes;
});
after(async () => { await h.close(); });

// Another live connection of the same session (auth.resume with the token) on `url`.
async function resumed(u, url, device) {
  const client = await connect(url);
  await client.ok('auth.resume', { token: u.token, ...(device ? { device } : {}) });
  return client;
}

// 1 if the connection is still signed in (profile.get works), 0 if it is answered unauthorized.
async function signedIn(client) {
  const r = await client.request('profile.get', {});
  if (r.type === 'ok') return 1;
  assert.equal(r.code, 'unauthorized', JSON.stringify(r));
  return 0;
}

test('auth.logout ends every connection of the session on both nodes at once; other sessions stay', async () => {
  const u = await newMember(stack, 's', n0.wsUrl);
  const sameOnN1 = await resumed(u, n1.wsUrl);
  const sameOnN0 = await resumed(u, n0.wsUrl);
  // A second session of the same user (its own login) is not touched.
  const other = await connect(n1.wsUrl);
  const login = await other.ok('auth.login', { name: u.user.name, password: u.password }, 30000);
  assert.notEqual(login.token, u.token);

  await u.client.ok('auth.logout');
  for (const c of [sameOnN1, sameOnN0]) {
    const ev = await c.waitEvent('auth.signed_out', () => true, 5000);
    assert.equal(ev.reason, 'logout');
    assert.equal(await signedIn(c), 0, 'a connection of the ended session is signed out');
  }
  assert.equal(await signedIn(u.client), 0);
  assertError(await (await connect(n1.wsUrl)).request('auth.resume', { token: u.token }), 'unauthorized');
  // Events stop reaching the signed-out connections: a profile change is seen only by the other session.
  assert.equal(await signedIn(other), 1);
  assert.equal(sameOnN1.events.filter((e) => e.type !== 'auth.signed_out' && e.type !== 'presence').length, 0);
  for (const c of [u.client, sameOnN1, sameOnN0, other]) await c.close();
});

test('auth.sessions lists device, address, last seen and the current one; auth.session_end ends one', async () => {
  const u = await newMember(stack, 'l', n0.wsUrl);
  const laptop = await connect(n1.wsUrl);
  const second = await laptop.ok('auth.login', { name: u.user.name, password: u.password, device: 'Laptop' }, 30000);
  const list = (await u.client.ok('auth.sessions')).sessions;
  assert.equal(list.length, 2, JSON.stringify(list));
  const mine = list.find((s) => s.current);
  const theirs = list.find((s) => !s.current);
  assert.ok(mine && theirs, JSON.stringify(list));
  assert.equal(theirs.device, 'Laptop');
  assert.equal(theirs.address, '127.0.0.1');
  assert.match(theirs.session, /^[0-9a-f]{64}$/);
  assert.ok(Math.abs(theirs.last_seen - Date.now()) < 60000);
  assert.ok(!JSON.stringify(list).includes(u.token) && !JSON.stringify(list).includes(second.token), 'no token is listed');

  assertError(await u.client.request('auth.session_end', { session: 'f'.repeat(64) }), 'not_found');
  assertError(await u.client.request('auth.session_end', { session: 'nope' }), 'bad_request', 'session');
  await u.client.ok('auth.session_end', { session: theirs.session });
  assert.equal((await laptop.waitEvent('auth.signed_out', () => true, 5000)).reason, 'ended');
  assert.equal(await signedIn(laptop), 0);
  assert.equal(await signedIn(u.client), 1);
  assert.deepEqual((await u.client.ok('auth.sessions')).sessions.map((s) => s.session), [mine.session]);

  // Someone else's session cannot be ended (it is not found among one's own).
  const stranger = await newMember(stack, 'x', n1.wsUrl);
  assertError(await stranger.client.request('auth.session_end', { session: mine.session }), 'not_found');
  assert.equal(await signedIn(u.client), 1);
  for (const c of [u.client, laptop, stranger.client]) await c.close();
});

test('auth.logout_all ends all of the user\'s sessions on both nodes', async () => {
  const u = await newMember(stack, 'a', n0.wsUrl);
  const sameOnN1 = await resumed(u, n1.wsUrl);
  const otherSession = await connect(n1.wsUrl);
  const login = await otherSession.ok('auth.login', { name: u.user.name, password: u.password }, 30000);
  const r = await u.client.ok('auth.logout_all');
  assert.equal(r.ended, 2);
  for (const c of [sameOnN1, otherSession]) {
    assert.equal((await c.waitEvent('auth.signed_out', () => true, 5000)).reason, 'logout_all');
    assert.equal(await signedIn(c), 0);
  }
  assert.equal(await signedIn(u.client), 0);
  for (const t of [u.token, login.token])
    assertError(await (await connect(n0.wsUrl)).request('auth.resume', { token: t }), 'unauthorized');
  for (const c of [u.client, sameOnN1, otherSession]) await c.close();
});

test('auth.password needs the old password, then ends the other sessions and keeps this one', async () => {
  const u = await newMember(stack, 'p', n0.wsUrl);
  const otherSession = await connect(n1.wsUrl);
  const other = await otherSession.ok('auth.login', { name: u.user.name, password: u.password }, 30000);
  const sameOnN1 = await resumed(u, n1.wsUrl);

  assertError(await u.client.request('auth.password', { old_password: 'not the password', password: 'new password 123' }, 30000),
    'forbidden', 'old_password');
  assertError(await u.client.request('auth.password', { password: 'new password 123' }), 'bad_request', 'old_password');
  assertError(await u.client.request('auth.password', { old_password: u.password, password: 'short' }), 'bad_request', 'password');
  assert.equal(await signedIn(otherSession), 1, 'a refused change ends nothing');

  const r = await u.client.ok('auth.password', { old_password: u.password, password: 'new password 123' }, 30000);
  assert.equal(r.ended, 1);
  assert.equal((await otherSession.waitEvent('auth.signed_out', () => true, 5000)).reason, 'password_changed');
  assert.equal(await signedIn(otherSession), 0);
  assert.equal(await signedIn(u.client), 1, 'the session that changed it stays');
  assert.equal(await signedIn(sameOnN1), 1, 'and so do its other connections');
  assertError(await (await connect(n0.wsUrl)).request('auth.resume', { token: other.token }), 'unauthorized');
  const c = await connect(n1.wsUrl);
  assertError(await c.request('auth.login', { name: u.user.name, password: u.password }, 30000), 'unauthorized');
  await c.ok('auth.login', { name: u.user.name, password: 'new password 123' }, 30000);
  for (const x of [u.client, otherSession, sameOnN1, c]) await x.close();
});

test('the calendar token: opens /ics (one booking and the webcal feed), is revoked, opens nothing else; the session token is refused there', async () => {
  const admin = await newAdmin(stack);
  const { circle } = await createCircle(admin, { name: 'Calendar circle' });
  const m = await newMember(stack, 'cm');
  await joinAndWait(m, circle.id);
  await admin.client.ok('circle.set_role', { circle: circle.id, user: m.user.id, role: 'mentor' });
  await m.client.waitEvent('circle.membership', (e) => e.role === 'mentor');
  await m.client.ok('schedule.availability.set', { tz: 'UTC', windows: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((day) => ({ day, start: '00:00', end: '24:00' })), slot_minutes: 30, min_notice_minutes: 0, max_ahead_days: 30 });
  const u = await newMember(stack, 'cu', n1.wsUrl);
  await joinAndWait(u, circle.id);
  const start = Math.ceil((Date.now() / 1000 + 3 * 86400) / 1800) * 1800;
  const b = (await u.client.ok('schedule.book', { mentor: m.user.id, start })).booking;

  const one = `${n0.httpUrl}/ics/${b.id}.ics`;
  const feed = `${n0.httpUrl}/ics/feed.ics`;
  assert.equal((await fetch(`${one}?token=${u.token}`)).status, 401, 'the session token is not accepted');
  assert.equal((await fetch(`${feed}?token=${u.token}`)).status, 401, 'the session token is not accepted');

  const tok = (await u.client.ok('calendar.token')).token;
  assert.match(tok, /^[0-9a-f]{64}$/);
  assert.notEqual(tok, u.token);
  assert.equal((await u.client.ok('calendar.token')).token, tok, 'one per user: asked again, the same');
  let res = await fetch(`${one}?token=${tok}`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), new RegExp(`UID:${b.id}@staffroom`));
  res = await fetch(feed, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /METHOD:PUBLISH/);
  assert.match(text, new RegExp(`UID:${b.id}@staffroom`));
  assert.equal((text.match(/BEGIN:VEVENT/g) || []).length, 1);

  // It signs nobody in.
  assertError(await (await connect(n0.wsUrl)).request('auth.resume', { token: tok }), 'unauthorized');

  // Rotation revokes the old one; calendar.revoke revokes the current one.
  const tok2 = (await u.client.ok('calendar.token', { rotate: true })).token;
  assert.notEqual(tok2, tok);
  assert.equal((await fetch(`${feed}?token=${tok}`)).status, 401);
  assert.equal((await fetch(`${feed}?token=${tok2}`)).status, 200);
  await u.client.ok('calendar.revoke');
  assert.equal((await fetch(`${feed}?token=${tok2}`)).status, 401);
  assert.equal((await fetch(`${one}?token=${tok2}`)).status, 401);
  // The calendar survives signing out (it is not a session), until revoked.
  const tok3 = (await u.client.ok('calendar.token')).token;
  await u.client.ok('auth.logout');
  assert.equal((await fetch(`${feed}?token=${tok3}`)).status, 200);
  for (const c of [admin.client, m.client, u.client]) await c.close();
});
