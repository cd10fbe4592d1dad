// search_phrase.test.mjs — chat.search for a phrase of frequent words (search.c, PHRASE_WALK_SQL) with a real
// Redis, a real PostgreSQL 15 and a real staffroom-signal node: once the statistics say the phrase's words are
// frequent, the newest rows are walked back (at most search-phrase-scan of them, 250 here) and, when they hold
// fewer than 200 matches while the scope goes on, the GIN index answers instead. Either way the answer must be
// what the plain statement gives: the newest 200 matches, ranked, each once across cursor pages; a phrase
// matches as a phrase only; deleted messages are not found, edited ones by their new text; only circles the
// user is a member of.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, createCircle, joined, SIGNIN, startReadyStack } from '../lib/community.mjs';

const FAST = ['--message-rate', '100000', '--message-burst', '100000', '--request-rate', '100000',
  '--request-burst', '100000', ...SIGNIN];
const SCAN = 250;
let h, pg, stack, admin, stats, other, alice, carol, chA, chB, chC;
const sent = {};

const search = (who, fields) => who.client.ok('chat.search', fields);
const ids = (r) => r.results.map((x) => x.message.id);
const count = (where) => Number(h.psql(pg, `SELECT count(*) FROM messages WHERE ${where}`).trim());

// Every result of a query, page by page (limit per page), in the order given.
async function allPages(who, fields, limit) {
  const seen = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const r = await search(who, { ...fields, limit, ...(cursor ? { cursor } : {}) });
    assert.ok(r.results.length <= limit);
    seen.push(...ids(r));
    if (!(cursor = r.cursor)) return seen;
  }
  throw new Error('more than 100 pages');
}

async function send(who, chid, text, key) {
  const id = (await who.client.ok('chat.send', { channel: chid, text })).message.id;
  if (key) sent[key] = id;
  return id;
}

before(async () => {
  h = new Harness('search-phrase');
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...FAST, '--postgres-conninfo-file', pg.conninfoFile,
    '--archive-keep', '1', '--archive-interval', '30', '--postgres-retry-max', '200',
    '--search-phrase-scan', String(SCAN)] });
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])), { what: 'PostgreSQL migrated' });
  admin = await newAdmin(stack);
  ({ circle: stats } = await createCircle(admin));
  ({ circle: other } = await createCircle(admin));
  alice = await joined(stack, stats.id, 'alice');
  carol = await joined(stack, other.id, 'carol');
  const channel = async (circle, name) => (await admin.client.ok('channel.create', { circle, name })).channel.id;
  [chB, chC, chA] = [await channel(stats.id, 'rare'), await channel(stats.id, 'small'), await channel(stats.id, 'common')];
  // B: 320 messages with every word of the phrases but never "alpha beta" in that order, except 5: the
  // oldest (far beyond the walk's 250 rows), two in the middle, two among the newest. And "gamma delta"
  // once only, in the middle.
  for (let i = 0; i < 320; i++) {
    let text = `beta alpha delta gamma note ${i}`;
    if ([0, 100, 160].includes(i)) text = `alpha beta, delta gamma note ${i}`;
    if (i === 150) text = `beta alpha gamma delta note ${i}`;
    await send(alice, chB, text, [0, 100, 160, 150].includes(i) ? `b${i}` : undefined);
  }
  await send(alice, chB, 'the alpha beta we agreed', 'b320');
  await send(alice, chB, 'alpha beta again', 'b321');
  for (let i = 0; i < 4; i++) await send(alice, chB, `beta alpha delta gamma filler ${i}`);
  // C: 20 messages (fewer than the walk), the phrase in 3.
  for (let i = 0; i < 20; i++) await send(alice, chC, i % 7 === 3 ? `alpha beta ${i}` : `beta alpha ${i}`, `c${i}`);
  // A: 260 messages, all with the phrase (the walk finds 200 of them), the first says it three times.
  await send(alice, chA, 'alpha beta, alpha beta, alpha beta: the oldest', 'a0');
  for (let i = 1; i < 260; i++) await send(alice, chA, `alpha beta delta gamma number ${i}`, `a${i}`);
  // carol's circle has the phrase too: alice never sees it.
  const elsewhere = (await admin.client.ok('channel.create', { circle: other.id, name: 'elsewhere' })).channel.id;
  await send(carol, elsewhere, 'alpha beta in another circle', 'carol');
  await eventually(() => count('true') === 607, { what: 'every message copied', timeoutMs: 60000 });
  // As autovacuum would after such a load: the statistics the walk is chosen by.
  h.psql(pg, 'ANALYZE messages');
});

after(async () => { await h.close(); });

test('the statistics see the words as frequent (what opens the walk)', () => {
  const freq = JSON.parse(h.psql(pg, `SELECT json_object_agg(e, f) FROM pg_stats s,
    unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS x(e, f)
    WHERE s.tablename = 'messages' AND s.attname = 'tsv' AND e IN ('alpha', 'beta', 'gamma', 'delta')`).trim());
  for (const w of ['alpha', 'beta', 'gamma', 'delta']) assert.ok(freq[w] >= 0.5, `${w}: ${JSON.stringify(freq)}`);
});

test('a phrase found among the newest rows: the newest 200 matches, ranked as PostgreSQL ranks them', async () => {
  const seen = await allPages(alice, { query: '"alpha beta"', channel: chA }, 50);
  const newest = h.psql(pg, `SELECT ms || '-' || seq FROM messages WHERE channel = '${chA}'
    AND tsv @@ phraseto_tsquery('english', 'alpha beta') ORDER BY ms DESC, seq DESC LIMIT 200`).trim().split('\n');
  assert.equal(seen.length, 200);
  assert.deepEqual(new Set(seen), new Set(newest));
  assert.ok(!seen.includes(sent.a0), 'the oldest is beyond the newest 200');
  const expect = h.psql(pg, `SELECT ms || '-' || seq FROM (SELECT * FROM messages WHERE channel = '${chA}'
    AND tsv @@ phraseto_tsquery('english', 'alpha beta') ORDER BY ms DESC, seq DESC LIMIT 200) m
    ORDER BY ts_rank_cd(tsv, phraseto_tsquery('english', 'alpha beta')) DESC, ms DESC, seq DESC LIMIT 20`).trim().split('\n');
  assert.deepEqual(ids(await search(alice, { query: '"alpha beta"', channel: chA })), expect);
});

test('a rare phrase of frequent words: every match beyond the walk too, each once across pages', async () => {
  const want = ['b0', 'b100', 'b160', 'b320', 'b321'].map((k) => sent[k]);
  const seen = await allPages(alice, { query: '"alpha beta"', channel: chB }, 2);
  assert.equal(seen.length, want.length, JSON.stringify(seen));
  assert.deepEqual(new Set(seen), new Set(want));
  // The same words in the other order, or apart, are not the phrase.
  assert.equal(count(`channel = '${chB}' AND tsv @@ to_tsquery('english', 'alpha & beta')`), 326);
  // A phrase that occurs once: found, and once, on pages of one.
  assert.deepEqual(await allPages(alice, { query: '"gamma delta"', channel: chB }, 1), [sent.b150]);
  // Without the channel filter: 5 in B, 3 in C and 260 in A (sent last): the newest 200, each once.
  const all = await allPages(alice, { query: '"alpha beta"' }, 50);
  assert.equal(all.length, 200);
  assert.equal(new Set(all).size, 200);
  assert.ok(!all.includes(sent.carol));
});

test('a scope smaller than the walk: every match, no more', async () => {
  const want = [3, 10, 17].map((i) => sent[`c${i}`]);
  assert.deepEqual(new Set(await allPages(alice, { query: '"alpha beta"', channel: chC }, 2)), new Set(want));
  assert.equal((await allPages(alice, { query: '"beta alpha"', channel: chC }, 50)).length, 17);
});

test('only circles the user is a member of now', async () => {
  assert.deepEqual(ids(await search(carol, { query: '"alpha beta"' })), [sent.carol]);
});

test('a deleted match is not found; an edited one is found by its new text only', async () => {
  await alice.client.ok('chat.delete', { channel: chB, message: sent.b100 });
  await alice.client.ok('chat.edit', { channel: chB, message: sent.b160, text: 'alpha and beta, apart now' });
  await alice.client.ok('chat.edit', { channel: chB, message: sent.b150, text: 'beta alpha, alpha beta now' });
  await eventually(async () => {
    const seen = await allPages(alice, { query: '"alpha beta"', channel: chB }, 2);
    return seen.length === 4 && new Set(seen).size === 4;
  }, { what: 'changes searchable', timeoutMs: 20000 });
  assert.deepEqual(new Set(await allPages(alice, { query: '"alpha beta"', channel: chB }, 2)),
    new Set(['b0', 'b150', 'b320', 'b321'].map((k) => sent[k])));
  assert.deepEqual(ids(await search(alice, { query: '"gamma delta"', channel: chB })), []);
  // In the channel where the walk finds 200: the newest match deleted, the next one edited away.
  await alice.client.ok('chat.delete', { channel: chA, message: sent.a258 });
  await alice.client.ok('chat.edit', { channel: chA, message: sent.a257, text: 'beta alpha, reversed' });
  await eventually(async () => {
    const seen = await allPages(alice, { query: '"alpha beta"', channel: chA }, 50);
    return seen.length === 200 && !seen.includes(sent.a258) && !seen.includes(sent.a257) && seen.includes(sent.a58)
      && seen.includes(sent.a259) && !seen.includes(sent.a57);
  }, { what: 'changes searchable in A', timeoutMs: 20000 });
});

test('the node stops cleanly: exit 0, no sanitizer report (leaks included) after all of the above', async () => {
  const node = stack.nodes[0];
  const res = await h.stop(node.proc);
  assert.deepEqual([res.code, res.signal], [0, null]);
  assert.doesNotMatch(nodeLog(node), /Sanitizer|runtime error/);
});
