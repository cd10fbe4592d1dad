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

test('prefix queries: word* matches the words that start with it, in and out of phrases', async () => {
  assert.deepEqual(ids(await search(alice, { query: 'distrib*' })), [sent.flipsof]);
  assert.deepEqual(ids(await search(alice, { query: 'kanga*' })), [sent.ci]);
  assert.deepEqual(new Set(ids(await search(alice, { query: 'rubr* statistics', limit: 50 }))),
    new Set([0, 1, 2, 3, 4, 5, 6].map((i) => sent[`rubric${i}`])));
  assert.deepEqual(ids(await search(alice, { query: 'binom* coin' })), [sent.flipsof]);
  assert.deepEqual(ids(await search(alice, { query: 'binom* lunch*' })), []);
  // Inside a phrase, or with anything but letters and digits, * is just text.
  assert.equal((await alice.client.request('chat.search', { query: '"coin*" flips' })).type, 'ok');
  assert.equal((await alice.client.request('chat.search', { query: "p'* & x:*" })).type, 'ok');
  assertError(await alice.client.request('chat.search', { query: 'a* b* c* d* e* f* g* h* i*' }), 'bad_request', 'query');
});

test('filters: author, after and before (ms, exclusive)', async () => {
  const byBob = ids(await search(alice, { query: 'rubric', author: bob.user.id, limit: 50 }));
  assert.equal(byBob.length, 7);
  assert.deepEqual(ids(await search(alice, { query: 'rubric', author: alice.user.id })), []);
  assert.deepEqual(ids(await search(alice, { query: 'p-value', author: alice.user.id })), [sent.pvalue]);
  const ts = (id) => Number(id.split('-')[0]);
  const t3 = ts(sent.rubric3);
  const later = ids(await search(alice, { query: 'rubric', after: t3, limit: 50 }));
  assert.deepEqual(new Set(later), new Set([4, 5, 6].map((i) => sent[`rubric${i}`]).filter((id) => ts(id) > t3)));
  const earlier = ids(await search(alice, { query: 'rubric', before: t3, limit: 50 }));
  assert.ok(earlier.every((id) => ts(id) < t3) && !earlier.includes(sent.rubric3));
  const sameMs = [0, 1, 2, 3, 4, 5, 6].map((i) => sent[`rubric${i}`]).filter((id) => ts(id) === t3);
  assert.deepEqual(ids(await search(alice, { query: 'rubric', after: t3 - 1, before: t3 + 1, limit: 50 })).sort(), sameMs.sort());
  const c = alice.client;
  assertError(await c.request('chat.search', { query: 'x', author: 'bob' }), 'bad_request', 'author');
  assertError(await c.request('chat.search', { query: 'x', after: -1 }), 'bad_request', 'after');
  assertError(await c.request('chat.search', { query: 'x', before: 'yesterday' }), 'bad_request', 'before');
  assertError(await c.request('chat.search', { query: 'x', after: 5, before: 5 }), 'bad_request', 'before');
});

test('ranking is among the newest matches only, and the same as PostgreSQL computes it directly', async () => {
  const chid = (await admin.client.ok('channel.create', { circle: stats.id, name: 'kappa' })).channel.id;
  // 230 matches: the oldest says "kappa" five times (the best rank), the others once.
  await alice.client.ok('chat.send', { channel: chid, text: 'kappa kappa kappa kappa kappa, the oldest' });
  for (let i = 0; i < 229; i++) await bob.client.ok('chat.send', { channel: chid, text: `kappa number ${i}` });
  await eventually(() => Number(h.psql(pg, `SELECT count(*) FROM messages WHERE channel = '${chid}'`).trim()) === 230,
    { what: 'kappa copied', timeoutMs: 60000 });
  const seen = [];
  let cursor;
  for (let i = 0; i < 20; i++) {
    const r = await search(alice, { query: 'kappa', channel: chid, limit: 50, ...(cursor ? { cursor } : {}) });
    seen.push(...ids(r));
    if (!(cursor = r.cursor)) break;
  }
  // The newest 200 matches, each once; the oldest (best ranked) is beyond them.
  const newest = h.psql(pg, `SELECT ms || '-' || seq FROM messages WHERE channel = '${chid}' ORDER BY ms DESC, seq DESC LIMIT 200`)
    .trim().split('\n');
  assert.equal(seen.length, 200);
  assert.deepEqual(new Set(seen), new Set(newest));
  // The first page is what a plain ranking of those 200 gives.
  const expect = h.psql(pg, `SELECT ms || '-' || seq FROM (SELECT * FROM messages WHERE channel = '${chid}' ORDER BY ms DESC, seq DESC LIMIT 200) m
    ORDER BY ts_rank_cd(tsv, to_tsquery('english', 'kappa')) DESC, ms DESC, seq DESC LIMIT 20`).trim().split('\n');
  assert.deepEqual(ids(await search(alice, { query: 'kappa', channel: chid })), expect);
  // A narrower query reaches it: it is among the newest matches of that query.
  assert.equal(ids(await search(alice, { query: 'oldest kappa*' }))[0], h.psql(pg,
    `SELECT ms || '-' || seq FROM messages WHERE channel = '${chid}' ORDER BY ms, seq LIMIT 1`).trim());
});

test('circle.set_language: moderators choose the text-search configuration; the archive is reindexed', async () => {
  const { circle: fr, channels: [frGeneral] } = await createCircle(admin);
  const dan = await joined(stack, fr.id, 'dan');
  const text = 'Les élèves mangeaient des pommes pendant la récréation';
  const id = (await dan.client.ok('chat.send', { channel: frGeneral.id, text })).message.id;
  await eventually(() => Number(h.psql(pg, `SELECT count(*) FROM messages WHERE circle = '${fr.id}'`).trim()) === 1, { what: 'copied' });
  // English stemming does not know that "manger" and "mangeaient" are one word.
  assert.deepEqual(ids(await search(dan, { query: 'manger', circle: fr.id })), []);
  assertError(await dan.client.request('circle.set_language', { circle: fr.id, language: 'french' }), 'forbidden');
  const ok = await admin.client.ok('circle.set_language', { circle: fr.id, language: 'french' });
  assert.deepEqual([ok.language, ok.changed], ['french', true]);
  assert.equal((await admin.client.ok('circle.set_language', { circle: fr.id, language: 'french' })).changed, false);
  await eventually(async () => ids(await search(dan, { query: 'manger', circle: fr.id }))[0] === id,
    { what: 'reindexed in French', timeoutMs: 30000 });
  assert.equal(h.psql(pg, `SELECT DISTINCT lang FROM messages WHERE circle = '${fr.id}'`).trim(), 'french');
  // New messages are indexed in French at once; the other circles stay English.
  const id2 = (await dan.client.ok('chat.send', { channel: frGeneral.id, text: 'Nous mangerons ensemble' })).message.id;
  await eventually(async () => ids(await search(dan, { query: 'manger ensemble' })).includes(id2), { what: 'new message in French' });
  assert.equal(h.psql(pg, `SELECT count(*) FROM messages WHERE circle = '${stats.id}' AND lang <> 'english'::regconfig`).trim(), '0');
  // Searching across circles of two languages: each is matched in its own.
  await joinAndWait(alice, fr.id);
  const both = ids(await search(alice, { query: 'manger or distributions', limit: 50 }));
  assert.ok(both.includes(id) && both.includes(sent.flipsof), JSON.stringify(both));
  const c = admin.client;
  assertError(await c.request('circle.set_language', { circle: fr.id, language: 'klingon' }), 'bad_request', 'language');
  assertError(await c.request('circle.set_language', { circle: fr.id }), 'bad_request', 'language');
  assertError(await c.request('circle.set_language', { language: 'french' }), 'bad_request', 'circle');
  assertError(await c.request('circle.set_language', { circle: 'f'.repeat(32), language: 'french' }), 'not_found');
});

test('the node stops cleanly: exit 0, no sanitizer report (leaks included) after all of the above', async () => {
  const node = stack.nodes[0];
  const res = await h.stop(node.proc);
  assert.deepEqual([res.code, res.signal], [0, null]);
  assert.doesNotMatch(nodeLog(node), /Sanitizer|runtime error/);
});
