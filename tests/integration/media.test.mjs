// media.test.mjs — lesson clips (media.h, upload.h) with a real Redis, a real PostgreSQL 15 and a real
// staffroom-signal node: chunked upload, a broken upload resumed from the stored offset, too large, quota,
// a text file claiming to be a video, a truncated video, Range requests (206, 416, HEAD), signed media URLs,
// and every permission check (stranger with a guessed id, non-member, former member, share/unshare,
// owner-only changes, delete). Test clips are made at test time by ffmpeg (Debian), never committed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog, startNode } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, SIGNIN, startReadyStack, redisReady, NO_SUCH_ID } from '../lib/community.mjs';

const MAX = 12 * 1024 * 1024;
const QUOTA = 30 * 1024 * 1024;
let h, pg, stack, base, admin, circle, alice, bob, carol, dave;
let big, small; // Buffers: a ~5 MB and a ~0.3 MB VP8/Opus WebM

// A VP8/Opus WebM of testsrc; noisy ones (noise > 0, low quantisers) are big for their length.
function ffmpeg(out, seconds, size, noise) {
  const q = noise ? ['-b:v', '8M', '-qmin', '0', '-qmax', '4'] : ['-b:v', '300k'];
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25,noise=alls=${noise}:allf=t`,
    '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', String(seconds), '-c:v', 'libvpx', '-deadline', 'realtime',
    '-cpu-used', '8', ...q, '-c:a', 'libopus', out]);
  return fs.readFileSync(out);
}

const auth = (who) => ({ authorization: `Bearer ${who.token}` });
// Every HTTP request of this file gives up after this long (a hang is a failure, not a stuck suite).
const T = () => AbortSignal.timeout(30000);

async function create(who, size, title = 'Lesson clip') {
  const r = await fetch(`${base}/media/uploads`, { method: 'POST', signal: T(), headers: { ...auth(who), 'content-type': 'application/json' },
    body: JSON.stringify({ title, size }) });
  return { status: r.status, body: await r.json() };
}

async function put(who, id, bytes, first, size) {
  const r = await fetch(`${base}/media/uploads/${id}`, { method: 'PUT', body: bytes, signal: T(),
    headers: { ...auth(who), 'content-range': `bytes ${first}-${first + bytes.length - 1}/${size}` } });
  return { status: r.status, body: await r.json() };
}

// The whole upload in chunks; resolves with the last answer.
async function upload(who, bytes, { title = 'Lesson clip', chunk = 1 << 20, size = bytes.length } = {}) {
  const c = await create(who, size, title);
  assert.equal(c.status, 201, JSON.stringify(c.body));
  let last;
  for (let off = 0; off < bytes.length; off += chunk) {
    last = await put(who, c.body.id, bytes.subarray(off, Math.min(off + chunk, bytes.length)), off, size);
    if (last.status !== 200) break;
  }
  return { id: c.body.id, ...last };
}

async function head(who, id) {
  const r = await fetch(`${base}/media/uploads/${id}`, { method: 'HEAD', headers: auth(who), signal: T() });
  return { status: r.status, offset: Number(r.headers.get('upload-offset')), length: Number(r.headers.get('upload-length')) };
}

const get = async (url, headers = {}) => {
  const r = await fetch(`${base}${url}`, { headers, signal: T() });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
};

const urlOf = async (who, id) => (await who.client.ok('media.get', { media: id })).media.url;
const rows = (sql) => h.psql(pg, sql).trim();

before(async () => {
  h = new Harness('media');
  big = ffmpeg(path.join(h.dir, 'big.webm'), 5, '320x240', 80);
  small = ffmpeg(path.join(h.dir, 'small.webm'), 3, '160x120', 0);
  assert.ok(big.length > 3.2 * 1024 * 1024, `big clip is ${big.length} bytes`);
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...SIGNIN, '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200',
    '--media-dir', path.join(h.dir, 'media'), '--upload-max-bytes', String(MAX), '--user-quota-bytes', String(QUOTA),
    '--request-rate', '100000', '--request-burst', '100000', '--message-rate', '100000', '--message-burst', '100000'] });
  base = stack.httpUrl;
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])),
    { what: 'PostgreSQL migrated', timeoutMs: 30000 });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin));
  alice = await joined(stack, circle.id, 'alice');
  bob = await newMember(stack, 'bob');
  carol = await joined(stack, circle.id, 'carol');
  dave = await newMember(stack, 'dave');
});

after(async () => { await h.close(); });

test('a chunked upload becomes a ready clip, probed by content, listed and served whole', async () => {
  const r = await upload(alice, small, { title: 'Questioning, year 9', chunk: 100 * 1024 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const m = r.body.media;
  assert.equal(m.id, r.id);
  assert.equal(m.mime, 'video/webm');
  assert.equal(m.meta.video, 'vp8');
  assert.equal(m.meta.audio, 'opus');
  assert.equal(m.bytes, small.length);
  assert.ok(m.duration_ms >= 2900 && m.duration_ms <= 3200, `duration ${m.duration_ms}`);
  const list = (await alice.client.ok('media.list', {})).media;
  assert.ok(list.some((x) => x.id === m.id && x.title === 'Questioning, year 9'));
  const url = await urlOf(alice, m.id);
  assert.match(url, new RegExp(`^/media/${m.id}/file\\?t=`));
  assert.ok(!url.includes(alice.token), 'the session token never goes into a URL');
  const whole = await get(url);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'video/webm');
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  assert.ok(whole.body.equals(small));
});

test('Range requests: 206 with Content-Range, suffix and open ranges, 416 past the end, HEAD', async () => {
  const { id } = await upload(alice, small);
  const url = await urlOf(alice, id);
  let r = await get(url, { range: 'bytes=0-99' });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 0-99/${small.length}`);
  assert.ok(r.body.equals(small.subarray(0, 100)));
  r = await get(url, { range: 'bytes=1000-' });
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(small.subarray(1000)));
  r = await get(url, { range: 'bytes=-500' });
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(small.subarray(small.length - 500)));
  r = await get(url, { range: `bytes=${small.length}-` });
  assert.equal(r.status, 416);
  assert.equal(r.headers.get('content-range'), `bytes */${small.length}`);
  r = await get(url, { range: 'bytes=9-3' });
  assert.equal(r.status, 416);
  const hd = await fetch(`${base}${url}`, { method: 'HEAD' });
  assert.equal(hd.status, 200);
  assert.equal(Number(hd.headers.get('content-length')), small.length);
  // keep-alive survives ranges: many in a row on one agent
  for (let i = 0; i < 5; i++) assert.equal((await get(url, { range: `bytes=${i * 10}-${i * 10 + 9}` })).body.length, 10);
});

test('a broken upload resumes from the stored offset; a wrong offset is refused with the right one', async () => {
  const c = await create(alice, big.length, 'Long lesson');
  assert.equal(c.status, 201);
  const id = c.body.id;
  const chunk = big.subarray(0, 3 * 1024 * 1024);
  // Send 2.5 MiB of a 3 MiB chunk, wait until some of it is on disk, then cut the connection.
  const req = http.request(`${base}/media/uploads/${id}`, { method: 'PUT', headers: { ...auth(alice),
    'content-range': `bytes 0-${chunk.length - 1}/${big.length}`, 'content-length': chunk.length } });
  req.on('error', () => {});
  req.write(chunk.subarray(0, 2.5 * 1024 * 1024));
  await eventually(async () => (await head(alice, id)).offset >= 1024 * 1024, { what: 'part of the chunk stored', timeoutMs: 60000, everyMs: 200 });
  req.destroy();
  // The server has let go of the broken chunk once another PUT is no longer "busy": it then says what it has.
  let probe;
  await eventually(async () => {
    probe = await put(alice, id, big.subarray(0, 10), 0, big.length);
    return probe.status === 409 && probe.body.code === 'wrong_offset';
  }, { what: 'the broken chunk released', timeoutMs: 60000, everyMs: 200 });
  const stored = probe.body.offset;
  const hd = await head(alice, id);
  assert.equal(hd.status, 200);
  assert.equal(hd.length, big.length);
  assert.ok(hd.offset >= 1024 * 1024 && hd.offset <= 2.5 * 1024 * 1024, `offset ${hd.offset}`);
  assert.equal(hd.offset, stored);
  const wrong = await put(alice, id, big.subarray(0, 100), 0, big.length);
  assert.equal(wrong.status, 409);
  assert.equal(wrong.body.code, 'wrong_offset');
  assert.equal(wrong.body.offset, hd.offset);
  // Not listed while half-written.
  assert.ok(!(await alice.client.ok('media.list', {})).media.some((x) => x.id === id));
  assertError(await alice.client.request('media.get', { media: id }), 'not_found');
  let last;
  for (let off = hd.offset; off < big.length; off += 1 << 20)
    last = await put(alice, id, big.subarray(off, Math.min(off + (1 << 20), big.length)), off, big.length);
  assert.equal(last.status, 200, JSON.stringify(last.body));
  const served = await get(await urlOf(alice, id));
  assert.ok(served.body.equals(big), 'the resumed upload is byte for byte the original');
});

test('too large, over quota, bad requests and no sign-in are refused with clear errors', async () => {
  let r = await create(alice, MAX + 1);
  assert.equal(r.status, 413);
  assert.equal(r.body.code, 'too_large');
  const noauth = await fetch(`${base}/media/uploads`, { method: 'POST', body: '{"title":"x","size":10}' });
  assert.equal(noauth.status, 401);
  assert.equal((await noauth.json()).code, 'unauthorized');
  const forged = await fetch(`${base}/media/uploads`, { method: 'POST', headers: { authorization: `Bearer ${'a'.repeat(64)}` },
    body: '{"title":"x","size":10}' });
  assert.equal(forged.status, 401);
  r = await fetch(`${base}/media/uploads`, { method: 'POST', headers: auth(alice), body: 'not json' });
  assert.equal(r.status, 400);
  r = await fetch(`${base}/media/uploads`, { method: 'POST', headers: auth(alice), body: JSON.stringify({ title: '', size: 10 }) });
  assert.equal(r.status, 400);
  r = await fetch(`${base}/media/uploads`, { method: 'POST', headers: auth(alice), body: 'x'.repeat(10000) });
  assert.equal(r.status, 413);
  // A chunk without Content-Range, or for someone else's upload
  const c = await create(dave, 1000);
  r = await fetch(`${base}/media/uploads/${c.body.id}`, { method: 'PUT', headers: auth(dave), body: 'abc' });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).code, 'bad_range');
  assert.equal((await put(bob, c.body.id, Buffer.alloc(10), 0, 1000)).status, 404);
  assert.equal((await put(dave, c.body.id, Buffer.alloc(10), 0, 999)).status, 400); // not the declared size
  assert.equal((await put(dave, NO_SUCH_ID, Buffer.alloc(10), 0, 1000)).status, 404);
  // Quota: dave's declared uploads count at once.
  const q1 = await create(dave, MAX);
  assert.equal(q1.status, 201);
  const q2 = await create(dave, MAX);
  assert.equal(q2.status, 201);
  const q3 = await create(dave, MAX);
  assert.equal(q3.status, 507);
  assert.equal(q3.body.code, 'quota_exceeded');
  // Abandoning one frees its share of the quota.
  const del = await fetch(`${base}/media/uploads/${q2.body.id}`, { method: 'DELETE', headers: auth(dave) });
  assert.equal(del.status, 200);
  assert.equal((await create(dave, MAX)).status, 201);
});

test('a text file claiming to be a video, a foreign codec and a truncated video are refused and never listed', async () => {
  const text = Buffer.from('Lesson plan: starter, main, plenary. Not a video at all.\n'.repeat(50));
  let r = await upload(bob, text, { title: 'plan.webm' });
  assert.equal(r.status, 415, JSON.stringify(r.body));
  assert.equal(r.body.code, 'not_video');
  assert.equal(rows(`SELECT count(*) FROM media WHERE id = '${r.id}'`), '0');
  const half = big.subarray(0, Math.floor(big.length / 2));
  r = await upload(bob, half, { title: 'cut.webm' });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.code, 'broken_video');
  const mkv = fs.readFileSync(path.join(h.dir, 'big.webm')).length; // (sanity: the source is intact)
  assert.equal(mkv, big.length);
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '2',
    '-c:v', 'mpeg4', path.join(h.dir, 'mpeg4.mkv')]);
  r = await upload(bob, fs.readFileSync(path.join(h.dir, 'mpeg4.mkv')), { title: 'clip.webm' });
  assert.equal(r.status, 415);
  assert.equal((await bob.client.ok('media.list', {})).media.length, 0);
  assert.equal(fs.readdirSync(path.join(h.dir, 'media')).filter((f) => f.startsWith(r.id)).length, 0);
});

test('who may see a clip: owner, named shares, members of a circle whose library publishes it — nobody else', async () => {
  const { id } = await upload(alice, small, { title: 'Behaviour routines' });
  const aliceUrl = await urlOf(alice, id);
  // A stranger with the guessed id: not_found, like a missing one; a forged or borrowed token: 404.
  assertError(await dave.client.request('media.get', { media: id }), 'not_found');
  assertError(await dave.client.request('media.get', { media: NO_SUCH_ID }), 'not_found');
  assert.equal((await get(`/media/${id}/file`)).status, 404);
  assert.equal((await get(`/media/${id}/file?t=${'1'.repeat(10)}`)).status, 404);
  const t = new URL(aliceUrl, base).searchParams.get('t');
  const [exp, , mac] = t.split('.');
  assert.equal((await get(`/media/${id}/file?t=${exp}.${dave.user.id}.${mac}`)).status, 404, 'a token names its user');
  const other = (await upload(alice, small)).id;
  assert.equal((await get(`/media/${other}/file?t=${t}`)).status, 404, 'a token names its item');
  // Named share: bob sees it, can fetch it, cannot change it.
  assertError(await bob.client.request('media.get', { media: id }), 'not_found');
  const sh = await alice.client.ok('media.share', { media: id, user: bob.user.name });
  assert.equal(sh.added, true);
  const seen = (await bob.client.ok('media.get', { media: id })).media;
  assert.equal(seen.owner, alice.user.id);
  assert.deepEqual(seen.shared_with, [], 'only the owner sees whom it is shared with');
  assert.deepEqual((await alice.client.ok('media.get', { media: id })).media.shared_with, [bob.user.id]);
  assert.ok((await bob.client.ok('media.list', {})).media.some((x) => x.id === id));
  const bobUrl = seen.url;
  assert.equal((await get(bobUrl)).status, 200);
  assertError(await bob.client.request('media.rename', { media: id, title: 'mine now' }), 'forbidden');
  assertError(await bob.client.request('media.delete', { media: id }), 'forbidden');
  assertError(await bob.client.request('media.share', { media: id, user: dave.user.id }), 'forbidden');
  // Unshare: bob's list, get and even his earlier URL stop working.
  await alice.client.ok('media.unshare', { media: id, user: bob.user.id });
  assertError(await bob.client.request('media.get', { media: id }), 'not_found');
  assert.equal((await get(bobUrl)).status, 404);
  assertError(await alice.client.request('media.unshare', { media: id, user: bob.user.id }), 'not_found', 'user');
  // Published in the circle's library: members see it, a non-member does not, a former member no longer.
  rows(`INSERT INTO library_items (id, circle, author, kind, media_id, title) VALUES
        ('${'e'.repeat(32)}', '${circle.id}', '${alice.user.id}', 'clip', '${id}', 'Behaviour routines')`);
  const carolUrl = (await carol.client.ok('media.get', { media: id })).media.url;
  assert.equal((await get(carolUrl, { range: 'bytes=0-9' })).status, 206);
  assertError(await dave.client.request('media.get', { media: id }), 'not_found');
  assertError(await carol.client.request('media.rename', { media: id, title: 'x' }), 'forbidden');
  await carol.client.ok('circle.leave', { circle: circle.id });
  assertError(await carol.client.request('media.get', { media: id }), 'not_found');
  assert.equal((await get(carolUrl)).status, 404, 'a former member loses access at once');
  // Withdrawn from the library: gone for members too.
  rows(`UPDATE library_items SET withdrawn = true WHERE media_id = '${id}'`);
  const adminSees = await admin.client.request('media.get', { media: id });
  assertError(adminSees, 'not_found');
});

test('rename and delete by the owner; a deleted clip and its file are gone', async () => {
  const { id } = await upload(alice, small);
  await alice.client.ok('media.rename', { media: id, title: 'Pace of the starter' });
  assert.equal((await alice.client.ok('media.get', { media: id })).media.title, 'Pace of the starter');
  const url = await urlOf(alice, id);
  assert.ok(fs.existsSync(path.join(h.dir, 'media', `${id}.media`)));
  await alice.client.ok('media.delete', { media: id });
  assertError(await alice.client.request('media.get', { media: id }), 'not_found');
  assert.equal((await get(url)).status, 404);
  await eventually(() => !fs.existsSync(path.join(h.dir, 'media', `${id}.media`)), { what: 'the file removed' });
  assertError(await alice.client.request('media.delete', { media: id }), 'not_found');
});

test('bad input to media.* requests is bad_request or not_found, naming the field', async () => {
  assertError(await alice.client.request('media.get', {}), 'bad_request', 'media');
  assertError(await alice.client.request('media.get', { media: 'nope' }), 'bad_request', 'media');
  assertError(await alice.client.request('media.get', { media: 42 }), 'bad_request', 'media');
  const { id } = await upload(alice, small);
  assertError(await alice.client.request('media.rename', { media: id, title: 'x'.repeat(201) }), 'bad_request', 'title');
  assertError(await alice.client.request('media.rename', { media: id }), 'bad_request', 'title');
  assertError(await alice.client.request('media.share', { media: id }), 'bad_request', 'user');
  assertError(await alice.client.request('media.share', { media: id, user: 'nobody_by_that_name' }), 'not_found', 'user');
  assertError(await alice.client.request('media.share', { media: id, user: alice.user.name }), 'bad_request', 'user');
  // SQL in a title is just text
  await alice.client.ok('media.rename', { media: id, title: "x'); DROP TABLE media; --" });
  assert.equal((await alice.client.ok('media.get', { media: id })).media.title, "x'); DROP TABLE media; --");
});

test('time-coded comments: add at a time (and a range), reply, list in time order, edit/delete by the author, events', async () => {
  const { id } = await upload(alice, small, { title: 'Comments clip' });
  await alice.client.ok('media.share', { media: id, user: bob.user.id });
  const c1 = (await bob.client.ok('comment.add', { media: id, at_ms: 2000, text: 'The question to the back row', tag: 'questioning' })).comment;
  assert.equal(c1.at_ms, 2000);
  assert.equal(c1.tag, 'questioning');
  assert.equal(c1.author.id, bob.user.id);
  assert.equal(c1.author.display_name, bob.user.display_name);
  // the owner has it open: she is told
  const ev = await alice.client.waitEvent('comment.added', (e) => e.comment.id === c1.id);
  assert.equal(ev.media, id);
  const c0 = (await alice.client.ok('comment.add', { media: id, at_ms: 500, end_ms: 1500, text: 'Calm start', tag: 'strength' })).comment;
  assert.equal(c0.end_ms, 1500);
  const reply = (await alice.client.ok('comment.add', { media: id, at_ms: 2000, text: 'Thanks!', reply_to: c1.id })).comment;
  assert.equal(reply.reply_to, c1.id);
  let list = (await bob.client.ok('comment.list', { media: id })).comments;
  assert.deepEqual(list.map((c) => c.id), [c0.id, c1.id, reply.id]);
  // edit and delete: the author only
  assertError(await alice.client.request('comment.edit', { comment: c1.id, text: 'mine' }), 'forbidden');
  assertError(await alice.client.request('comment.delete', { comment: c1.id }), 'forbidden');
  const edited = (await bob.client.ok('comment.edit', { comment: c1.id, text: 'The question to the back row (12:40)', tag: 'next_step' })).comment;
  assert.equal(edited.edited, true);
  assert.equal(edited.tag, 'next_step');
  await alice.client.waitEvent('comment.edited', (e) => e.comment.id === c1.id);
  assert.equal((await bob.client.ok('comment.edit', { comment: c1.id, tag: 'none' })).comment.tag, undefined);
  await bob.client.ok('comment.delete', { comment: c1.id });
  await alice.client.waitEvent('comment.deleted', (e) => e.comment === c1.id);
  list = (await alice.client.ok('comment.list', { media: id })).comments;
  assert.deepEqual(list.map((c) => c.id), [c0.id], 'a reply goes with its comment');
  // who may not see the clip may neither read nor write its comments
  assertError(await dave.client.request('comment.list', { media: id }), 'not_found');
  assertError(await dave.client.request('comment.add', { media: id, at_ms: 1, text: 'hi' }), 'not_found');
  assertError(await dave.client.request('comment.edit', { comment: c0.id, text: 'x' }), 'not_found');
  assertError(await dave.client.request('comment.delete', { comment: c0.id }), 'not_found');
  await alice.client.ok('media.unshare', { media: id, user: bob.user.id });
  assertError(await bob.client.request('comment.list', { media: id }), 'not_found', undefined);
  // bad input
  assertError(await alice.client.request('comment.add', { media: id, text: 'x' }), 'bad_request', 'at_ms');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: -1, text: 'x' }), 'bad_request', 'at_ms');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: 99999, text: 'x' }), 'bad_request', 'at_ms');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: 10, end_ms: 5, text: 'x' }), 'bad_request', 'end_ms');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: 10, text: 'x', tag: 'rude' }), 'bad_request', 'tag');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: 10, text: '' }), 'bad_request', 'text');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: 10, text: 'x'.repeat(2001) }), 'bad_request', 'text');
  assertError(await alice.client.request('comment.add', { media: id, at_ms: 10, text: 'x', reply_to: NO_SUCH_ID }), 'not_found', 'reply_to');
  assertError(await alice.client.request('comment.edit', { comment: c0.id }), 'bad_request', 'text');
  assertError(await alice.client.request('comment.list', { media: 'x' }), 'bad_request', 'media');
});

test('an abandoned upload expires after upload-expiry: its row and its partial file are deleted', async () => {
  // A second node of the same community with a short expiry (its uploads expire after 10 s; it sweeps every 2.5 s).
  const short = await redisReady(await startNode(h, { redisPort: stack.redisPort, label: 'short-expiry', args: [...SIGNIN,
    '--postgres-conninfo-file', pg.conninfoFile, '--media-dir', path.join(h.dir, 'media'), '--upload-expiry', '10'] }));
  await eventually(() => /schema version/.test(nodeLog(short)), { what: 'the second node on PostgreSQL', timeoutMs: 30000 });
  const made = await fetch(`${short.httpUrl}/media/uploads`, { method: 'POST', signal: T(), headers: auth(alice),
    body: JSON.stringify({ title: 'abandoned', size: small.length }) });
  assert.equal(made.status, 201);
  const { id } = await made.json();
  const chunk = await fetch(`${short.httpUrl}/media/uploads/${id}`, { method: 'PUT', signal: T(), body: small.subarray(0, 1000),
    headers: { ...auth(alice), 'content-range': `bytes 0-999/${small.length}` } });
  assert.equal(chunk.status, 200);
  const part = path.join(h.dir, 'media', `${id}.part`);
  assert.ok(fs.existsSync(part));
  assert.equal((await head(alice, id)).offset, 1000);
  await eventually(async () => (await head(alice, id)).status === 404, { what: 'the upload expired', timeoutMs: 40000, everyMs: 500 });
  await eventually(() => !fs.existsSync(part), { what: 'the partial file removed' });
  assert.equal(rows(`SELECT count(*) FROM media WHERE id = '${id}'`), '0');
  assert.match(nodeLog(short), new RegExp(`upload ${id} expired`));
});

test('a media row written by another module (a recording) is served from its path, never from outside media-dir', async () => {
  fs.mkdirSync(path.join(h.dir, 'media', 'rec'), { recursive: true });
  fs.writeFileSync(path.join(h.dir, 'media', 'rec', 'track.webm'), small);
  const ok = 'a'.repeat(31) + '1';
  const evil = 'a'.repeat(31) + '2';
  rows(`INSERT INTO media (id, owner, kind, title, mime, bytes, path, state) VALUES
        ('${ok}', '${alice.user.id}', 'recording', 'Session', 'video/webm', ${small.length}, 'rec/track.webm', 'ready'),
        ('${evil}', '${alice.user.id}', 'recording', 'Evil', 'video/webm', 10, '../media.test.mjs', 'ready')`);
  const r = await get(await urlOf(alice, ok), { range: 'bytes=0-9' });
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(small.subarray(0, 10)));
  assert.equal((await get(await urlOf(alice, evil))).status, 404);
  const dir = 'a'.repeat(31) + '3'; // a recording as record.c writes it: its path is a directory of tracks
  fs.mkdirSync(path.join(h.dir, 'media', 'recordings', dir), { recursive: true });
  rows(`INSERT INTO media (id, owner, kind, title, path, state) VALUES
        ('${dir}', '${alice.user.id}', 'recording', 'Tracks', 'recordings/${dir}', 'ready')`);
  assert.equal((await get(await urlOf(alice, dir))).status, 404);
  await alice.client.ok('media.delete', { media: ok });
  await eventually(() => !fs.existsSync(path.join(h.dir, 'media', 'rec', 'track.webm')), { what: 'the recording file removed' });
});
