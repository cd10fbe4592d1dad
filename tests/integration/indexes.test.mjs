// indexes.test.mjs — the node's indexes (user → connections, circle → members here, device → connection)
// stay exact: a device that signs out stops getting its user's and circles' events while the user's other
// device still gets them; signing in again (another user, then back) gets them once, never twice; a
// connection that leaves a circle stops getting its events; when a node dies, its users resume on the
// survivor and are reached there, and the survivor's other members are unaffected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, startNode, connect, putInCircle } from '../lib/client.mjs';
import { user, device, circleWith } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000', '--signal-rate', '100000', '--signal-burst', '10000',
  '--presence-coalesce-ms', '0'];
let h, stack;

before(async () => {
  h = new Harness('indexes');
  stack = await startStack(h, { nodes: 2, args: ARGS });
});
after(async () => { await h.close(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Each call makes a distinct status change of u, so every event can be told apart.
let flip = 0;
async function announce(u) {
  const status = ['away', 'busy'][flip++ % 2];
  await u.client.ok('presence.set', { status });
  return status;
}
const count = (c, uid, status) => c.events.filter((e) => e.type === 'presence' && e.user === uid && e.status === status).length;

test('sign-out drops a device from the indexes; signing in again adds it back once', async () => {
  const a = await user(stack.nodes[0].wsUrl, 'ia');
  // A second session of the same user (its own login): signing it out leaves a's session alone (signing
  // out a session ends all of its connections: sessions.test.mjs).
  const a2 = { client: await connect(stack.nodes[0].wsUrl), user: a.user };
  await a2.client.ok('auth.login', { name: a.user.name, password: a.password }, 30000);
  const w = await user(stack.nodes[1].wsUrl, 'iw');
  const cid = await circleWith(stack, [a, w]);
  await a2.client.waitEvent('circle.membership', (e) => e.circle === cid);
  await sleep(200);

  let st = await announce(w);
  await a.client.waitEvent('presence', (e) => e.user === w.user.id && e.status === st);
  await a2.client.waitEvent('presence', (e) => e.user === w.user.id && e.status === st);

  await a2.client.ok('auth.logout', {});
  a.client.events.length = 0;
  a2.client.events.length = 0;
  st = await announce(w);
  await a.client.waitEvent('presence', (e) => e.user === w.user.id && e.status === st);
  await sleep(300);
  assert.equal(count(a2.client, w.user.id, st), 0, 'a signed-out connection gets no circle event');

  // the same connection signs in as another member, then the first user's device resumes elsewhere
  const b = await user(stack.nodes[0].wsUrl, 'ib');
  await putInCircle(stack, cid, [[b.user.id, 'member']]);
  await b.client.waitEvent('circle.membership', (e) => e.circle === cid);
  const r = await a2.client.request('auth.resume', { token: b.token });
  assert.equal(r.type, 'ok');
  await sleep(200);
  a2.client.events.length = 0;
  st = await announce(w);
  await a2.client.waitEvent('presence', (e) => e.user === w.user.id && e.status === st);
  await sleep(300);
  assert.equal(count(a2.client, w.user.id, st), 0, 'delivered once, not twice');
  for (const u of [a, a2, w, b]) await u.client.close();
});

test('leaving a circle stops its events on every device of the user', async () => {
  const a = await user(stack.nodes[0].wsUrl, 'la');
  const a2 = await device(stack.nodes[1].wsUrl, a);
  const w = await user(stack.nodes[0].wsUrl, 'lw');
  const cid = await circleWith(stack, [a, w]);
  await a2.client.waitEvent('circle.membership', (e) => e.circle === cid);
  await stack.redisCmd('HDEL', `circle:${cid}:members`, a.user.id);
  await stack.redisCmd('HDEL', `user:${a.user.id}:circles`, cid);
  await stack.redisCmd('PUBLISH', `ev:u:${a.user.id}`,
    JSON.stringify({ type: 'circle.membership', circle: cid, user: a.user.id, status: 'none', role: null }));
  await a.client.waitEvent('circle.membership', (e) => e.circle === cid && e.status === 'none');
  await a2.client.waitEvent('circle.membership', (e) => e.circle === cid && e.status === 'none');
  a.client.events.length = 0;
  a2.client.events.length = 0;
  const st = await announce(w);
  await sleep(500);
  assert.equal(count(a.client, w.user.id, st), 0);
  assert.equal(count(a2.client, w.user.id, st), 0);
  for (const u of [a, a2, w]) await u.client.close();
});

test('a node dies: its users resume on the survivor and are reached there; the survivor\'s members are unaffected', async () => {
  const doomed = await startNode(h, { redisPort: stack.redisPort, label: 'doomed', args: ARGS });
  const a = await user(doomed.wsUrl, 'da');
  const s = await user(stack.nodes[0].wsUrl, 'ds');
  const w = await user(stack.nodes[1].wsUrl, 'dw');
  await circleWith(stack, [a, s, w]);
  await h.stop(doomed.proc, 'SIGKILL');
  const back = await connect(stack.nodes[0].wsUrl);
  assert.equal((await back.request('auth.resume', { token: a.token })).type, 'ok');
  await sleep(200);
  const st = await announce(w);
  await back.waitEvent('presence', (e) => e.user === w.user.id && e.status === st);
  await s.client.waitEvent('presence', (e) => e.user === w.user.id && e.status === st);
  // a call.signal to the resumed device works through the survivor (device index)
  const inv = await w.client.ok('call.invite', { user: a.user.id });
  await back.waitEvent('call.incoming', (e) => e.call === inv.call);
  await back.request('call.accept', { call: inv.call });
  await w.client.waitEvent('call.accepted', (e) => e.call === inv.call);
  await w.client.ok('call.signal', { call: inv.call, data: { hello: 1 } });
  assert.equal((await back.waitEvent('call.signal', (e) => e.call === inv.call)).data.hello, 1);
  await back.close();
  await s.client.close();
  await w.client.close();
});
