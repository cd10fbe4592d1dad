// chat.test.mjs — chat.* against real staffroom-signal nodes and Redis: live delivery, history paging,
// resume after a reconnect, edit/delete, typing, rate limit, Redis restarts, two nodes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, joinAndWait, assertError, NO_SUCH_ID, SIGNIN, startReadyStack, startReadyNode } from '../lib/community.mjs';

// Generous limits on the main stack: the rate limit has its own node below.
const FAST = ['--message-rate', '100000', '--message-burst', '100000', ...SIGNIN];
let h, stack, admin, circle, general, help, alice, bob, outsider;

before(async () => {
  h = new Harness('chat');
  stack = await startReadyStack(h, { args: FAST });
  admin = await newAdmin(stack);
  ({ circle, channels: [general, help] } = await createCircle(admin));
  alice = await joined(stack, circle.id, 'alice');
  bob = await joined(stack, circle.id, 'bob');
  outsider = await newMember(stack, 'out');
});

after(async () => { await h.close(); });

test('chat requests before sign-in are unauthorized', async () => {
  const c = await connect(stack.wsUrl);
  for (const [type, fields] of [
    ['chat.send', { channel: general.id, text: 'hi' }], ['chat.history', { channel: general.id }],
    ['chat.edit', { channel: general.id, message: '1-0', text: 'x' }], ['chat.delete', { channel: general.id, message: '1-0' }],
    ['chat.typing', { channel: general.id }],
  ]) assertError(await c.request(type, fields), 'unauthorized');
  await c.close();
});

test('chat.send: stored, answered with the message, and seen live by every member', async () => {
  const r = await alice.client.request('chat.send', { channel: general.id, text: 'Has anyone taught p-values to adults?' });
  assert.equal(r.type, 'ok');
  const m = r.message;
  assert.match(m.id, /^\d+-\d+$/);
  assert.equal(m.channel, general.id);
  assert.equal(m.text, 'Has anyone taught p-values to adults?');
  assert.equal(m.edited, false);
  assert.deepEqual([m.user.id, m.user.name], [alice.user.id, alice.user.name]);
  assert.ok(Math.abs(m.ts - Date.now()) < 60000);
  for (const c of [bob.client, admin.client, alice.client]) {
    const ev = await c.waitEvent('chat.message', (e) => e.message.id === m.id);
    assert.deepEqual(ev.message, m);
    assert.equal(ev.circle, circle.id);
  }
  // bob answers; alice sees it
  const b = await bob.client.ok('chat.send', { channel: general.id, text: 'Yes: start from a coin' });
  assert.equal((await alice.client.waitEvent('chat.message', (e) => e.message.id === b.message.id)).message.text, 'Yes: start from a coin');
  // it is in the history, after alice's
  const hist = await alice.client.ok('chat.history', { channel: general.id, after: m.id });
  assert.deepEqual(hist.messages.map((x) => x.id), [b.message.id]);
});

test('chat.send: text limits, UTF-8, bad fields', async () => {
  const c = alice.client;
  assertError(await c.request('chat.send', { channel: general.id, text: '' }), 'bad_request', 'text');
  assertError(await c.request('chat.send', { channel: general.id }), 'bad_request', 'text');
  assertError(await c.request('chat.send', { channel: general.id, text: 7 }), 'bad_request', 'text');
  assertError(await c.request('chat.send', { channel: general.id, text: 'x'.repeat(4001) }), 'bad_request', 'text');
  assertError(await c.request('chat.send', { channel: general.id, text: 'é'.repeat(2001) }), 'bad_request', 'text'); // 4002 bytes
  assertError(await c.request('chat.send', { text: 'hi' }), 'bad_request', 'channel');
  assertError(await c.request('chat.send', { channel: 'general', text: 'hi' }), 'bad_request', 'channel');
  const max = await c.ok('chat.send', { channel: general.id, text: 'x'.repeat(4000) });
  assert.equal(max.message.text.length, 4000);
  const uni = 'Grüße, 先生 👩‍🏫 — "quotes" \\ and </script>';
  const u = await c.ok('chat.send', { channel: general.id, text: uni });
  assert.equal(u.message.text, uni);
  const back = await c.ok('chat.history', { channel: general.id, limit: 1 });
  assert.equal(back.messages[0].text, uni);
});

test('chat.send: forbidden for non-members and pending members; not_found for unknown channels', async () => {
  assertError(await outsider.client.request('chat.send', { channel: general.id, text: 'let me in' }), 'forbidden');
  assertError(await outsider.client.request('chat.history', { channel: general.id }), 'forbidden');
  assertError(await outsider.client.request('chat.typing', { channel: general.id }), 'forbidden');
  assertError(await alice.client.request('chat.send', { channel: NO_SUCH_ID, text: 'hi' }), 'not_found');
  assertError(await alice.client.request('chat.history', { channel: NO_SUCH_ID }), 'not_found');
  const mod = await createCircle(admin, { moderated: true });
  const p = await newMember(stack, 'pend');
  assert.equal((await p.client.ok('circle.join', { circle: mod.circle.id })).status, 'pending');
  assertError(await p.client.request('chat.send', { channel: mod.channels[0].id, text: 'early' }), 'forbidden');
  assertError(await p.client.request('chat.history', { channel: mod.channels[0].id }), 'forbidden');
  await p.client.close();
});

test('chat.history: pages both ways across more than 100 messages, oldest first, no gaps', async () => {
  const ids = [];
  for (let i = 0; i < 130; i++) ids.push((await bob.client.ok('chat.send', { channel: help.id, text: `m${i}` })).message.id);
  // latest page
  const last = await alice.client.ok('chat.history', { channel: help.id });
  assert.equal(last.messages.length, 50);
  assert.deepEqual(last.messages.map((m) => m.id), ids.slice(80));
  assert.equal(last.has_more, true);
  // backwards with `before`, 100 at a time
  const back = [];
  let before = null;
  for (;;) {
    const r = await alice.client.ok('chat.history', { channel: help.id, limit: 100, ...(before ? { before } : {}) });
    back.unshift(...r.messages.map((m) => m.id));
    if (!r.has_more) break;
    before = r.messages[0].id;
  }
  assert.deepEqual(back, ids);
  // forwards with `after`, from the very beginning
  const fwd = [];
  let afterId = '0-0';
  for (;;) {
    const r = await alice.client.ok('chat.history', { channel: help.id, after: afterId, limit: 100 });
    fwd.push(...r.messages.map((m) => m.id));
    if (!r.has_more) break;
    afterId = r.messages[r.messages.length - 1].id;
  }
  assert.deepEqual(fwd, ids);
  assert.deepEqual((await alice.client.ok('chat.history', { channel: help.id, after: ids[129] })).messages, []);
  // between two ids, both exclusive
  const mid = await alice.client.ok('chat.history', { channel: help.id, after: ids[10], before: ids[14] });
  assert.deepEqual(mid.messages.map((m) => m.text), ['m11', 'm12', 'm13']);
  // the ends of the id space are empty pages, not errors
  const top = await alice.client.ok('chat.history', { channel: help.id, after: '18446744073709551615-18446744073709551615' });
  assert.deepEqual([top.messages, top.has_more], [[], false]);
  const bottom = await alice.client.ok('chat.history', { channel: help.id, before: '0-0' });
  assert.deepEqual([bottom.messages, bottom.has_more], [[], false]);
  // limits and ids are checked
  assertError(await alice.client.request('chat.history', { channel: help.id, limit: 101 }), 'bad_request', 'limit');
  assertError(await alice.client.request('chat.history', { channel: help.id, limit: 0 }), 'bad_request', 'limit');
  assertError(await alice.client.request('chat.history', { channel: help.id, after: 'yesterday' }), 'bad_request', 'after');
  assertError(await alice.client.request('chat.history', { channel: help.id, before: '12' }), 'bad_request', 'before');
});

test('reconnect: auth.resume then chat.history after the last id gives every missed message exactly once', async () => {
  const { circle: c, channels: [ch] } = await createCircle(admin);
  const a = await joined(stack, c.id, 'resumer');
  const b = await joined(stack, c.id, 'sender');
  const seen = await a.client.ok('chat.send', { channel: ch.id, text: 'before the tunnel' });
  const lastId = seen.message.id;
  await a.client.close();
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push((await b.client.ok('chat.send', { channel: ch.id, text: `missed ${i}` })).message.id);
  const client = await connect(stack.wsUrl);
  const resumed = await client.request('auth.resume', { token: a.token });
  assert.equal(resumed.type, 'ok');
  assert.equal(resumed.user.id, a.user.id);
  const r = await client.ok('chat.history', { channel: ch.id, after: lastId });
  assert.deepEqual(r.messages.map((m) => m.id), sent);
  assert.deepEqual(r.messages.map((m) => m.text), ['missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4']);
  assert.equal(r.has_more, false);
  // and live delivery carries on from there (the resumed connection follows the circle again)
  const next = await b.client.ok('chat.send', { channel: ch.id, text: 'welcome back' });
  const ev = await client.waitEvent('chat.message', (e) => e.message.id === next.message.id);
  assert.equal(ev.message.text, 'welcome back');
  await client.close();
  await b.client.close();
});

test('@mentions: a mentioned member is told (event + notification), once; non-members and the sender are not; an offline member on the next sign-in', async () => {
  const { circle: c, channels: [ch] } = await createCircle(admin);
  const a = await joined(stack, c.id, 'mentioner');
  const b = await joined(stack, c.id, 'mentioned');
  const stranger = await newMember(stack, 'stranger');
  const text = `@${b.user.name.toUpperCase()}, and again @${b.user.name}. Also @${stranger.user.name} @${a.user.name} @nobody-here`;
  const sent = await a.client.ok('chat.send', { channel: ch.id, text });
  const ev = await b.client.waitEvent('chat.mention', (e) => e.message.id === sent.message.id);
  assert.equal(ev.circle, c.id);
  assert.equal(ev.channel, ch.id);
  assert.equal(ev.by.id, a.user.id);
  assert.equal(ev.message.text, text);
  // the same script published to everyone: one more round trip each, then nothing else may be waiting
  await b.client.ok('ping'); await stranger.client.ok('ping'); await a.client.ok('ping');
  assert.equal(b.client.events.filter((e) => e.type === 'chat.mention').length, 0, 'told once');
  assert.equal(stranger.client.events.filter((e) => e.type === 'chat.mention').length, 0, 'not a member');
  assert.equal(a.client.events.filter((e) => e.type === 'chat.mention').length, 0, 'not the sender');
  const notes = await b.client.ok('notifications.list');
  assert.equal(notes.notifications[0].kind, 'chat.mention');
  assert.equal(notes.notifications[0].event.message.id, sent.message.id);
  // offline: the mention waits for the next sign-in
  await b.client.close();
  await eventually(async () => (await a.client.ok('circle.members', { circle: c.id })).members
    .some((m) => m.user.id === b.user.id && m.presence === 'offline'), { what: 'b offline' });
  const later = await a.client.ok('chat.send', { channel: ch.id, text: `@${b.user.name} when you are back` });
  const back = await connect(stack.wsUrl);
  assert.equal((await back.request('auth.resume', { token: b.token })).type, 'ok');
  assert.equal((await back.waitEvent('chat.mention', (e) => e.message.id === later.message.id)).by.id, a.user.id);
  await back.close(); await a.client.close(); await stranger.client.close();
});

test('a member who leaves can no longer chat, and stops receiving the circle\'s messages', async () => {
  const { circle: c, channels: [ch] } = await createCircle(admin);
  const other = await createCircle(admin);
  const l = await joined(stack, c.id, 'leaver');
  await joinAndWait(l, other.circle.id);
  await l.client.ok('chat.send', { channel: ch.id, text: 'bye all' });
  await l.client.ok('circle.leave', { circle: c.id });
  await l.client.waitEvent('circle.membership', (e) => e.circle === c.id && e.status === 'none');
  assertError(await l.client.request('chat.send', { channel: ch.id, text: 'still here?' }), 'forbidden');
  assertError(await l.client.request('chat.history', { channel: ch.id }), 'forbidden');
  const gone = await admin.client.ok('chat.send', { channel: ch.id, text: 'after you left' });
  // barrier: a message in the circle the leaver still belongs to, published later on the same bus
  const barrier = await admin.client.ok('chat.send', { channel: other.channels[0].id, text: 'barrier' });
  await l.client.waitEvent('chat.message', (e) => e.message.id === barrier.message.id);
  assert.ok(!l.client.events.some((e) => e.type === 'chat.message' && e.message.id === gone.message.id));
  await l.client.close();
});

test('chat.edit: own messages only; members see chat.updated; history shows the new text', async () => {
  const m = (await alice.client.ok('chat.send', { channel: general.id, text: 'teh typo' })).message;
  const r = await alice.client.request('chat.edit', { channel: general.id, message: m.id, text: 'the typo' });
  assert.equal(r.type, 'ok');
  assert.equal(r.message.text, 'the typo');
  assert.equal(r.message.edited, true);
  assert.equal(r.message.id, m.id);
  const ev = await bob.client.waitEvent('chat.updated', (e) => e.message.id === m.id);
  assert.equal(ev.message.text, 'the typo');
  const hist = await bob.client.ok('chat.history', { channel: general.id, limit: 100 });
  const stored = hist.messages.find((x) => x.id === m.id);
  assert.deepEqual([stored.text, stored.edited], ['the typo', true]);
  assertError(await bob.client.request('chat.edit', { channel: general.id, message: m.id, text: 'mine now' }), 'forbidden');
  assertError(await admin.client.request('chat.edit', { channel: general.id, message: m.id, text: 'moderated' }), 'forbidden');
  assertError(await alice.client.request('chat.edit', { channel: general.id, message: '1-0', text: 'x' }), 'not_found');
  assertError(await alice.client.request('chat.edit', { channel: general.id, message: m.id, text: '' }), 'bad_request', 'text');
  assertError(await alice.client.request('chat.edit', { channel: general.id, text: 'x' }), 'bad_request', 'message');
  assertError(await outsider.client.request('chat.edit', { channel: general.id, message: m.id, text: 'x' }), 'forbidden');
});

test('chat.delete: own messages leave the history; a moderator\'s deletion leaves a tombstone', async () => {
  const own = (await alice.client.ok('chat.send', { channel: general.id, text: 'oops' })).message;
  const other = (await bob.client.ok('chat.send', { channel: general.id, text: 'something rude' })).message;
  assertError(await alice.client.request('chat.delete', { channel: general.id, message: other.id }), 'forbidden');
  assertError(await outsider.client.request('chat.delete', { channel: general.id, message: own.id }), 'forbidden');
  assert.equal((await alice.client.request('chat.delete', { channel: general.id, message: own.id })).type, 'ok');
  const ev = await bob.client.waitEvent('chat.deleted', (e) => e.message === own.id);
  assert.equal(ev.channel, general.id);
  assert.equal(ev.by, 'author');
  // the admin is the circle's moderator: the message stays as a tombstone (issue 11)
  assert.equal((await admin.client.request('chat.delete', { channel: general.id, message: other.id })).type, 'ok');
  assert.equal((await alice.client.waitEvent('chat.deleted', (e) => e.message === other.id)).by, 'moderator');
  const hist = await alice.client.ok('chat.history', { channel: general.id, limit: 100 });
  const ids = hist.messages.map((m) => m.id);
  assert.ok(!ids.includes(own.id));
  const tomb = hist.messages.find((m) => m.id === other.id);
  assert.deepEqual([tomb.text, tomb.removed, tomb.user.id], ['', 'moderator', bob.user.id]);
  assertError(await alice.client.request('chat.delete', { channel: general.id, message: own.id }), 'not_found');
  assertError(await admin.client.request('chat.delete', { channel: general.id, message: other.id }), 'not_found');
  assertError(await alice.client.request('chat.delete', { channel: general.id, message: 'x-1' }), 'bad_request', 'message');
  // a resume from a deleted id still works (ids are positions, not rows)
  const after = (await bob.client.ok('chat.send', { channel: general.id, text: 'after the deletions' })).message;
  const r = await alice.client.ok('chat.history', { channel: general.id, after: own.id });
  assert.deepEqual(r.messages.map((m) => m.id), [other.id, after.id]); // the tombstone, then the new one
});

test('chat.typing: reaches the other members, not non-members', async () => {
  // The outsider belongs to another circle; an event there, published after the typing event, is the
  // barrier: events reach a node over one subscription connection, in publish order.
  const other = await createCircle(admin);
  await joinAndWait(outsider, other.circle.id);
  assert.equal((await alice.client.request('chat.typing', { channel: general.id })).type, 'ok');
  const ev = await bob.client.waitEvent('chat.typing', (e) => e.channel === general.id);
  assert.deepEqual([ev.user.id, ev.user.name], [alice.user.id, alice.user.name]);
  const barrier = await admin.client.ok('chat.send', { channel: other.channels[0].id, text: 'barrier' });
  await outsider.client.waitEvent('chat.message', (e) => e.message.id === barrier.message.id);
  assert.equal(outsider.client.events.filter((e) => e.type === 'chat.typing').length, 0);
  assertError(await alice.client.request('chat.typing', { channel: NO_SUCH_ID }), 'not_found');
  assertError(await alice.client.request('chat.typing', {}), 'bad_request', 'channel');
});

test('chat.send: over the message rate limit → rate_limited', async () => {
  const node = await startReadyNode(h, { redisPort: stack.redisPort, label: 'signal-rl', args: ['--message-rate', '1', '--message-burst', '3', ...SIGNIN] });
  const c = await connect(node.wsUrl);
  const r = await c.request('auth.login', { name: alice.user.name, password: alice.password });
  assert.equal(r.type, 'ok');
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await c.request('chat.send', { channel: general.id, text: `burst ${i}` }));
  assert.deepEqual(answers.slice(0, 3).map((a) => a.type), ['ok', 'ok', 'ok']);
  const limited = answers.slice(3);
  for (const a of limited) {
    assertError(a, 'rate_limited');
    assert.ok(a.retry_after_ms > 0, `a retry hint: ${JSON.stringify(a)}`);
  }
  // nothing refused was stored
  const hist = await c.ok('chat.history', { channel: general.id, limit: 10 });
  assert.deepEqual(hist.messages.slice(-3).map((m) => m.text), ['burst 0', 'burst 1', 'burst 2']);
  await c.close();
  await h.stop(node.proc);
});

test('two nodes on one Redis: members on different nodes chat live', async () => {
  const node2 = await startReadyNode(h, { redisPort: stack.redisPort, label: 'signal-two', args: FAST });
  const { circle: c, channels: [ch] } = await createCircle(admin);
  const a = await joined(stack, c.id, 'n1', stack.wsUrl);
  const b = await joined(stack, c.id, 'n2', node2.wsUrl);
  const fromA = await a.client.ok('chat.send', { channel: ch.id, text: 'from node 1' });
  assert.equal((await b.client.waitEvent('chat.message', (e) => e.message.id === fromA.message.id)).message.text, 'from node 1');
  const fromB = await b.client.ok('chat.send', { channel: ch.id, text: 'from node 2' });
  assert.equal((await a.client.waitEvent('chat.message', (e) => e.message.id === fromB.message.id)).message.text, 'from node 2');
  await b.client.ok('chat.typing', { channel: ch.id });
  assert.equal((await a.client.waitEvent('chat.typing', (e) => e.channel === ch.id)).user.id, b.user.id);
  await a.client.close();
  await b.client.close();
  await h.stop(node2.proc);
});

test('Redis stops and restarts mid-session: unavailable while down, no acknowledged message lost', async () => {
  const h2 = new Harness('chat-redis');
  try {
    const s = await startReadyStack(h2, { args: FAST });
    const adm = await newAdmin(s);
    const { circle: c, channels: [ch] } = await createCircle(adm);
    const a = await joined(s, c.id, 'survivor');
    const acked = [];
    const send = async (text) => {
      const r = await a.client.request('chat.send', { channel: ch.id, text }).catch((e) => {
        throw new Error(`chat.send "${text}": ${e.message} (every request must be answered, Redis up or down)`);
      });
      if (r.type === 'ok') acked.push(r.message.id);
      return r;
    };
    for (let i = 0; i < 5; i++) assert.equal((await send(`before ${i}`)).type, 'ok');
    // send while Redis goes down: whatever is acknowledged must survive
    const inflight = Promise.all([0, 1, 2, 3, 4].map((i) => send(`racing ${i}`)));
    await h2.stop(s.redis);
    await inflight;
    const down = await eventually(async () => { const r = await send('while down'); return r.type === 'error' && r; }, { what: 'unavailable' });
    assertError(down, 'unavailable');
    assertError(await a.client.request('chat.history', { channel: ch.id }), 'unavailable');
    // same port, same data directory: the append-only file brings the data back
    await h2.redis({ port: s.redisPort });
    await eventually(async () => (await send('after restart')).type === 'ok', { what: 'Redis back', timeoutMs: 30000, everyMs: 200 });
    const hist = await a.client.ok('chat.history', { channel: ch.id, limit: 100 });
    const stored = new Set(hist.messages.map((m) => m.id));
    for (const id of acked) assert.ok(stored.has(id), `acknowledged message ${id} was lost`);
    assert.ok(acked.length >= 6);
    // live delivery works again after the bus resubscribed
    const b = await joined(s, c.id, 'late');
    const m = await b.client.ok('chat.send', { channel: ch.id, text: 'live again' });
    await a.client.waitEvent('chat.message', (e) => e.message.id === m.message.id);
    await a.client.close();
    await b.client.close();
  } finally {
    await h2.close();
  }
});
