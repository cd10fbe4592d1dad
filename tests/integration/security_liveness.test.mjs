// security_liveness.test.mjs — a Redis that stops answering without closing its connections (SIGSTOP: a
// paused VM, a partition) is noticed within a few seconds (issue 12): requests answer `unavailable`
// instead of hanging, /healthz says 503; after SIGCONT the node recovers by itself, commands and pub/sub
// (events between two nodes flow again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { connect, registerUser, uniqueName, putInCircle, httpGet } from '../lib/client.mjs';
import { SIGNIN, startReadyStack } from '../lib/community.mjs';

const TIMEOUT_MS = 1500;
let h, stack;
before(async () => {
  h = new Harness('liveness');
  stack = await startReadyStack(h, { nodes: 2, args: [...SIGNIN, '--redis-ping-interval', '300', '--redis-timeout', String(TIMEOUT_MS)] });
});
after(async () => {
  if (stack?.redis?.proc && !stack.redis.exited) stack.redis.proc.kill('SIGCONT');
  await h.close();
});

test('a silent Redis (SIGSTOP): unavailable and 503 within seconds, never a hang; SIGCONT: back by itself', async () => {
  const [n0, n1] = stack.nodes;
  const a = await connect(n0.wsUrl);
  const b = await connect(n1.wsUrl);
  const ra = await registerUser(a, uniqueName('la'));
  const rb = await registerUser(b, uniqueName('lb'));
  const cid = 'd'.repeat(31) + '2';
  await putInCircle(stack, cid, [[ra.user.id, 'member'], [rb.user.id, 'member']]);
  await a.waitEvent('circle.membership', (e) => e.circle === cid);
  await b.waitEvent('circle.membership', (e) => e.circle === cid);

  stack.redis.proc.kill('SIGSTOP');
  const t0 = Date.now();
  // A request sent into the silence is answered unavailable once the node gives up on the connection.
  const stuck = await a.request('profile.get', {}, 15000);
  const waited = Date.now() - t0;
  assert.equal(stuck.code, 'unavailable', JSON.stringify(stuck));
  assert.ok(waited < TIMEOUT_MS + 2000, `answered after ${waited} ms`);
  for (const n of [n0, n1]) {
    await eventually(async () => (await httpGet(`${n.httpUrl}/healthz`)).status === 503,
      { what: `${n.label} /healthz 503`, timeoutMs: TIMEOUT_MS + 3000 });
  }
  // While Redis stays silent, requests keep answering unavailable quickly.
  for (let i = 0; i < 3; i++) {
    const t = Date.now();
    const r = await b.request('presence.set', { status: 'busy' }, 15000);
    assert.equal(r.code, 'unavailable', JSON.stringify(r));
    assert.ok(Date.now() - t < TIMEOUT_MS + 2000, 'no hang');
  }
  assert.equal((await a.request('ping')).type, 'ok', 'the WebSocket itself stays up');

  stack.redis.proc.kill('SIGCONT');
  for (const n of [n0, n1]) {
    await eventually(async () => (await httpGet(`${n.httpUrl}/healthz`)).status === 200,
      { what: `${n.label} back`, timeoutMs: 15000 });
  }
  assert.equal((await a.request('profile.get', {})).type, 'ok');
  // pub/sub too: a presence change on node 1 reaches node 0.
  await eventually(async () => (await b.request('presence.set', { status: 'away' })).type === 'ok', { what: 'presence.set ok' });
  await a.waitEvent('presence', (e) => e.user === rb.user.id && e.status === 'away', 10000);
  for (const c of [a, b]) await c.close();
});
