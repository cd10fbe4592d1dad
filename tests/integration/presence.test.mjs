// presence.test.mjs — presence.set and `presence` events between members of a circle: statuses,
// several devices per user, and clients that vanish (closed, killed without a close frame, frozen).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Harness } from '../lib/harness.mjs';
import { startStack, connect, registerUser, uniqueName, putInCircle } from '../lib/client.mjs';

const SIGNIN = ['--login-rate', '100000', '--login-burst', '100000'];
// Short presence TTL and idle pings so that vanished clients are noticed within seconds.
const FAST = ['--presence-ttl', '3', '--presence-sweep-interval', '300', '--ping-interval', '1', '--ping-timeout', '3'];
let h, stack, circleN = 0;

before(async () => {
  h = new Harness('presence');
  stack = await startStack(h, { args: [...SIGNIN, ...FAST] });
});
after(async () => { await h.close(); });

function assertError(r, code, field) {
  assert.equal(r.type, 'error', JSON.stringify(r));
  assert.equal(r.code, code, JSON.stringify(r));
  if (field) assert.equal(r.field, field, JSON.stringify(r));
}

// n signed-in users in a new circle; each connection has been told of its membership.
async function circleOf(n, roles = []) {
  const cid = `c${process.pid}x${circleN++}`.padEnd(32, '0');
  const users = [];
  for (let i = 0; i < n; i++) {
    const client = await connect(stack.wsUrl);
    const reg = await registerUser(client, uniqueName('p'));
    users.push({ client, ...reg });
  }
  await putInCircle(stack, cid, users.map((u, i) => [u.user.id, roles[i] || 'member']));
  for (const u of users) await u.client.waitEvent('circle.membership', (e) => e.circle === cid);
  return { cid, users };
}

const isPresence = (uid, status) => (e) => e.user === uid && e.status === status;

test('presence.set: members of a shared circle get the new status', async () => {
  const { cid, users: [a, b] } = await circleOf(2);
  for (const status of ['away', 'busy', 'online']) {
    const r = await b.client.request('presence.set', { status });
    assert.equal(r.type, 'ok', JSON.stringify(r));
    assert.equal(r.combined, status);
    const ev = await a.client.waitEvent('presence', isPresence(b.user.id, status), 5000);
    assert.equal(ev.circle, cid);
  }
  await a.client.close(); await b.client.close();
});

test('presence.set: bad statuses are named', async () => {
  const { users: [a] } = await circleOf(1);
  assertError(await a.client.request('presence.set', {}), 'bad_request', 'status');
  assertError(await a.client.request('presence.set', { status: 'in_call' }), 'bad_request', 'status');
  assertError(await a.client.request('presence.set', { status: 'offline' }), 'bad_request', 'status');
  assertError(await a.client.request('presence.set', { status: 3 }), 'bad_request', 'status');
  await a.client.close();
});

test('signing in and closing announce online and offline to the circle, and only to it', async () => {
  const { cid, users: [a, b] } = await circleOf(2);
  const outsider = await connect(stack.wsUrl);
  await registerUser(outsider, uniqueName('out'));
  // a second device of b comes and goes without changing b's combined status
  const b2 = await connect(stack.wsUrl);
  const r = await b2.request('auth.resume', { token: b.token });
  assert.equal(r.type, 'ok');
  await b.client.close();
  const b3 = await connect(stack.wsUrl);
  await b3.request('auth.resume', { token: b.token });
  await b2.close();
  await b3.close();
  const off = await a.client.waitEvent('presence', isPresence(b.user.id, 'offline'), 5000);
  assert.equal(off.circle, cid);
  // exactly one offline announcement: the devices in between kept b online
  assert.equal(a.client.events.filter((e) => e.type === 'presence' && e.user === b.user.id && e.status === 'offline').length, 0);
  assert.equal(outsider.events.filter((e) => e.type === 'presence').length, 0);
  await a.client.close(); await outsider.close();
});

test('signing in again on the same connection does not flap presence', async () => {
  const { users: [a, b] } = await circleOf(2);
  const again = await b.client.request('auth.login', { name: b.user.name, password: b.password }, 30000);
  assert.equal(again.type, 'ok');
  assert.equal((await b.client.request('presence.set', { status: 'busy' })).type, 'ok');
  await a.client.waitEvent('presence', isPresence(b.user.id, 'busy'), 5000);
  assert.equal(a.client.events.filter((e) => e.type === 'presence' && e.user === b.user.id).length, 0,
    JSON.stringify(a.client.events));
  await a.client.close(); await b.client.close();
});

test('several devices: the combined status is the strongest (busy > online > away)', async () => {
  const { users: [a, b] } = await circleOf(2);
  const phone = await connect(stack.wsUrl);
  assert.equal((await phone.request('auth.resume', { token: b.token })).type, 'ok');
  let r = await phone.request('presence.set', { status: 'away' });
  assert.equal(r.combined, 'online'); // the laptop is still online
  r = await b.client.request('presence.set', { status: 'busy' });
  assert.equal(r.combined, 'busy');
  await a.client.waitEvent('presence', isPresence(b.user.id, 'busy'), 5000);
  await b.client.close(); // the busy device leaves: the phone's away remains
  await a.client.waitEvent('presence', isPresence(b.user.id, 'away'), 5000);
  await phone.close();
  await a.client.waitEvent('presence', isPresence(b.user.id, 'offline'), 5000);
  await a.client.close();
});

test('a client dropped without a close frame is offline for others', async () => {
  const { users: [a, b] } = await circleOf(2);
  b.client.terminate();
  const t0 = Date.now();
  await a.client.waitEvent('presence', isPresence(b.user.id, 'offline'), 60000);
  assert.ok(Date.now() - t0 < 60000);
  await a.client.close();
});

// A child process that signs in with a token and then waits; it can be SIGKILLed or SIGSTOPped.
function holder(token) {
  const code = `
    import WebSocket from 'ws';
    const ws = new WebSocket(${JSON.stringify(stack.wsUrl)}, 'staffroom.v1');
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth.resume', id: 1, token: ${JSON.stringify(token)} })));
    ws.on('message', (d) => { if (JSON.parse(d).id === 1) console.log('READY'); });
    setInterval(() => {}, 1000);`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => { if (String(d).includes('READY')) resolve(p); });
    p.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
  });
}

test('a client process killed (SIGKILL) is offline for others', async () => {
  const { users: [a, b] } = await circleOf(2);
  const p = await holder(b.token);
  await b.client.close(); // now only the child holds b's presence
  p.kill('SIGKILL');
  await a.client.waitEvent('presence', isPresence(b.user.id, 'offline'), 60000);
  await a.client.close();
});

test('a frozen client (no FIN, no pongs: a pulled cable) is dropped by pings and shown offline', async () => {
  const { users: [a, b] } = await circleOf(2);
  const p = await holder(b.token);
  await b.client.close();
  p.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    await a.client.waitEvent('presence', isPresence(b.user.id, 'offline'), 60000);
    assert.ok(Date.now() - t0 < 60000);
  } finally {
    p.kill('SIGKILL');
  }
  await a.client.close();
});

test('presence keys follow the documented schema', async () => {
  const { users: [a] } = await circleOf(1);
  const devices = await stack.redisCmd('ZRANGE', 'presence:devices', '0', '-1', 'WITHSCORES');
  const i = devices.findIndex((m) => m.startsWith(`${a.user.id}/`));
  assert.ok(i >= 0, 'the device is listed');
  const expiry = Number(devices[i + 1]);
  assert.ok(expiry > Date.now() - 1000 && expiry < Date.now() + 10000, `expiry ${expiry}`);
  const dev = devices[i].split('/')[1];
  assert.equal(await stack.redisCmd('HGET', `presence:user:${a.user.id}`, dev), 'online');
  assert.ok(Number(await stack.redisCmd('ZSCORE', 'presence:online', a.user.id)) > Date.now());
  await a.client.close();
});
