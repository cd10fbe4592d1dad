// readmarks.test.mjs — read markers and unread counts (issue 11) on two real staffroom-signal nodes and
// Redis: channel.read stores a marker that never moves backwards and that the user's other devices hear
// of; unread.counts and channel.list count others' messages after it (capped at 100), mentions apart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, NO_SUCH_ID, SIGNIN, startReadyStack } from '../lib/community.mjs';

const ARGS = [...SIGNIN, '--message-rate', '100000', '--message-burst', '10000'];
let h, stack, admin;

before(async () => {
  h = new Harness('readmarks');
  stack = await startReadyStack(h, { nodes: 2, args: ARGS });
  admin = await newAdmin(stack);
});
after(async () => { await h.close(); });

async function circle() {
  const { circle: c, channels } = await createCircle(admin);
  return { cid: c.id, general: channels.find((ch) => ch.name === 'general').id, help: channels.find((ch) => ch.name === 'help').id };
}
const send = async (u, channel, text) => (await u.client.ok('chat.send', { channel, text })).message;
const countsOf = async (u, cid) => (await u.client.ok('unread.counts')).circles.find((c) => c.circle === cid);

test('channel.read and unread.counts need a signed-in connection', async () => {
  const c = await connect(stack.nodes[0].wsUrl);
  assertError(await c.request('channel.read', { channel: NO_SUCH_ID, message: '1-0' }), 'unauthorized');
  assertError(await c.request('unread.counts', {}), 'unauthorized');
  await c.close();
});

test('unread counts others\' messages after the marker, mentions apart; channel.read moves it forward only', async () => {
  const { cid, general, help } = await circle();
  const ann = await joined(stack, cid, 'ann');
  const annOn1 = await connect(stack.nodes[1].wsUrl);
  await annOn1.ok('auth.resume', { token: ann.token });
  const bob = await joined(stack, cid, 'bob', stack.nodes[1].wsUrl);

  const m1 = await send(bob, general, 'hello all');
  const m2 = await send(bob, general, `@${ann.user.name} can you look at this?`);
  await send(ann, general, 'my own message is not unread');
  const m4 = await send(bob, general, 'thanks');
  let c = await countsOf(ann, cid);
  assert.deepEqual([c.unread, c.mentions], [3, 1]);
  const g = c.channels.find((ch) => ch.channel === general);
  assert.deepEqual([g.unread, g.mentions, g.last_read, g.newest], [3, 1, null, m4.id]);
  assert.deepEqual(c.channels.find((ch) => ch.channel === help), { channel: help, unread: 0, mentions: 0, last_read: null, newest: null });
  // channel.list carries the same
  const listed = (await ann.client.ok('channel.list', { circle: cid })).channels.find((ch) => ch.id === general);
  assert.deepEqual([listed.unread, listed.mentions, listed.last_read], [3, 1, null]);

  // read up to the mention: one unread left; the other device (other node) hears of it
  const r = await ann.client.ok('channel.read', { channel: general, message: m2.id });
  assert.equal(r.message, m2.id);
  const ev = await annOn1.waitEvent('channel.read', (e) => e.channel === general);
  assert.deepEqual([ev.circle, ev.message], [cid, m2.id]);
  c = await countsOf(ann, cid);
  assert.deepEqual([c.unread, c.mentions, c.channels.find((ch) => ch.channel === general).last_read], [1, 0, m2.id]);
  // backwards is ignored (the answer names the marker kept); past the newest message is clamped to it
  assert.equal((await annOn1.ok('channel.read', { channel: general, message: m1.id })).message, m2.id);
  assert.equal((await annOn1.ok('channel.read', { channel: general, message: '99999999999999-0' })).message, m4.id);
  c = await countsOf(ann, cid);
  assert.deepEqual([c.unread, c.channels.find((ch) => ch.channel === general).last_read], [0, m4.id]);
  assert.equal(c.channels.find((ch) => ch.channel === general).newest, m4.id, 'newest: nothing after the marker');
  // bob's counts are his own
  assert.equal((await countsOf(bob, cid)).unread, 1);

  // a moderator's removal does not count; the cap is 100
  const rude = await send(bob, general, 'rude');
  assert.equal((await countsOf(ann, cid)).unread, 1);
  await admin.client.ok('chat.delete', { channel: general, message: rude.id });
  assert.equal((await countsOf(ann, cid)).unread, 0);
  for (let i = 0; i < 120; i++) await stack.redisCmd('XADD', `channel:${help}:log`, '*', 'user', bob.user.id, 'text', `m${i}`);
  c = await countsOf(ann, cid);
  assert.deepEqual([c.unread, c.channels.find((ch) => ch.channel === help).unread], [100, 100]);
  const [[last]] = await stack.redisCmd('XREVRANGE', `channel:${help}:log`, '+', '-', 'COUNT', '1');
  assert.equal(c.channels.find((ch) => ch.channel === help).newest, last, 'newest: past the capped count too');
  for (const x of [ann.client, annOn1, bob.client]) await x.close();
});

test('a newcomer starts with nothing unread: what was written before joining counts as read', async () => {
  const { cid, general } = await circle();
  const old = await send(admin, general, 'written before you came');
  const late = await joined(stack, cid, 'late');
  let c = await countsOf(late, cid);
  assert.deepEqual([c.unread, c.channels.find((ch) => ch.channel === general).last_read], [0, old.id]);
  await send(admin, general, `welcome @${late.user.name}`);
  c = await countsOf(late, cid);
  assert.deepEqual([c.unread, c.mentions], [1, 1]);
  await late.client.close();
});

test('only circles I am a member of are counted; channel.read: members only, bad input', async () => {
  const { cid, general } = await circle();
  const bob = await joined(stack, cid, 'bob');
  const m = await send(bob, general, 'hi');
  const outsider = await newMember(stack);
  assert.ok(!(await outsider.client.ok('unread.counts')).circles.some((c) => c.circle === cid));
  assertError(await outsider.client.request('channel.read', { channel: general, message: m.id }), 'forbidden');
  assertError(await bob.client.request('channel.read', { channel: NO_SUCH_ID, message: m.id }), 'not_found');
  assertError(await bob.client.request('channel.read', { channel: 'general', message: m.id }), 'bad_request', 'channel');
  assertError(await bob.client.request('channel.read', { channel: general, message: 'latest' }), 'bad_request', 'message');
  assertError(await bob.client.request('channel.read', { channel: general }), 'bad_request', 'message');
  const { channels } = await createCircle(admin);
  await joined(stack, channels[0].circle, 'x').then(async (x) => {
    assertError(await x.client.request('channel.read', { channel: channels[0].id, message: '1-0' }), 'not_found');
    await x.client.close();
  });
  await bob.client.close();
  await outsider.client.close();
});
