// redis_outage.test.mjs — Redis stopped and restarted under a running node: clients stay connected,
// requests that need Redis get `unavailable` and /healthz says 503 meanwhile; afterwards the node has
// reconnected by itself (both connections: commands and pub/sub, with every subscription), the Functions
// library is loaded again after FUNCTION FLUSH, and the data kept by Redis's AOF is still there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack, connect, registerUser, uniqueName, putInCircle, httpGet } from '../lib/client.mjs';

let h, stack;
before(async () => {
  h = new Harness('redis-outage');
  stack = await startStack(h, { args: ['--login-rate', '100000', '--login-burst', '100000'] });
});
after(async () => { await h.close(); });

test('Redis stops and comes back: unavailable meanwhile, then everything works again without a restart', async () => {
  const a = await connect(stack.wsUrl);
  const b = await connect(stack.wsUrl);
  const ra = await registerUser(a, uniqueName('oa'));
  const rb = await registerUser(b, uniqueName('ob'));
  const cid = 'e'.repeat(31) + '1';
  await putInCircle(stack, cid, [[ra.user.id, 'member'], [rb.user.id, 'expert']]);
  await a.waitEvent('circle.membership', (e) => e.circle === cid);
  await b.waitEvent('circle.membership', (e) => e.circle === cid);
  assert.equal((await httpGet(`${stack.httpUrl}/healthz`)).status, 200);

  const port = stack.redis.port;
  const stopped = await h.stop(stack.redis); // SIGTERM: Redis writes its AOF and exits
  assert.equal(stopped.code, 0);

  // clients stay connected; what needs Redis says unavailable
  const health = await eventually(async () => {
    const r = await httpGet(`${stack.httpUrl}/healthz`);
    return r.status === 503 && r;
  }, { what: '/healthz 503' });
  const body = JSON.parse(health.body);
  assert.equal(body.redis, false);
  assert.equal((await a.request('ping')).type, 'ok');
  const down = await a.request('profile.get', {});
  assert.equal(down.code, 'unavailable', JSON.stringify(down));
  assert.equal((await b.request('presence.set', { status: 'busy' })).code, 'unavailable');
  const c = await connect(stack.wsUrl);
  assert.equal((await c.request('auth.login', { name: ra.user.name, password: ra.password }, 30000)).code, 'unavailable');
  const m = await httpGet(`${stack.httpUrl}/metrics`);
  assert.match(m.body, /staffroom_redis_up 0/);

  // Redis is back on the same port with the same data directory
  stack.redis = await h.redis({ port });
  await eventually(async () => (await httpGet(`${stack.httpUrl}/healthz`)).status === 200,
    { timeoutMs: 15000, what: '/healthz 200 again' });
  assert.match((await httpGet(`${stack.httpUrl}/metrics`)).body, /staffroom_redis_up 1/);

  // data survived (AOF), commands work, and a new sign-in works
  const me = await a.request('profile.get', {});
  assert.equal(me.type, 'ok', JSON.stringify(me));
  assert.equal(me.user.id, ra.user.id);
  const login = await c.request('auth.login', { name: ra.user.name, password: ra.password }, 30000);
  assert.equal(login.type, 'ok', JSON.stringify(login));
  // the library functions run again (loaded on reconnection) and pub/sub was resubscribed: b's status reaches a
  const set = await b.request('presence.set', { status: 'away' });
  assert.equal(set.type, 'ok', JSON.stringify(set));
  await a.waitEvent('presence', (e) => e.user === rb.user.id && e.status === 'away', 10000);
  // the token issued before the outage still resumes
  const d = await connect(stack.wsUrl);
  assert.equal((await d.request('auth.resume', { token: rb.token })).type, 'ok');
  for (const x of [a, b, c, d]) await x.close();
});

test('a node started while Redis is down serves HTTP and connects once Redis appears', async () => {
  const { freePort } = await import('../lib/harness.mjs');
  const { startNode } = await import('../lib/client.mjs');
  const port = await freePort();
  const node = await startNode(h, { redisPort: port, label: 'early' });
  assert.equal((await httpGet(`${node.httpUrl}/healthz`)).status, 503);
  const c = await connect(node.wsUrl);
  assert.equal((await c.request('auth.register', { name: uniqueName('early'), password: 'password 1' }, 30000)).code, 'unavailable');
  await h.redis({ port });
  await eventually(async () => (await httpGet(`${node.httpUrl}/healthz`)).status === 200,
    { timeoutMs: 15000, what: 'late Redis connection' });
  const r = await c.request('auth.register', { name: uniqueName('early'), password: 'password 1' }, 30000);
  assert.equal(r.type, 'ok', JSON.stringify(r));
  await c.close();
  await h.stop(node.proc);
});

test('the Functions library flushed from Redis is loaded again (FUNCTION FLUSH → not found → FUNCTION LOAD)', async () => {
  const c = await connect(stack.wsUrl);
  await registerUser(c, uniqueName('flush'));
  assert.equal((await c.request('presence.set', { status: 'away' })).type, 'ok'); // library in place
  assert.equal(await stack.redisCmd('FUNCTION', 'FLUSH'), 'OK');
  const r = await c.request('presence.set', { status: 'busy' });
  assert.equal(r.type, 'ok', JSON.stringify(r));
  assert.equal(r.combined, 'busy');
  const info = await stack.redisCmd('INFO', 'errorstats');
  assert.match(info, /errorstat_ERR:count=[1-9]/); // the "Function not found" path was taken
  await c.close();
});
