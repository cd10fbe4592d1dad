// search.test.mjs — chat.search (search.h) with a real Redis, a real PostgreSQL 15 and a real
// staffroom-signal node: matches ranked with highlighted snippets, phrases and exclusions, only circles the
// user is a member of now, deleted and edited messages, cursor paging without duplicates, queries that try
// SQL injection are just text, bad input is bad_request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, createCircle, joined, joinAndWait, assertError, SIGNIN, startReadyStack } from '../lib/community.mjs';

const FAST = ['--message-rate', '100000', '--message-burst', '100000', ...SIGNIN];
let h, pg, stack, admin, stats, other, general, alice, bob, carol;
const sent = {};

const copiedCount = () => Number(h.psql(pg, 'SELECT count(*) FROM messages').trim());

async function say(who, chid, key, text) {
  sent[key] = (await who.client.ok('chat.send', { channel: chid, text })).message.id;
}

const search = (who, fields) => who.client.ok('chat.search', fields);
const ids = (r) => r.results.map((x) => x.message.id);

before(async () => {
  h = new Harness('search');
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...FAST, '--postgres-conninfo-file', pg.conninfoFile,
    '--archive-keep', '3', '--archive-interval', '30', '--postgres-retry-max', '200'] });
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])), { what: 'PostgreSQL migrated' });
  admin = await newAdmin(stack);
  ({ circle: stats, channels: [general] } = await createCircle(admin));
  ({ circle: other } = await createCircle(admin));
  alice = await joined(stack, stats.id, 'alice');
  bob = await joined(stack, stats.id, 'bob');
  carol = await joined(stack, other.id, 'carol');
  await say(alice, general.id, 'pvalue', 'How do you explain a p-value to adults? I start with coin flips.');
  await say(bob, general.id, 'pmisread', 'A p-value is not the probability that the hypothesis is true; p-values mislead.');
  await say(alice, general.id, 'ci', 'Confidence intervals for beginners: start from the sampling distribution.');
  await say(bob, general.id, 'lunch', 'Lunch plans for the conference?');
  await say(alice, general.id, 'flipsof', 'Flips of a coin, repeated, make the binomial distribution visible.');
  for (let i = 0; i < 7; i++) await say(bob, general.id, `rubric${i}`, `Rubric number ${i} for the statistics project`);
  await eventually(() => copiedCount() === 12, { what: 'every message copied to PostgreSQL' });
});

after(async () => { await h.close(); });

test('matches are ranked, with the message, its circle and a highlighted snippet', async () => {
  const r = await search(alice, { query: 'p-value' });
  assert.deepEqual(new Set(ids(r)), new Set([sent.pvalue, sent.pmisread]));
  // The message that says it twice ranks first.
  assert.equal(r.results[0].message.id, sent.pmisread);
  assert.ok(r.results[0].rank >= r.results[1].rank);
  for (const x of r.results) {
    assert.equal(x.circle, stats.id);
    assert.equal(x.message.channel, general.id);
    assert.match(x.snippet, /«[^»]+»/);
    assert.ok(x.message.user.id && x.message.text.length > 0);
  }
  assert.equal(r.cursor, undefined);
  // Stemming: "distributions" finds "distribution".
  assert.deepEqual(new Set(ids(await search(bob, { query: 'distributions' }))), new Set([sent.ci, sent.flipsof]));
});

test('phrases, exclusions and alternatives (web search syntax)', async () => {
  assert.deepEqual(ids(await search(alice, { query: '"coin flips"' })), [sent.pvalue]);
  assert.deepEqual(new Set(ids(await search(alice, { query: 'coin' }))), new Set([sent.pvalue, sent.flipsof]));
  assert.deepEqual(ids(await search(alice, { query: 'coin -binomial' })), [sent.pvalue]);
  assert.deepEqual(new Set(ids(await search(alice, { query: 'lunch or beginners' }))), new Set([sent.lunch, sent.ci]));
});

test('only circles the user is a member of now; circle and channel filters', async () => {
  assert.deepEqual(ids(await search(carol, { query: 'p-value' })), []);
  assertError(await carol.client.request('chat.search', { query: 'p-value', circle: stats.id }), 'forbidden');
  assertError(await carol.client.request('chat.search', { query: 'p-value', channel: general.id }), 'forbidden');
  assert.equal((await search(bob, { query: 'lunch', circle: stats.id })).results.length, 1);
  assert.equal((await search(bob, { query: 'lunch', channel: general.id })).results.length, 1);
  assertError(await bob.client.request('chat.search', { query: 'lunch', channel: 'f'.repeat(32) }), 'not_found');
  // carol joins: she finds it; she leaves: she does not.
  await joinAndWait(carol, stats.id);
  assert.equal((await search(carol, { query: 'lunch' })).results.length, 1);
  await carol.client.ok('circle.leave', { circle: stats.id });
  assert.deepEqual(ids(await search(carol, { query: 'lunch' })), []);
});

test('a deleted message is not found; an edited one is found by its new text only', async () => {
  await bob.client.ok('chat.delete', { channel: general.id, message: sent.lunch });
  assert.deepEqual(ids(await search(alice, { query: 'lunch' })), []);
  await alice.client.ok('chat.edit', { channel: general.id, message: sent.ci, text: 'Kangaroo intervals, corrected.' });
  await eventually(async () => ids(await search(alice, { query: 'kangaroo' }))[0] === sent.ci, { what: 'edit searchable' });
  assert.deepEqual(ids(await search(alice, { query: 'beginners' })), []);
  const hit = (await search(alice, { query: 'kangaroo' })).results[0];
  assert.deepEqual([hit.message.text, hit.message.edited], ['Kangaroo intervals, corrected.', true]);
});

test('cursor paging: every match once', async () => {
  const seen = [];
  let cursor;
  for (let i = 0; i < 10; i++) {
    const r = await search(bob, { query: 'rubric', limit: 3, ...(cursor ? { cursor } : {}) });
    assert.ok(r.results.length <= 3);
    seen.push(...ids(r));
    cursor = r.cursor;
    if (!cursor) break;
  }
  assert.equal(seen.length, 7);
  assert.deepEqual(new Set(seen), new Set([0, 1, 2, 3, 4, 5, 6].map((i) => sent[`rubric${i}`])));
});

test('injection attempts are just text; bad input is bad_request', async () => {
  for (const q of ["'; DROP TABLE messages; --", "p-value') OR 1=1 --", '\\x00 & | ! :* <->', '"unbalanced']) {
    const r = await alice.client.request('chat.search', { query: q });
    assert.equal(r.type, 'ok', `${q}: ${JSON.stringify(r)}`);
  }
  assert.equal(copiedCount() >= 10, true, 'the table is still there');
  const c = alice.client;
  assertError(await c.request('chat.search', {}), 'bad_request', 'query');
  assertError(await c.request('chat.search', { query: '' }), 'bad_request', 'query');
  assertError(await c.request('chat.search', { query: 'x'.repeat(201) }), 'bad_request', 'query');
  assertError(await c.request('chat.search', { query: 7 }), 'bad_request', 'query');
  assertError(await c.request('chat.search', { query: 'x', limit: 0 }), 'bad_request', 'limit');
  assertError(await c.request('chat.search', { query: 'x', limit: 51 }), 'bad_request', 'limit');
  assertError(await c.request('chat.search', { query: 'x', cursor: 'abc' }), 'bad_request', 'cursor');
  assertError(await c.request('chat.search', { query: 'x', cursor: '99999' }), 'bad_request', 'cursor');
  assertError(await c.request('chat.search', { query: 'x', circle: 'nope' }), 'bad_request', 'circle');
  assertError(await c.request('chat.search', { query: 'x', channel: 'nope' }), 'bad_request', 'channel');
});

test('the node stops cleanly: exit 0, no sanitizer report (leaks included) after all of the above', async () => {
  const node = stack.nodes[0];
  const res = await h.stop(node.proc);
  assert.deepEqual([res.code, res.signal], [0, null]);
  assert.doesNotMatch(nodeLog(node), /Sanitizer|runtime error/);
});
