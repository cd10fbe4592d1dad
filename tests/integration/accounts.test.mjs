// accounts.test.mjs — auth.* and profile.* against a real staffroom-signal and Redis: every request's
// happy path and its errors, a reconnect with auth.resume, and that secrets never reach the logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, connect, registerUser, uniqueName, nodeLog } from '../lib/client.mjs';

const SIGNIN = ['--login-rate', '100000', '--login-burst', '100000'];
let h, stack;

before(async () => {
  h = new Harness('accounts');
  stack = await startStack(h, { args: SIGNIN });
});
after(async () => { await h.close(); });

function assertError(r, code, field) {
  assert.equal(r.type, 'error', `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, JSON.stringify(r));
  assert.ok(typeof r.message === 'string' && r.message.length > 0);
  if (field) assert.equal(r.field, field, JSON.stringify(r));
}

test('auth.register signs the connection in and returns the user and a 256-bit token', async () => {
  const c = await connect(stack.wsUrl);
  const name = uniqueName('reg');
  const r = await c.request('auth.register', { name, password: 'a long password', display_name: 'Ms Reg' }, 30000);
  assert.equal(r.type, 'ok', JSON.stringify(r));
  assert.match(r.token, /^[0-9a-f]{64}$/);
  assert.match(r.user.id, /^[0-9a-f]{32}$/);
  assert.equal(r.user.name, name);
  assert.equal(r.user.display_name, 'Ms Reg');
  assert.equal(r.user.admin, false);
  assert.deepEqual(r.user.subjects, []);
  assert.equal(r.user.pwhash, undefined);
  assert.ok(r.expires_at > Date.now() + 29 * 24 * 3600 * 1000);
  const me = await c.request('profile.get', {});
  assert.equal(me.type, 'ok');
  assert.equal(me.user.id, r.user.id);
  // only the token's hash is stored
  const keys = await stack.redisCmd('KEYS', 'session:*');
  assert.ok(keys.length >= 1);
  assert.ok(!keys.some((k) => k.includes(r.token)));
  const ttl = await stack.redisCmd('TTL', keys[0]);
  assert.ok(ttl > 29 * 24 * 3600, `session ttl ${ttl}`);
  await c.close();
});

test('auth.register: taken names (case-insensitively) are a conflict', async () => {
  const c = await connect(stack.wsUrl);
  const name = uniqueName('Dup');
  await registerUser(c, name);
  const d = await connect(stack.wsUrl);
  assertError(await d.request('auth.register', { name, password: 'password 2' }, 30000), 'conflict');
  assertError(await d.request('auth.register', { name: name.toUpperCase(), password: 'password 2' }, 30000), 'conflict');
  await c.close(); await d.close();
});

test('auth.register: bad fields are named', async () => {
  const c = await connect(stack.wsUrl);
  assertError(await c.request('auth.register', { password: 'password 1' }), 'bad_request', 'name');
  assertError(await c.request('auth.register', { name: 'ab', password: 'password 1' }), 'bad_request', 'name');
  assertError(await c.request('auth.register', { name: 'x'.repeat(33), password: 'password 1' }), 'bad_request', 'name');
  assertError(await c.request('auth.register', { name: 'has space', password: 'password 1' }), 'bad_request', 'name');
  assertError(await c.request('auth.register', { name: 42, password: 'password 1' }), 'bad_request', 'name');
  assertError(await c.request('auth.register', { name: uniqueName(), password: 'short' }), 'bad_request', 'password');
  assertError(await c.request('auth.register', { name: uniqueName() }), 'bad_request', 'password');
  assertError(await c.request('auth.register', { name: uniqueName(), password: 'password 1', display_name: '' }), 'bad_request', 'display_name');
  // still signed out
  assertError(await c.request('profile.get', {}), 'unauthorized');
  await c.close();
});

test('auth.login returns a fresh token; wrong password and unknown name get the same unauthorized', async () => {
  const c = await connect(stack.wsUrl);
  const name = uniqueName('login');
  const reg = await registerUser(c, name, 'right password');
  await c.close();
  const d = await connect(stack.wsUrl);
  const bad = await d.request('auth.login', { name, password: 'wrong password' }, 30000);
  assertError(bad, 'unauthorized');
  const unknown = await d.request('auth.login', { name: uniqueName('ghost'), password: 'wrong password' }, 30000);
  assertError(unknown, 'unauthorized');
  assert.equal(bad.message, unknown.message);
  assertError(await d.request('profile.get', {}), 'unauthorized');
  const ok = await d.request('auth.login', { name: name.toUpperCase(), password: 'right password' }, 30000);
  assert.equal(ok.type, 'ok', JSON.stringify(ok));
  assert.equal(ok.user.id, reg.user.id);
  assert.match(ok.token, /^[0-9a-f]{64}$/);
  assert.notEqual(ok.token, reg.token);
  assert.equal((await d.request('profile.get', {})).user.id, reg.user.id);
  assertError(await d.request('auth.login', { name }), 'bad_request', 'password');
  await d.close();
});

test('auth.resume signs a new connection in with an earlier token (reconnect)', async () => {
  const c = await connect(stack.wsUrl);
  const reg = await registerUser(c, uniqueName('res'));
  c.terminate(); // the network went away
  const d = await connect(stack.wsUrl);
  const r = await d.request('auth.resume', { token: reg.token });
  assert.equal(r.type, 'ok', JSON.stringify(r));
  assert.equal(r.user.id, reg.user.id);
  assert.equal(r.token, undefined);
  assert.ok(r.expires_at > Date.now() + 29 * 24 * 3600 * 1000);
  assert.equal((await d.request('profile.get', {})).user.id, reg.user.id);
  await d.close();
});

test('auth.resume: malformed tokens are bad_request, unknown ones unauthorized', async () => {
  const c = await connect(stack.wsUrl);
  assertError(await c.request('auth.resume', {}), 'bad_request', 'token');
  assertError(await c.request('auth.resume', { token: 'abc' }), 'bad_request', 'token');
  assertError(await c.request('auth.resume', { token: 'z'.repeat(64) }), 'bad_request', 'token');
  assertError(await c.request('auth.resume', { token: 7 }), 'bad_request', 'token');
  assertError(await c.request('auth.resume', { token: '0'.repeat(64) }), 'unauthorized');
  await c.close();
});

test('auth.logout revokes the token and signs the connection out', async () => {
  const c = await connect(stack.wsUrl);
  const reg = await registerUser(c, uniqueName('out'));
  const r = await c.request('auth.logout', {});
  assert.equal(r.type, 'ok', JSON.stringify(r));
  assertError(await c.request('profile.get', {}), 'unauthorized');
  assertError(await c.request('auth.logout', {}), 'unauthorized');
  assertError(await c.request('auth.resume', { token: reg.token }), 'unauthorized');
  await c.close();
});

test('requests that need a signed-in user are unauthorized before sign-in', async () => {
  const c = await connect(stack.wsUrl);
  for (const [type, fields] of [['profile.get', {}], ['profile.update', { bio: 'x' }], ['auth.logout', {}],
    ['presence.set', { status: 'away' }]]) {
    assertError(await c.request(type, fields), 'unauthorized');
  }
  const pong = await c.request('ping', {});
  assert.equal(pong.type, 'ok');
  assert.equal(pong.pong, true);
  assert.ok(Math.abs(pong.ts - Date.now()) < 60000);
  await c.close();
});

test('profile.get: another user by id; unknown ids are not_found, malformed ones bad_request', async () => {
  const a = await connect(stack.wsUrl);
  const b = await connect(stack.wsUrl);
  const ra = await registerUser(a, uniqueName('pa'));
  await registerUser(b, uniqueName('pb'));
  const r = await b.request('profile.get', { user: ra.user.id });
  assert.equal(r.type, 'ok');
  assert.equal(r.user.name, ra.user.name);
  assertError(await b.request('profile.get', { user: 'f'.repeat(32) }), 'not_found');
  assertError(await b.request('profile.get', { user: 'not-an-id' }), 'bad_request', 'user');
  assertError(await b.request('profile.get', { user: 12 }), 'bad_request', 'user');
  await a.close(); await b.close();
});

test('profile.update sets every field and others see it', async () => {
  const a = await connect(stack.wsUrl);
  const ra = await registerUser(a, uniqueName('upd'));
  const r = await a.request('profile.update', {
    display_name: 'Mr Stats', school: 'Northfield College', subjects: ['Statistics', 'Mathematics'],
    tz: 'America/New_York', bio: 'Evening classes for adults.',
  });
  assert.equal(r.type, 'ok', JSON.stringify(r));
  assert.equal(r.user.display_name, 'Mr Stats');
  assert.deepEqual(r.user.subjects, ['Statistics', 'Mathematics']);
  assert.equal(r.user.tz, 'America/New_York');
  const b = await connect(stack.wsUrl);
  await registerUser(b, uniqueName('viewer'));
  const seen = await b.request('profile.get', { user: ra.user.id });
  assert.equal(seen.user.school, 'Northfield College');
  assert.equal(seen.user.bio, 'Evening classes for adults.');
  // a partial update keeps the rest; empty school is allowed
  const p = await a.request('profile.update', { school: '' });
  assert.equal(p.user.school, '');
  assert.equal(p.user.display_name, 'Mr Stats');
  await a.close(); await b.close();
});

test('profile.update: bad fields are named, and nothing is changed', async () => {
  const a = await connect(stack.wsUrl);
  await registerUser(a, uniqueName('bad'));
  for (const tz of ['Mars/Olympus', '../../etc/passwd', 'Europe', '', 'UTC; rm']) {
    assertError(await a.request('profile.update', { tz }), 'bad_request', 'tz');
  }
  assertError(await a.request('profile.update', { subjects: 'Maths' }), 'bad_request', 'subjects');
  assertError(await a.request('profile.update', { subjects: [1] }), 'bad_request', 'subjects');
  assertError(await a.request('profile.update', { subjects: Array(21).fill('x') }), 'bad_request', 'subjects');
  assertError(await a.request('profile.update', { display_name: 'x'.repeat(65) }), 'bad_request', 'display_name');
  assertError(await a.request('profile.update', { bio: 'x'.repeat(2001) }), 'bad_request', 'bio');
  assertError(await a.request('profile.update', { school: false }), 'bad_request', 'school');
  const me = await a.request('profile.get', {});
  assert.equal(me.user.tz, 'UTC');
  assert.deepEqual(me.user.subjects, []);
  const ok = await a.request('profile.update', { tz: 'Europe/London' });
  assert.equal(ok.user.tz, 'Europe/London');
  await a.close();
});

test('passwords and tokens never appear in the logs', async () => {
  const c = await connect(stack.wsUrl);
  const secret = `pw-${Date.now()}-secret`;
  const reg = await registerUser(c, uniqueName('log'), secret);
  const again = await c.request('auth.login', { name: reg.user.name, password: secret }, 30000);
  assert.equal(again.type, 'ok');
  await c.close();
  const log = nodeLog(stack.nodes[0]);
  assert.ok(log.includes('signed in as'), 'the log records sign-ins');
  assert.ok(!log.includes(secret));
  assert.ok(!log.includes(reg.token));
  assert.ok(!log.includes(again.token));
});
