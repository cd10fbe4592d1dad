// nodes.test.mjs — two staffroom-signal nodes on one Redis serve one community: presence events cross
// nodes through pub/sub, a token from one node resumes on the other, and a node that dies leaves its
// users to expire (swept by the surviving node).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, connect, registerUser, uniqueName, putInCircle, httpGet } from '../lib/client.mjs';

let h, stack, circleN = 0;
before(async () => {
  h = new Harness('nodes');
  stack = await startStack(h, { nodes: 2, args: ['--login-rate', '100000', '--login-burst', '100000',
    '--presence-ttl', '3', '--presence-sweep-interval', '300'] });
});
after(async () => { await h.close(); });

async function pair() {
  const cid = `n${process.pid}x${circleN++}`.padEnd(32, '0');
  const a = await connect(stack.nodes[0].wsUrl);
  const b = await connect(stack.nodes[1].wsUrl);
  const ra = await registerUser(a, uniqueName('na'));
  const rb = await registerUser(b, uniqueName('nb'));
  await putInCircle(stack, cid, [[ra.user.id, 'member'], [rb.user.id, 'member']]);
  await a.waitEvent('circle.membership', (e) => e.circle === cid);
  await b.waitEvent('circle.membership', (e) => e.circle === cid);
  return { cid, a, b, ra, rb };
}

test('each node reports its own id in /healthz', async () => {
  const h0 = JSON.parse((await httpGet(`${stack.nodes[0].httpUrl}/healthz`)).body);
  const h1 = JSON.parse((await httpGet(`${stack.nodes[1].httpUrl}/healthz`)).body);
  assert.equal(h0.node, 'signal0');
  assert.equal(h1.node, 'signal1');
});

test('clients on different nodes see each other\'s presence', async () => {
  const { a, b, ra, rb } = await pair();
  assert.equal((await b.request('presence.set', { status: 'busy' })).type, 'ok');
  await a.waitEvent('presence', (e) => e.user === rb.user.id && e.status === 'busy');
  assert.equal((await a.request('presence.set', { status: 'away' })).type, 'ok');
  await b.waitEvent('presence', (e) => e.user === ra.user.id && e.status === 'away');
  await b.close();
  await a.waitEvent('presence', (e) => e.user === rb.user.id && e.status === 'offline');
  await a.close();
});

test('a token issued by one node resumes on the other; profiles are shared', async () => {
  const a = await connect(stack.nodes[0].wsUrl);
  const ra = await registerUser(a, uniqueName('cross'));
  assert.equal((await a.request('profile.update', { school: 'Riverside' })).type, 'ok');
  const b = await connect(stack.nodes[1].wsUrl);
  const r = await b.request('auth.resume', { token: ra.token });
  assert.equal(r.type, 'ok', JSON.stringify(r));
  assert.equal(r.user.school, 'Riverside');
  await a.close(); await b.close();
});

test('a node that dies leaves its users to expire: the other node announces them offline', async () => {
  const { a, rb } = await pair();
  const t0 = Date.now();
  await h.stop(stack.nodes[1].proc, 'SIGKILL'); // no chance to clean up
  const ev = await a.waitEvent('presence', (e) => e.user === rb.user.id && e.status === 'offline', 60000);
  assert.equal(ev.status, 'offline');
  assert.ok(Date.now() - t0 < 60000);
  assert.equal(await stack.redisCmd('ZSCORE', 'presence:online', rb.user.id), null);
  await a.close();
});

test('an event published right after a sign-in answer reaches the new connection', async () => {
  // The answer to a sign-in is sent only once the user's channel is subscribed, so nothing published
  // after it can be missed, whichever node publishes.
  for (let i = 0; i < 10; i++) {
    const c = await connect(stack.nodes[0].wsUrl);
    const r = await registerUser(c, uniqueName('race'));
    await stack.redisCmd('PUBLISH', `ev:u:${r.user.id}`, JSON.stringify({ type: 'test.ping', n: i }));
    const ev = await c.waitEvent('test.ping', () => true, 5000);
    assert.equal(ev.n, i);
    await c.close();
  }
});
