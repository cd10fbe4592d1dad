// admission.test.mjs — admission control on a real node: a client that pipelines far more requests than
// max-inflight has every one answered (reading pauses at the cap and resumes, nothing is lost); every
// request type has a rate class (reads included, per user; per IP before sign-in); a sign-in storm over
// hash-queue-max is answered `unavailable` with a retry hint instead of queueing without bound.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, connect, newUser, uniqueName, httpGet } from '../lib/client.mjs';

let h, stack;
before(async () => {
  h = new Harness('admission');
  stack = await startStack(h, { nodes: 2, args: ['--login-rate', '100000', '--login-burst', '100000',
    '--max-inflight', '2', '--request-rate', '60000', '--request-burst', '100000', '--hash-queue-max', '1'] });
});
after(async () => { await h.close(); });

async function metric(node, name) {
  const m = (await httpGet(`${node.httpUrl}/metrics`)).body.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : NaN;
}

test('300 pipelined requests with max-inflight 2: all answered, in order, reading paused and resumed', async () => {
  const u = await newUser(stack.wsUrl, uniqueName('inf'));
  const paused0 = await metric(stack.nodes[0], 'staffroom_inflight_paused_total');
  const N = 300;
  // One burst of raw frames: the node reads many at once, each waits on Redis.
  for (let i = 0; i < N; i++) u.client.sendRaw(JSON.stringify({ type: 'profile.get', id: `p${i}` }));
  const got = [];
  for (let i = 0; i < N; i++) got.push(await u.client.waitEvent('ok', (e) => e.id === `p${i}`, 20000));
  assert.equal(got.length, N);
  for (const g of got) assert.equal(g.user.id, u.user.id);
  assert.ok(await metric(stack.nodes[0], 'staffroom_inflight_paused_total') > paused0, 'reading paused at the cap');
  // the connection is still usable afterwards
  assert.equal((await u.client.request('ping', {})).pong, true);
  await u.client.close();
});

test('reads have a rate class too: a read flood is rate_limited with a retry hint', async () => {
  const node = await (await import('../lib/client.mjs')).startNode(h, { redisPort: stack.redisPort, label: 'reads',
    args: ['--login-rate', '100000', '--login-burst', '100000', '--request-rate', '60', '--request-burst', '5'] });
  const c = await connect(node.wsUrl);
  const answers = [];
  for (let i = 0; i < 12; i++) answers.push(await c.request('ping', {}));
  const limited = answers.filter((a) => a.type === 'error');
  assert.ok(limited.length >= 6, JSON.stringify(answers));
  for (const a of limited) {
    assert.equal(a.code, 'rate_limited');
    assert.ok(a.retry_after_ms > 0);
  }
  await c.close();
  await h.stop(node.proc);
});

test('a sign-in storm over hash-queue-max gets unavailable + retry_after_ms; retrying later succeeds', async () => {
  const name = uniqueName('storm');
  const first = await newUser(stack.nodes[1].wsUrl, name, 'correct horse battery');
  await first.client.close();
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(stack.nodes[1].wsUrl)));
  const answers = await Promise.all(clients.map((c) =>
    c.request('auth.login', { name, password: 'correct horse battery' }, 30000)));
  const ok = answers.filter((a) => a.type === 'ok');
  const refused = answers.filter((a) => a.type === 'error');
  assert.ok(ok.length >= 1, JSON.stringify(answers));
  assert.ok(refused.length >= 1, 'the queue of 1 refused some of 8 at once');
  for (const a of refused) {
    assert.equal(a.code, 'unavailable', JSON.stringify(a));
    assert.ok(a.retry_after_ms > 0);
  }
  assert.ok(await metric(stack.nodes[1], 'staffroom_hash_refused_total') >= refused.length);
  // after the storm, a refused client retries and gets in
  const again = await clients[answers.indexOf(refused[0])].request('auth.login', { name, password: 'correct horse battery' }, 30000);
  assert.equal(again.type, 'ok', JSON.stringify(again));
  for (const c of clients) await c.close();
});
