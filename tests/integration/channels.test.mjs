// channels.test.mjs — channel.create and channel.list: who may, names, events, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, NO_SUCH_ID, SIGNIN, startReadyStack } from '../lib/community.mjs';

let h, stack, admin, circle, mod, member, outsider;

before(async () => {
  h = new Harness('channels');
  stack = await startReadyStack(h, { args: SIGNIN });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin));
  mod = await joined(stack, circle.id, 'mod');
  await admin.client.ok('circle.set_role', { circle: circle.id, user: mod.user.id, role: 'moderator' });
  await mod.client.waitEvent('circle.membership', (e) => e.role === 'moderator');
  member = await joined(stack, circle.id, 'mem');
  outsider = await newMember(stack, 'out');
});

after(async () => { await h.close(); });

test('channel requests before sign-in are unauthorized', async () => {
  const c = await connect(stack.wsUrl);
  assertError(await c.request('channel.create', { circle: circle.id, name: 'x' }), 'unauthorized');
  assertError(await c.request('channel.list', { circle: circle.id }), 'unauthorized');
  await c.close();
});

test('channel.create: a moderator adds a channel; members are told and see it listed', async () => {
  const r = await mod.client.request('channel.create', { circle: circle.id, name: 'assessment', topic: 'Marking and feedback' });
  assert.equal(r.type, 'ok');
  assert.match(r.channel.id, /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...r.channel, id: undefined }, { id: undefined, circle: circle.id, name: 'assessment', topic: 'Marking and feedback' });
  const ev = await member.client.waitEvent('channel.created', (e) => e.channel.id === r.channel.id);
  assert.equal(ev.channel.name, 'assessment');
  const list = await member.client.request('channel.list', { circle: circle.id });
  assert.equal(list.type, 'ok');
  assert.deepEqual(list.channels.map((c) => c.name), ['general', 'help', 'assessment']);
  assert.equal(list.channels[2].topic, 'Marking and feedback');
  // channels are usable at once
  const sent = await member.client.request('chat.send', { channel: r.channel.id, text: 'first' });
  assert.equal(sent.type, 'ok');
});

test('channel.create: names are unique per circle, ignoring case', async () => {
  assertError(await mod.client.request('channel.create', { circle: circle.id, name: 'General' }), 'conflict');
  assertError(await admin.client.request('channel.create', { circle: circle.id, name: 'help' }), 'conflict');
  // another circle may use the same name
  const other = await createCircle(admin);
  assert.equal((await admin.client.request('channel.create', { circle: other.circle.id, name: 'assessment-2' })).type, 'ok');
});

test('channel.create: members who are not moderators, and outsiders, are forbidden', async () => {
  assertError(await member.client.request('channel.create', { circle: circle.id, name: 'mine' }), 'forbidden');
  assertError(await outsider.client.request('channel.create', { circle: circle.id, name: 'mine' }), 'forbidden');
});

test('channel.create: an admin who is not a member may create (admins moderate everywhere)', async () => {
  const other = await createCircle(admin);
  await admin.client.ok('circle.leave', { circle: other.circle.id }).catch(() => {});
  const r = await admin.client.request('channel.create', { circle: other.circle.id, name: 'by-admin' });
  assert.equal(r.type, 'ok');
});

test('channel.create: bad fields and unknown circles', async () => {
  assertError(await mod.client.request('channel.create', { circle: circle.id }), 'bad_request', 'name');
  assertError(await mod.client.request('channel.create', { circle: circle.id, name: '' }), 'bad_request', 'name');
  assertError(await mod.client.request('channel.create', { circle: circle.id, name: 'n'.repeat(33) }), 'bad_request', 'name');
  assertError(await mod.client.request('channel.create', { circle: circle.id, name: 'ok', topic: 5 }), 'bad_request', 'topic');
  assertError(await mod.client.request('channel.create', { name: 'x' }), 'bad_request', 'circle');
  assertError(await mod.client.request('channel.create', { circle: NO_SUCH_ID, name: 'x' }), 'not_found');
});

test('channel.list: members only; not_found; bad id', async () => {
  assertError(await outsider.client.request('channel.list', { circle: circle.id }), 'forbidden');
  assertError(await member.client.request('channel.list', { circle: NO_SUCH_ID }), 'not_found');
  assertError(await member.client.request('channel.list', { circle: 42 }), 'bad_request', 'circle');
  const r = await mod.client.request('channel.list', { circle: circle.id });
  assert.equal(r.type, 'ok');
  for (const c of r.channels) { assert.equal(c.circle, circle.id); assert.equal(typeof c.topic, 'string'); }
});

test('a member who leaves loses access to the channels', async () => {
  const leaver = await joined(stack, circle.id, 'leaver');
  assert.equal((await leaver.client.request('channel.list', { circle: circle.id })).type, 'ok');
  await leaver.client.ok('circle.leave', { circle: circle.id });
  assertError(await leaver.client.request('channel.list', { circle: circle.id }), 'forbidden');
  await leaver.client.close();
});
