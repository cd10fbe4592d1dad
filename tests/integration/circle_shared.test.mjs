// circle_shared.test.mjs — circle.shared (the role badges of a profile card) against a real
// staffroom-signal and Redis: a user's circles that the asker shares, with the role in each; an admin sees
// all; a pending request or a circle left is not listed; authorisation and bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joinAndWait, assertError, NO_SUCH_ID, SIGNIN, startReadyStack } from '../lib/community.mjs';

let h, stack, admin;

before(async () => {
  h = new Harness('circle-shared');
  stack = await startReadyStack(h, { args: SIGNIN });
  admin = await newAdmin(stack);
});

after(async () => { await h.close(); });

test('circle.shared: the circles both share, with the role in each; an admin sees all', async () => {
  const a = (await createCircle(admin, { name: 'B shared algebra' })).circle;
  const b = (await createCircle(admin, { name: 'A shared geometry' })).circle;
  const c = (await createCircle(admin, { name: 'C only target' })).circle;
  const mod = (await createCircle(admin, { name: 'D moderated', moderated: true })).circle;
  const target = await newMember(stack, 'target');
  const viewer = await newMember(stack, 'viewer');
  for (const x of [a, b, c]) await joinAndWait(target, x.id);
  for (const x of [a, b]) await joinAndWait(viewer, x.id);
  assert.equal((await target.client.ok('circle.join', { circle: mod.id })).status, 'pending');
  await viewer.client.ok('circle.join', { circle: mod.id }); // pending for the viewer too: not shared
  await admin.client.ok('circle.set_role', { circle: a.id, user: target.user.id, role: 'mentor' });

  const seen = await viewer.client.ok('circle.shared', { user: target.user.id });
  assert.deepEqual(seen.circles, [
    { id: b.id, name: 'A shared geometry', role: 'member' },
    { id: a.id, name: 'B shared algebra', role: 'mentor' },
  ], 'sorted by name; C (not shared) and D (pending) are not listed');
  const all = await admin.client.ok('circle.shared', { user: target.user.id });
  assert.deepEqual(all.circles.map((x) => x.name), ['A shared geometry', 'B shared algebra', 'C only target']);
  // asking about myself lists all of mine
  const mine = await target.client.ok('circle.shared', { user: target.user.id });
  assert.equal(mine.circles.length, 3);
  // leaving a circle takes it off
  await target.client.ok('circle.leave', { circle: b.id });
  assert.deepEqual((await viewer.client.ok('circle.shared', { user: target.user.id })).circles.map((x) => x.id), [a.id]);
  // nobody in common: an empty list
  const stranger = await newMember(stack, 'stranger');
  assert.deepEqual((await stranger.client.ok('circle.shared', { user: target.user.id })).circles, []);
  for (const u of [target, viewer, stranger]) await u.client.close();
});

test('circle.shared: unauthorized before sign-in; bad and unknown users', async () => {
  const c = await connect(stack.wsUrl);
  assertError(await c.request('circle.shared', { user: NO_SUCH_ID }), 'unauthorized');
  await c.close();
  const u = await newMember(stack);
  assertError(await u.client.request('circle.shared', {}), 'bad_request', 'user');
  assertError(await u.client.request('circle.shared', { user: 'not-an-id' }), 'bad_request', 'user');
  assertError(await u.client.request('circle.shared', { user: 42 }), 'bad_request', 'user');
  assertError(await u.client.request('circle.shared', { user: NO_SUCH_ID }), 'not_found');
  await u.client.close();
});
