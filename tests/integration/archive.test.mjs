// archive.test.mjs — the PostgreSQL archive behind the Redis hot path (archive.h, pg.h), with a real Redis,
// a real PostgreSQL 15 (harness.mjs: a copy of a template cluster) and a real staffroom-signal node:
// migrations, the archiver copying every message and trimming streams to a tiny hot window, chat.history paging across the boundary
// (ids compared exactly, both directions), edits and deletions reaching the archive, and PostgreSQL stopped
// in the middle of a conversation then started again (nothing lost, nothing twice).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually, MIGRATIONS, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog, httpGet } from '../lib/client.mjs';
import { newAdmin, createCircle, joined, assertError, SIGNIN, startReadyStack } from '../lib/community.mjs';

const KEEP = 5;
const FAST = ['--message-rate', '100000', '--message-burst', '100000', ...SIGNIN];
let h, pg, stack, admin, circle, alice, bob;
let channelCount = 0;

async function newChannel() {
  const r = await admin.client.ok('channel.create', { circle: circle.id, name: `arch-${channelCount++}` });
  return r.channel.id;
}

async function sendMany(c, chid, n, prefix) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push((await c.ok('chat.send', { channel: chid, text: `${prefix} ${i}` })).message.id);
  return ids;
}

const xlen = async (chid) => Number(await stack.redisCmd('XLEN', `channel:${chid}:log`));
const archivedCount = (chid) => Number(h.psql(pg, `SELECT count(*) FROM messages WHERE channel = '${chid}'`).trim());

// Waits until the archiver has copied every message (the hot window too: search finds it) and trimmed the
// stream to the hot window.
async function settled(chid, total) {
  await eventually(async () => (await xlen(chid)) === Math.min(KEEP, total) && archivedCount(chid) === total,
    { what: `channel ${chid} trimmed to ${KEEP} with ${total} archived`, timeoutMs: 20000 });
}

// Every message of the channel, paging backwards from the newest (pages of `limit`), oldest first.
async function pageBackwards(c, chid, limit) {
  const pages = [];
  let beforeId;
  for (let i = 0; i < 100; i++) {
    const r = await c.ok('chat.history', { channel: chid, limit, ...(beforeId ? { before: beforeId } : {}) });
    assert.ok(r.messages.length <= limit);
    pages.unshift(r.messages);
    if (!r.has_more) break;
    assert.equal(r.messages.length, limit, 'a page with has_more is full');
    beforeId = r.messages[0].id;
  }
  return pages.flat();
}

// Every message of the channel, paging forwards from the start.
async function pageForwards(c, chid, limit) {
  const out = [];
  let afterId = '0-0';
  for (let i = 0; i < 100; i++) {
    const r = await c.ok('chat.history', { channel: chid, limit, after: afterId });
    out.push(...r.messages);
    if (!r.has_more) break;
    afterId = r.messages[r.messages.length - 1].id;
  }
  return out;
}

before(async () => {
  h = new Harness('archive');
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...FAST, '--postgres-conninfo-file', pg.conninfoFile,
    '--archive-keep', String(KEEP), '--archive-interval', '30', '--archive-batch', '7', '--archive-lock-ttl', '1000', '--postgres-retry-max', '200', '--postgres-timeout', '1000'] });
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])), { what: 'PostgreSQL migrated' });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin));
  alice = await joined(stack, circle.id, 'alice');
  bob = await joined(stack, circle.id, 'bob');
});

after(async () => { await h.close(); });

test('migrations: applied once, recorded in schema_version; a restarted node applies nothing again', async () => {
  assert.equal(h.psql(pg, 'SELECT version, name FROM schema_version ORDER BY version').trim(),
    MIGRATIONS.map((m) => `${m.version}|${m.name}`).join('\n'));
  assert.match(nodeLog(stack.nodes[0]), /pg: applying migration 001_messages[\s\S]*pg: applying migration 002_search/);
  // A second node on the same database finds the schema up to date.
  const { startReadyNode } = await import('../lib/community.mjs');
  const other = await startReadyNode(h, { redisPort: stack.redisPort, label: 'signal-second',
    args: [...FAST, '--postgres-conninfo-file', pg.conninfoFile, '--archive-interval', '30', '--archive-lock-ttl', '1000', '--postgres-retry-max', '200'] });
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(other)), { what: 'second node migrated' });
  assert.doesNotMatch(nodeLog(other), /applying migration/);
  assert.equal(h.psql(pg, 'SELECT count(*) FROM schema_version').trim(), String(MIGRATIONS.length));
  await h.stop(other.proc);
});

test('archiver: the stream keeps the hot window; history pages across it with the same ids, in order', async () => {
  const chid = await newChannel();
  const ids = await sendMany(alice.client, chid, 40, 'p-values');
  await settled(chid, 40);
  // Backwards in pages of 7 (the boundary falls inside a page) and of 5 (on a page edge), forwards in 6.
  for (const limit of [7, 5, 100]) {
    const back = await pageBackwards(bob.client, chid, limit);
    assert.deepEqual(back.map((m) => m.id), ids, `backwards, pages of ${limit}`);
  }
  const fwd = await pageForwards(bob.client, chid, 6);
  assert.deepEqual(fwd.map((m) => m.id), ids, 'forwards, pages of 6');
  // An archived message looks exactly as it did in the stream.
  const m = fwd[3];
  assert.equal(m.text, 'p-values 3');
  assert.equal(m.channel, chid);
  assert.equal(m.edited, false);
  assert.deepEqual([m.user.id, m.user.name], [alice.user.id, alice.user.name]);
  // Windows in the middle: before and after together, across the boundary.
  const mid = await bob.client.ok('chat.history', { channel: chid, after: ids[30], before: ids[38] });
  assert.deepEqual(mid.messages.map((x) => x.id), ids.slice(31, 38));
  // Non-members still cannot read it.
  const outsider = await joined(stack, (await createCircle(admin)).circle.id, 'out');
  assertError(await outsider.client.request('chat.history', { channel: chid }), 'forbidden');
});

test('edits and deletions of copied messages still in the hot window reach the archive', async () => {
  const chid = await newChannel();
  const ids = await sendMany(alice.client, chid, 4, 'draft');
  // Copied while still in the hot window: the changes below must reach the copies.
  await eventually(() => archivedCount(chid) === 4, { what: 'hot messages copied' });
  await alice.client.ok('chat.edit', { channel: chid, message: ids[0], text: 'draft 0, corrected' });
  await alice.client.ok('chat.delete', { channel: chid, message: ids[1] });
  const more = await sendMany(bob.client, chid, 10, 'later');
  const all = [ids[0], ids[2], ids[3], ...more];
  await settled(chid, all.length);
  assert.equal(h.psql(pg, `SELECT body || '|' || edited FROM messages WHERE channel = '${chid}' AND ms || '-' || seq = '${ids[0]}'`).trim(),
    'draft 0, corrected|true');
  assert.equal(h.psql(pg, `SELECT count(*) FROM messages WHERE channel = '${chid}' AND ms || '-' || seq = '${ids[1]}'`).trim(), '0');
  const hist = await bob.client.ok('chat.history', { channel: chid, limit: 100 });
  assert.deepEqual(hist.messages.map((x) => x.id), all);
  assert.equal(hist.messages[0].text, 'draft 0, corrected');
  assert.equal(hist.messages[0].edited, true);
  // Redis forgot the edits of what it trimmed.
  assert.equal(Number(await stack.redisCmd('HLEN', `channel:${chid}:edits`)), 0);
});

test('PostgreSQL stopped mid-conversation: chat goes on in Redis, nothing trimmed; started again: caught up, nothing lost or twice', async () => {
  const chid = await newChannel();
  const first = await sendMany(alice.client, chid, 12, 'before');
  await settled(chid, 12);
  await h.postgresStop(pg);
  const health = async () => { const r = await httpGet(`${stack.httpUrl}/healthz`); return [r.status, JSON.parse(r.body)]; };
  // The node stays healthy (chat goes on in Redis) and says the archive is down.
  await eventually(async () => (await health())[1].postgres === false, { what: '/healthz: postgres false' });
  assert.equal((await health())[0], 200);
  const during = await sendMany(bob.client, chid, 20, 'during');
  // Every message was acknowledged; none may be trimmed while the archive cannot take it.
  assert.equal(await xlen(chid), KEEP + 20);
  // A page that stays in the stream is served; one that needs the archive says so rather than leave a gap.
  const hot = await bob.client.ok('chat.history', { channel: chid, limit: 10 });
  assert.deepEqual(hot.messages.map((x) => x.id), during.slice(-10));
  assertError(await bob.client.request('chat.history', { channel: chid, limit: 100 }), 'unavailable');
  await h.postgresStart(pg);
  const all = [...first, ...during];
  await settled(chid, all.length);
  assert.equal(h.psql(pg, `SELECT count(DISTINCT (ms, seq)) FROM messages WHERE channel = '${chid}'`).trim(), String(all.length));
  assert.deepEqual((await pageBackwards(alice.client, chid, 9)).map((m) => m.id), all);
  assert.match(nodeLog(stack.nodes[0]), new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}[\\s\\S]*pg: connected, schema version ${SCHEMA_VERSION}`));
  assert.equal((await health())[1].postgres, true);
  const metrics = (await httpGet(`${stack.httpUrl}/metrics/archive`)).body;
  assert.match(metrics, /^staffroom_archive_postgres_up 1$/m);
  assert.match(metrics, new RegExp(`^staffroom_archive_schema_version ${SCHEMA_VERSION}$`, 'm'));
  assert.ok(Number(metrics.match(/^staffroom_archive_copied_total (\d+)$/m)[1]) >= all.length - KEEP);
  assert.match(metrics, /^staffroom_archive_backlog_messages \d+$/m);
});

test('archived messages: the author edits, the author or a moderator deletes; events as for any message', async () => {
  const chid = await newChannel();
  const ids = await sendMany(alice.client, chid, 10, 'old');
  await settled(chid, 10);
  const archived = ids.slice(0, 10 - KEEP);
  // Only the author edits.
  assertError(await bob.client.request('chat.edit', { channel: chid, message: archived[0], text: 'not mine' }), 'forbidden');
  const e = await alice.client.ok('chat.edit', { channel: chid, message: archived[0], text: 'old 0, revised' });
  assert.deepEqual([e.message.id, e.message.text, e.message.edited], [archived[0], 'old 0, revised', true]);
  const upd = await bob.client.waitEvent('chat.updated', (ev) => ev.message.id === archived[0]);
  assert.equal(upd.circle, circle.id);
  assert.equal(upd.message.text, 'old 0, revised');
  // Deletions: not bob; the author; an admin.
  assertError(await bob.client.request('chat.delete', { channel: chid, message: archived[1] }), 'forbidden');
  await alice.client.ok('chat.delete', { channel: chid, message: archived[1] });
  await admin.client.ok('chat.delete', { channel: chid, message: archived[2] });
  for (const id of [archived[1], archived[2]]) {
    const del = await bob.client.waitEvent('chat.deleted', (ev) => ev.message === id);
    assert.deepEqual([del.circle, del.channel], [circle.id, chid]);
  }
  // Gone is gone; a message that never was is not_found.
  assertError(await alice.client.request('chat.delete', { channel: chid, message: archived[1] }), 'not_found');
  assertError(await alice.client.request('chat.edit', { channel: chid, message: '1-1', text: 'x' }), 'not_found');
  const hist = await bob.client.ok('chat.history', { channel: chid, limit: 100 });
  assert.deepEqual(hist.messages.map((m) => m.id), ids.filter((id) => id !== archived[1] && id !== archived[2]));
  assert.deepEqual([hist.messages[0].text, hist.messages[0].edited], ['old 0, revised', true]);
  assert.equal(archivedCount(chid), 10 - 2);
});

// Stream ids in their order (numeric ms, then seq).
const byId = (a, b) => { const [am, as] = a.split('-').map(BigInt); const [bm, bs] = b.split('-').map(BigInt); return am < bm ? -1 : am > bm ? 1 : as < bs ? -1 : as > bs ? 1 : 0; };

test('concurrent senders while the archiver runs: every acknowledged message once, in stream order', async () => {
  const chid = await newChannel();
  // Two senders at once, and a reader paging while they send (it must never see an error or a duplicate).
  let reading = true;
  const reader = (async () => {
    for (let i = 0; reading && i < 200; i++) {
      const page = (await bob.client.ok('chat.history', { channel: chid, limit: 100 })).messages.map((m) => m.id);
      assert.equal(new Set(page).size, page.length, 'no duplicate in a page');
      assert.deepEqual([...page].sort(byId), page, 'a page is in order');
    }
  })();
  const [a, b] = await Promise.all([sendMany(alice.client, chid, 25, 'a'), sendMany(bob.client, chid, 25, 'b')]);
  reading = false;
  await reader;
  const all = [...a, ...b].sort(byId);
  await settled(chid, all.length);
  assert.deepEqual((await pageBackwards(alice.client, chid, 8)).map((m) => m.id), all);
  assert.deepEqual((await pageForwards(alice.client, chid, 11)).map((m) => m.id), all);
});

test('backup and restore: pg_dump, then pg_restore into a fresh database, history intact', async () => {
  const { execFileSync } = await import('node:child_process');
  const path = await import('node:path');
  const { PG_BIN } = await import('../lib/harness.mjs');
  const dump = path.join(h.dir, 'archive.dump');
  const conn = ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'staffroom'];
  execFileSync(path.join(PG_BIN, 'pg_dump'), [...conn, '-d', 'postgres', '-Fc', '-f', dump]);
  execFileSync(path.join(PG_BIN, 'createdb'), [...conn, 'restored']);
  execFileSync(path.join(PG_BIN, 'pg_restore'), [...conn, '-d', 'restored', dump]);
  const q = 'SELECT count(*), md5(string_agg(channel || ms || seq || body, \',\' ORDER BY channel, ms, seq)) FROM messages';
  const original = h.psql(pg, q).trim();
  const restored = execFileSync(path.join(PG_BIN, 'psql'), [...conn, '-d', 'restored', '-X', '-q', '-t', '-A', '-c', q],
    { encoding: 'utf8' }).trim();
  assert.equal(restored, original);
  assert.ok(Number(original.split('|')[0]) > 50);
  assert.equal(execFileSync(path.join(PG_BIN, 'psql'), [...conn, '-d', 'restored', '-X', '-q', '-t', '-A', '-c',
    'SELECT max(version) FROM schema_version'], { encoding: 'utf8' }).trim(), String(SCHEMA_VERSION));
});

test('a PostgreSQL that stops answering (a lock held for long) costs a request at most postgres-timeout', async () => {
  const chid = await newChannel();
  const ids = await sendMany(alice.client, chid, 10, 'locked');
  await settled(chid, 10);
  const { spawn } = await import('node:child_process');
  const path = await import('node:path');
  const { PG_BIN } = await import('../lib/harness.mjs');
  const holder = spawn(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'staffroom', '-d', 'postgres',
    '-X', '-q', '-c', 'BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;'], { stdio: 'ignore' });
  const held = new Promise((resolve) => holder.on('exit', resolve));
  try {
    await eventually(() => h.psql(pg, "SELECT count(*) FROM pg_locks WHERE relation = 'messages'::regclass AND granted AND mode = 'AccessExclusiveLock'").trim() === '1',
      { what: 'the lock held' });
    const t0 = Date.now();
    assertError(await bob.client.request('chat.history', { channel: chid, limit: 100 }), 'unavailable');
    const took = Date.now() - t0;
    assert.ok(took < 2900, `answered after ${took} ms, before the lock was released`);
    // A page the hot window fills on its own (with more in it) is still served meanwhile.
    assert.deepEqual((await bob.client.ok('chat.history', { channel: chid, limit: KEEP - 2 })).messages.map((m) => m.id), ids.slice(-(KEEP - 2)));
  } finally {
    await held;
  }
  await eventually(async () => (await bob.client.request('chat.history', { channel: chid, limit: 100 })).type === 'ok', { what: 'archive back' });
  assert.deepEqual((await bob.client.ok('chat.history', { channel: chid, limit: 100 })).messages.map((m) => m.id), ids);
  assert.match(nodeLog(stack.nodes[0]), /a query took longer than postgres-timeout/);
});

test('the node stops cleanly: exit 0, no sanitizer report (leaks included) after all of the above', async () => {
  const node = stack.nodes[0];
  await eventually(async () => (await stack.redisCmd('GET', 'archive:lock')) !== null, { what: 'the archiver holds its lock' });
  const res = await h.stop(node.proc);
  assert.deepEqual([res.code, res.signal], [0, null]);
  assert.doesNotMatch(nodeLog(node), /Sanitizer|runtime error/);
  // SIGTERM gave the archiver's lock back: another node takes over at once, not after archive-lock-ttl.
  assert.equal(await stack.redisCmd('GET', 'archive:lock'), null);
});
