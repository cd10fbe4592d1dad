// library.test.mjs — the circle library (library.h) with a real Redis, a real PostgreSQL and a real
// staffroom-signal node: publish a clip or a link, search by words (full text) and tags, newest and most
// useful first with a cursor, useful once per member, withdraw by the author or a moderator, refusals for a
// non-member, a former member and a stranger, bad input, and the clip's visibility through media.get
// (published → a member sees it; withdrawn → nobody but its owner). The test clip is made by ffmpeg.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, SIGNIN, startReadyStack, NO_SUCH_ID } from '../lib/community.mjs';

let h, pg, stack, base, admin, circle, other, alice, bob, carol, dave, clip;
const T = () => AbortSignal.timeout(30000);
const auth = (who) => ({ authorization: `Bearer ${who.token}` });

// A 2 s VP8/Opus WebM uploaded by who in one chunk; resolves with the ready clip's id.
async function uploadClip(who, title) {
  const c = await fetch(`${base}/media/uploads`, { method: 'POST', signal: T(),
    headers: { ...auth(who), 'content-type': 'application/json' }, body: JSON.stringify({ title, size: clip.length }) });
  const created = await c.json();
  assert.equal(c.status, 201, JSON.stringify(created));
  const p = await fetch(`${base}/media/uploads/${created.id}`, { method: 'PUT', body: clip, signal: T(),
    headers: { ...auth(who), 'content-range': `bytes 0-${clip.length - 1}/${clip.length}` } });
  const done = await p.json();
  assert.equal(p.status, 200, JSON.stringify(done));
  return created.id;
}

const list = async (who, fields = {}) => (await who.client.ok('library.list', { circle: circle.id, ...fields }));
const titles = (r) => r.items.map((i) => i.title);

before(async () => {
  h = new Harness('library');
  const out = path.join(h.dir, 'clip.webm');
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25', '-f', 'lavfi',
    '-i', 'sine=frequency=440', '-t', '2', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '200k',
    '-c:a', 'libopus', out]);
  clip = fs.readFileSync(out);
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...SIGNIN, '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200',
    '--media-dir', path.join(h.dir, 'media'), '--request-rate', '100000', '--request-burst', '100000',
    '--message-rate', '100000', '--message-burst', '100000'] });
  base = stack.httpUrl;
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])),
    { what: 'PostgreSQL migrated', timeoutMs: 30000 });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin));
  ({ circle: other } = await createCircle(admin, { name: 'Other circle' }));
  alice = await joined(stack, circle.id, 'alice');
  bob = await joined(stack, circle.id, 'bob');
  carol = await joined(stack, circle.id, 'carol');
  dave = await newMember(stack, 'dave');
});

after(async () => { await h.close(); });

test('publish a clip and links; search by words and tags; newest and most useful first; paging with a cursor', async () => {
  const id = await uploadClip(alice, 'Cold calling');
  const pub = (await alice.client.ok('library.publish', { circle: circle.id, media: id, title: 'Cold calling in year 9',
    description: 'Questioning the back row without hands up', subject: 'Mathematics', phase: 'secondary',
    tags: ['Questioning', 'ks3'] })).item;
  assert.equal(pub.kind, 'clip');
  assert.equal(pub.media, id);
  assert.deepEqual(pub.tags, ['questioning', 'ks3'], 'tags kept in lower case');
  assert.equal(pub.author, alice.user.id);
  assert.equal(pub.useful, 0);
  assert.ok(pub.duration_ms >= 1800 && pub.duration_ms <= 2200, `duration ${pub.duration_ms}`);
  const ev = await bob.client.waitEvent('library.published', (e) => e.item.id === pub.id);
  assert.equal(ev.item.title, 'Cold calling in year 9');
  const l1 = (await bob.client.ok('library.publish', { circle: circle.id, url: 'https://example.org/behaviour-routines',
    title: 'Behaviour routines that stick', description: 'Entry routines and calm starts', subject: 'Pastoral',
    phase: 'primary', tags: ['behaviour'] })).item;
  assert.equal(l1.kind, 'link');
  assert.equal(l1.url, 'https://example.org/behaviour-routines');
  const l2 = (await carol.client.ok('library.publish', { circle: circle.id, url: 'http://example.org/q',
    title: 'Hinge questions', description: 'One question to check the whole class', tags: ['questioning', 'assessment'] })).item;

  // newest first (the default)
  assert.deepEqual(titles(await list(bob)), ['Hinge questions', 'Behaviour routines that stick', 'Cold calling in year 9']);
  // words: stemmed full text over title, description, subject and phase
  assert.deepEqual(titles(await list(bob, { query: 'hinge' })), ['Hinge questions']);
  assert.deepEqual(titles(await list(bob, { query: 'questioning' })), ['Hinge questions', 'Cold calling in year 9'],
    'questions and questioning share a stem');
  assert.deepEqual(titles(await list(bob, { query: '"calm starts"' })), ['Behaviour routines that stick']);
  assert.deepEqual(titles(await list(bob, { query: 'mathematics secondary' })), ['Cold calling in year 9']);
  assert.deepEqual(titles(await list(bob, { query: 'nothing-like-this' })), []);
  // tags: all of them must match, in any case
  assert.deepEqual(titles(await list(bob, { tags: ['questioning'] })), ['Hinge questions', 'Cold calling in year 9']);
  assert.deepEqual(titles(await list(bob, { tags: ['QUESTIONING', 'ks3'] })), ['Cold calling in year 9']);
  assert.deepEqual(titles(await list(bob, { query: 'class', tags: ['questioning'] })), ['Hinge questions']);

  // useful: once per member, the count kept; unmarking takes one off
  let u = await bob.client.ok('library.useful', { item: pub.id, useful: true });
  assert.equal(u.useful, 1);
  assert.equal(u.changed, true);
  u = await bob.client.ok('library.useful', { item: pub.id, useful: true });
  assert.equal(u.useful, 1, 'a second mark by the same member does not count');
  assert.equal(u.changed, false);
  await Promise.all([carol, admin].map((w) => w.client.ok('library.useful', { item: pub.id, useful: true })));
  await carol.client.ok('library.useful', { item: l1.id, useful: true });
  const uev = await alice.client.waitEvent('library.useful', (e) => e.item === pub.id && e.useful === 3);
  assert.equal(uev.useful, 3);
  const byUseful = await list(bob, { sort: 'useful' });
  assert.deepEqual(titles(byUseful), ['Cold calling in year 9', 'Behaviour routines that stick', 'Hinge questions']);
  assert.deepEqual(byUseful.items.map((i) => i.useful), [3, 1, 0]);
  assert.deepEqual(byUseful.items.map((i) => i.marked), [true, false, false], 'marked: by the asking member');
  // the same member marking it from five places at once still counts once
  const racing = await Promise.all(Array.from({ length: 5 }, () => bob.client.ok('library.useful', { item: l2.id, useful: true })));
  assert.deepEqual(racing.map((x) => x.useful), [1, 1, 1, 1, 1]);
  assert.equal(racing.filter((x) => x.changed).length, 1);
  await bob.client.ok('library.useful', { item: l2.id, useful: false });
  u = await admin.client.ok('library.useful', { item: pub.id, useful: false });
  assert.equal(u.useful, 2);
  u = await admin.client.ok('library.useful', { item: pub.id, useful: false });
  assert.equal(u.useful, 2, 'unmarking twice takes one off once');
  assert.equal(h.psql(pg, `SELECT count(*) FROM library_useful WHERE item = '${pub.id}'`).trim(), '2');

  // paging: limit and cursor, in both orders, nothing repeated or lost
  for (const sort of ['newest', 'useful']) {
    const whole = titles(await list(bob, { sort }));
    const seen = [];
    let page = await list(bob, { sort, limit: 2 });
    seen.push(...titles(page));
    assert.ok(page.cursor, `${sort}: a cursor while there is more`);
    page = await list(bob, { sort, limit: 2, cursor: page.cursor });
    seen.push(...titles(page));
    assert.equal(page.cursor, undefined, `${sort}: no cursor on the last page`);
    assert.deepEqual(seen, whole, sort);
  }
  assert.equal(l2.author, carol.user.id);
});

test('a published clip is viewable by members through media.get; withdrawn, it is listed nowhere and not viewable', async () => {
  const id = await uploadClip(alice, 'Plenary');
  assertError(await carol.client.request('media.get', { media: id }), 'not_found');
  const item = (await alice.client.ok('library.publish', { circle: circle.id, media: id, title: 'A good plenary' })).item;
  const seen = (await carol.client.ok('media.get', { media: id })).media;
  assert.equal(seen.owner, alice.user.id);
  const file = await fetch(`${base}${seen.url}`, { headers: { range: 'bytes=0-9' }, signal: T() });
  assert.equal(file.status, 206);
  assertError(await dave.client.request('media.get', { media: id }), 'not_found', undefined);
  // the same clip twice in one library: conflict
  assertError(await alice.client.request('library.publish', { circle: circle.id, media: id, title: 'again' }), 'conflict', 'media');
  // a member who is not its author and not a moderator may not withdraw it
  assertError(await bob.client.request('library.withdraw', { item: item.id }), 'forbidden');
  await alice.client.ok('library.withdraw', { item: item.id });
  const wev = await carol.client.waitEvent('library.withdrawn', (e) => e.item === item.id);
  assert.equal(wev.circle, circle.id);
  assert.ok(!titles(await list(carol)).includes('A good plenary'), 'listed nowhere');
  assert.ok(!titles(await list(carol, { query: 'plenary' })).includes('A good plenary'));
  assertError(await carol.client.request('media.get', { media: id }), 'not_found');
  assert.equal((await fetch(`${base}${seen.url}`, { signal: T() })).status, 404, 'its earlier URL stops working');
  assert.equal((await alice.client.ok('media.get', { media: id })).media.id, id, 'the owner still has it');
  assertError(await alice.client.request('library.withdraw', { item: item.id }), 'not_found', 'item');
  assertError(await bob.client.request('library.useful', { item: item.id, useful: true }), 'not_found', 'item');
  // a moderator withdraws a member's link; published again after withdrawal, a clip is allowed
  const link = (await bob.client.ok('library.publish', { circle: circle.id, url: 'https://example.org/x', title: 'Off topic' })).item;
  await admin.client.ok('library.withdraw', { item: link.id });
  assert.ok(!titles(await list(bob)).includes('Off topic'));
  await alice.client.ok('library.publish', { circle: circle.id, media: id, title: 'A good plenary, again' });
});

test('a non-member, a former member and a stranger are refused; only the owner may publish a clip', async () => {
  const id = await uploadClip(alice, 'Private');
  const item = (await alice.client.ok('library.publish', { circle: circle.id, url: 'https://example.org/members', title: 'Members only' })).item;
  // dave: a member of no circle
  assertError(await dave.client.request('library.list', { circle: circle.id }), 'forbidden', 'circle');
  assertError(await dave.client.request('library.publish', { circle: circle.id, url: 'https://example.org/', title: 't' }), 'forbidden', 'circle');
  assertError(await dave.client.request('library.useful', { item: item.id, useful: true }), 'not_found', 'item');
  assertError(await dave.client.request('library.withdraw', { item: item.id }), 'not_found', 'item');
  // a guessed id
  assertError(await bob.client.request('library.useful', { item: NO_SUCH_ID, useful: true }), 'not_found', 'item');
  assertError(await bob.client.request('library.withdraw', { item: NO_SUCH_ID }), 'not_found', 'item');
  // a member of this circle cannot read or publish in another circle's library
  assertError(await bob.client.request('library.list', { circle: other.id }), 'forbidden', 'circle');
  assertError(await bob.client.request('library.publish', { circle: other.id, url: 'https://example.org/', title: 't' }), 'forbidden');
  // someone else's clip, even one shared with you, or a clip you cannot see
  await alice.client.ok('media.share', { media: id, user: bob.user.id });
  assertError(await bob.client.request('library.publish', { circle: circle.id, media: id, title: 'not mine' }), 'forbidden', 'media');
  assertError(await carol.client.request('library.publish', { circle: circle.id, media: id, title: 'unseen' }), 'not_found', 'media');
  assertError(await carol.client.request('library.publish', { circle: circle.id, media: NO_SUCH_ID, title: 'guess' }), 'not_found', 'media');
  // a former member loses the library at once
  const erin = await joined(stack, circle.id, 'erin');
  await erin.client.ok('library.useful', { item: item.id, useful: true });
  const hers = (await erin.client.ok('library.publish', { circle: circle.id, url: 'https://example.org/erin', title: 'Erin on feedback' })).item;
  await erin.client.ok('circle.leave', { circle: circle.id });
  // her author rights outlive her membership: she may still take her own item back
  await erin.client.ok('library.withdraw', { item: hers.id });
  assert.ok(!titles(await list(bob)).includes('Erin on feedback'));
  assertError(await erin.client.request('library.list', { circle: circle.id }), 'forbidden', 'circle');
  assertError(await erin.client.request('library.useful', { item: item.id, useful: false }), 'not_found', 'item');
  assert.equal(h.psql(pg, `SELECT count(*) FROM library_items WHERE circle = '${circle.id}' AND author = '${dave.user.id}'`).trim(), '0');
});

test('bad input is bad_request naming the field', async () => {
  const c = circle.id;
  const bad = [
    [{ circle: c, title: 'neither' }, 'media'],
    [{ circle: c, title: 'both', media: NO_SUCH_ID, url: 'https://example.org/' }, 'media'],
    [{ circle: c, title: 'ftp', url: 'ftp://example.org/' }, 'url'],
    [{ circle: c, title: 'js', url: 'javascript:alert(1)' }, 'url'],
    [{ circle: c, title: 'space', url: 'https://example.org/a b' }, 'url'],
    [{ circle: c, title: 'nohost', url: 'https:///x' }, 'url'],
    [{ circle: c, url: 'https://example.org/' }, 'title'],
    [{ circle: c, title: '', url: 'https://example.org/' }, 'title'],
    [{ circle: c, title: 'x'.repeat(201), url: 'https://example.org/' }, 'title'],
    [{ circle: 'nope', title: 't', url: 'https://example.org/' }, 'circle'],
    [{ circle: c, title: 't', url: 'https://example.org/', tags: 'questioning' }, 'tags'],
    [{ circle: c, title: 't', url: 'https://example.org/', tags: ['a b'] }, 'tags'],
    [{ circle: c, title: 't', url: 'https://example.org/', tags: ['x'.repeat(33)] }, 'tags'],
    [{ circle: c, title: 't', url: 'https://example.org/', tags: ['"},{"'] }, 'tags'],
    [{ circle: c, title: 't', url: 'https://example.org/', tags: Array.from({ length: 9 }, (_, i) => `t${i}`) }, 'tags'],
    [{ circle: c, title: 't', url: 'https://example.org/', tags: [1] }, 'tags'],
    [{ circle: c, title: 't', url: 'https://example.org/', description: 'x'.repeat(4001) }, 'description'],
  ];
  for (const [fields, field] of bad)
    assertError(await bob.client.request('library.publish', fields), 'bad_request', field);
  const badList = [
    [{}, 'circle'], [{ circle: c, sort: 'oldest' }, 'sort'], [{ circle: c, cursor: 'x' }, 'cursor'],
    [{ circle: c, cursor: `1.2.${'z'.repeat(32)}` }, 'cursor'], [{ circle: c, cursor: `a.2.${NO_SUCH_ID}` }, 'cursor'],
    [{ circle: c, limit: 0 }, 'limit'], [{ circle: c, limit: 51 }, 'limit'], [{ circle: c, query: 'q'.repeat(201) }, 'query'],
    [{ circle: c, tags: ['no good'] }, 'tags'],
  ];
  for (const [fields, field] of badList)
    assertError(await bob.client.request('library.list', fields), 'bad_request', field);
  assertError(await bob.client.request('library.useful', { item: NO_SUCH_ID }), 'bad_request', 'useful');
  assertError(await bob.client.request('library.useful', { item: NO_SUCH_ID, useful: 'yes' }), 'bad_request', 'useful');
  assertError(await bob.client.request('library.useful', { useful: true }), 'bad_request', 'item');
  assertError(await bob.client.request('library.withdraw', { item: 'short' }), 'bad_request', 'item');
  // odd but valid searches answer, never fail: operators, quotes, stop words only
  for (const query of ['"cold calling"', '-questioning', 'the and of', 'or', '!!! :* &|'])
    assert.ok(Array.isArray((await list(bob, { query })).items), query);
});

test('figures: library.list over 300 items (words, tags, most useful), medians of 5 runs', async () => {
  const subjects = ['Mathematics', 'English', 'Science', 'History', 'Music'];
  for (let i = 0; i < 300; i += 30)
    await Promise.all(Array.from({ length: 30 }, (_, k) => bob.client.ok('library.publish', { circle: circle.id,
      url: `https://example.org/r/${i + k}`, title: `Resource ${i + k} on ${subjects[(i + k) % 5]}`,
      description: `Routine number ${i + k} for starters and plenaries`, subject: subjects[(i + k) % 5], tags: [`t${(i + k) % 10}`, 'bulk'] })));
  const time = async (fields) => {
    const runs = [];
    for (let n = 0; n < 5; n++) {
      const t = process.hrtime.bigint();
      const r = await list(alice, fields);
      runs.push(Number(process.hrtime.bigint() - t) / 1e6);
      assert.ok(r.items.length > 0, JSON.stringify(fields));
    }
    runs.sort((a, b) => a - b);
    return `${runs[2].toFixed(1)} ms (${runs[0].toFixed(1)}–${runs[4].toFixed(1)})`;
  };
  const figures = {
    newest: await time({}),
    words: await time({ query: 'science plenaries' }),
    tags: await time({ tags: ['t3', 'bulk'] }),
    useful: await time({ sort: 'useful', limit: 50 }),
  };
  const found = await list(alice, { query: 'science', tags: ['t2'], limit: 50 });
  assert.ok(found.items.every((i) => i.subject === 'Science' && i.tags.includes('t2')), 'words and tags both hold');
  assert.equal(found.items.length, 30);
  console.log(`# library.list figures: ${JSON.stringify(figures)}`);
});
