// archive_audit.test.mjs — the moderation audit log kept in PostgreSQL (sql/004 audit_log) with a real Redis,
// a real PostgreSQL 15 and a real staffroom-signal node: the archiver copies each circle's new entries and
// trims the Redis stream to what is not copied yet; moderation.audit pages across both with no gap and no
// duplicate; while PostgreSQL is down actions are still logged (Redis is the buffer), the newest page is
// still served from Redis, a page that needs the archive is `unavailable`, and once PostgreSQL is back every
// entry is there exactly once. Only moderators read it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, createCircle, joined, assertError, SIGNIN, startReadyStack } from '../lib/community.mjs';

const FAST = ['--message-rate', '100000', '--message-burst', '100000', ...SIGNIN];
let h, pg, stack, admin, circle, alice, bob;
const ROLES = ['expert', 'mentor', 'member'];
let changes = 0;

const pgCount = () => Number(h.psql(pg, `SELECT count(*) FROM audit_log WHERE circle = '${circle.id}'`).trim());
const streamLen = async () => Number(await stack.redisCmd('XLEN', `circle:${circle.id}:audit`));

// n role changes of alice by the admin: one audit entry each (role_set).
async function roleChanges(n) {
  for (let i = 0; i < n; i++) {
    await admin.client.ok('circle.set_role', { circle: circle.id, user: alice.user.id, role: ROLES[changes % ROLES.length] });
    changes++;
  }
}

// Every entry, newest first, in pages of `limit`.
async function readAll(limit) {
  const all = [];
  let beforeId;
  for (let i = 0; i < 100; i++) {
    const r = await admin.client.ok('moderation.audit', { circle: circle.id, limit, ...(beforeId ? { before: beforeId } : {}) });
    assert.ok(r.entries.length <= limit);
    all.push(...r.entries);
    if (!r.has_more) break;
    assert.equal(r.entries.length, limit, 'a page with has_more is full');
    beforeId = r.entries[r.entries.length - 1].id;
  }
  return all;
}

function assertNewestFirstOnce(entries) {
  const ids = entries.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no entry twice');
  const key = (id) => id.split('-').map(BigInt);
  for (let i = 1; i < ids.length; i++) {
    const [a, b] = [key(ids[i - 1]), key(ids[i])];
    assert.ok(a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]), `${ids[i - 1]} before ${ids[i]}`);
  }
}

before(async () => {
  h = new Harness('archive-audit');
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...FAST, '--postgres-conninfo-file', pg.conninfoFile,
    '--archive-interval', '30', '--postgres-retry-max', '200'] });
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])), { what: 'PostgreSQL migrated' });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin));
  alice = await joined(stack, circle.id, 'alice');
  bob = await joined(stack, circle.id, 'bob');
});

after(async () => { await h.close(); });

test('entries are copied to PostgreSQL and leave Redis; moderation.audit pages across both', async () => {
  await roleChanges(12);
  await eventually(async () => pgCount() === 12 && (await streamLen()) === 0, { what: 'audit copied and trimmed' });
  assert.equal(h.psql(pg, `SELECT DISTINCT action FROM audit_log WHERE circle = '${circle.id}'`).trim(), 'role_set');
  // A few more, not copied yet or just copied: the pages join them without a gap or a duplicate.
  await roleChanges(3);
  for (const limit of [1, 4, 5, 50]) {
    const all = await readAll(limit);
    assert.equal(all.length, 15, `limit ${limit}`);
    assertNewestFirstOnce(all);
    for (const e of all) {
      assert.equal(e.action, 'role_set');
      assert.equal(e.actor.id, admin.user.id);
      assert.equal(e.target_user.id, alice.user.id);
      assert.ok(ROLES.includes(e.detail));
    }
  }
  // Only moderators read it.
  assertError(await bob.client.request('moderation.audit', { circle: circle.id }), 'forbidden');
  assertError(await admin.client.request('moderation.audit', { circle: circle.id, before: 'x' }), 'bad_request', 'before');
});

test('PostgreSQL down: actions are still logged in Redis, the newest page is served, older pages are unavailable; back: each entry once', async () => {
  await eventually(async () => pgCount() === 15 && (await streamLen()) === 0, { what: 'everything copied' });
  await h.postgresStop(pg);
  await roleChanges(4);
  assert.equal(await streamLen(), 4, 'kept in Redis while PostgreSQL is down');
  const newest = await admin.client.ok('moderation.audit', { circle: circle.id, limit: 3 });
  assert.equal(newest.entries.length, 3);
  assert.equal(newest.has_more, true);
  assertError(await admin.client.request('moderation.audit', { circle: circle.id, limit: 10 }), 'unavailable');
  await h.postgresStart(pg);
  await eventually(async () => pgCount() === 19 && (await streamLen()) === 0, { what: 'caught up after the outage', timeoutMs: 30000 });
  const all = await readAll(6);
  assert.equal(all.length, 19);
  assertNewestFirstOnce(all);
  assert.equal(h.psql(pg, `SELECT count(*) FROM (SELECT ms, seq FROM audit_log GROUP BY ms, seq HAVING count(*) > 1) d`).trim(), '0');
});

test('the node stops cleanly: exit 0, no sanitizer report (leaks included)', async () => {
  const node = stack.nodes[0];
  const res = await h.stop(node.proc);
  assert.deepEqual([res.code, res.signal], [0, null]);
  assert.doesNotMatch(nodeLog(node), /Sanitizer|runtime error/);
});
