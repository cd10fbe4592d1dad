// presence_burst.test.mjs — presence bursts are coalesced per node: a user's statuses within the window
// reach the others once, as the latest; many users' events within a window all arrive (none lost); a node
// with presence-coalesce-ms 0 delivers every change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, startNode } from '../lib/client.mjs';
import { user, circleWith } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000', '--signal-rate', '100000', '--signal-burst', '10000'];
let h, stack, direct;

before(async () => {
  h = new Harness('presence-burst');
  stack = await startStack(h, { args: [...ARGS, '--presence-coalesce-ms', '400'] });
  direct = await startNode(h, { redisPort: stack.redisPort, label: 'direct', args: [...ARGS, '--presence-coalesce-ms', '0'] });
});
after(async () => { await h.close(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('one user\'s quick changes reach a watcher once, as the latest status', async () => {
  const w = await user(stack.wsUrl, 'pw');
  const u = await user(stack.wsUrl, 'pu');
  const cid = await circleWith(stack, [w, u]);
  await sleep(600); // let the sign-in announcements pass
  w.client.events.length = 0;
  await u.client.ok('presence.set', { status: 'away' });
  await u.client.ok('presence.set', { status: 'busy' });
  await u.client.ok('presence.set', { status: 'online' });
  await u.client.ok('presence.set', { status: 'away' });
  const ev = await w.client.waitEvent('presence', (e) => e.user === u.user.id && e.circle === cid);
  assert.equal(ev.status, 'away', 'the latest status');
  await sleep(800);
  const more = w.client.events.filter((e) => e.type === 'presence' && e.user === u.user.id);
  assert.equal(more.length, 0, `held events were merged: ${JSON.stringify(more)}`);
  await w.client.close();
  await u.client.close();
});

test('a burst of 30 sign-ins: the watcher learns of every one', async () => {
  const w = await user(stack.wsUrl, 'bw');
  const cid = await circleWith(stack, [w]);
  const others = [];
  for (let i = 0; i < 30; i++) others.push(await user(stack.wsUrl, 'bo'));
  // put them all in the circle, then have each one's status change (as a sign-in would)
  await (await import('../lib/client.mjs')).putInCircle(stack, cid, others.map((o) => [o.user.id, 'member']));
  for (const o of others) await o.client.waitEvent('circle.membership', (e) => e.circle === cid);
  await Promise.all(others.map((o) => o.client.ok('presence.set', { status: 'busy' })));
  for (const o of others) {
    const ev = await w.client.waitEvent('presence', (e) => e.user === o.user.id && e.status === 'busy', 5000);
    assert.equal(ev.circle, cid);
  }
  for (const u of [w, ...others]) await u.client.close();
});

test('with presence-coalesce-ms 0 every change is delivered', async () => {
  const w = await user(direct.wsUrl, 'dw');
  const u = await user(direct.wsUrl, 'du');
  await circleWith(stack, [w, u]);
  await sleep(300);
  w.client.events.length = 0;
  for (const status of ['away', 'busy', 'online']) {
    await u.client.ok('presence.set', { status });
    assert.equal((await w.client.waitEvent('presence', (e) => e.user === u.user.id)).status, status);
  }
  await w.client.close();
  await u.client.close();
});
