// library_files.test.mjs — documents in the circle library (docprobe.h, upload.h kind "file", media.h's file
// route) with a real Redis, a real PostgreSQL and a real staffroom-signal node: a PDF, DOCX, PPTX, XLSX, ODT,
// ODP and ODS built here (the PDF byte by byte, the ZIPs by Python's zipfile) are accepted by content, get
// their type from it and go into the library; an HTML page and a shell script named .pdf, a ZIP that is
// neither ODF nor OOXML, a macro-enabled Word file, a truncated PDF and DOCX, and a zip bomb are refused and
// leave nothing behind; too large (file-max-bytes) and the quota (files counted); the file route's access
// checks (owner, member, former member, stranger with a guessed id) and headers (Content-Disposition,
// nosniff, CSP sandbox, Range).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { tinyPdf, documentZips } from '../lib/documents.mjs';
import { newAdmin, newMember, createCircle, joined, assertError, SIGNIN, startReadyStack, NO_SUCH_ID } from '../lib/community.mjs';

const FILE_MAX = 1024 * 1024; // file-max-bytes and user-quota-bytes of this node
let h, pg, stack, base, admin, circle, alice, bob, dave, docs;
const T = () => AbortSignal.timeout(30000);
const auth = (who) => ({ authorization: `Bearer ${who.token}` });
const rows = (sql) => h.psql(pg, sql).trim();

// POST then one PUT of the whole body; resolves {status, body, id} of the last answer.
async function upload(who, buf, { title = 'A document', kind = 'file' } = {}) {
  const c = await fetch(`${base}/media/uploads`, { method: 'POST', signal: T(),
    headers: { ...auth(who), 'content-type': 'application/json' }, body: JSON.stringify({ title, size: buf.length, kind }) });
  const made = await c.json();
  if (c.status !== 201) return { status: c.status, body: made };
  const p = await fetch(`${base}/media/uploads/${made.id}`, { method: 'PUT', body: buf, signal: T(),
    headers: { ...auth(who), 'content-type': 'application/pdf', 'content-range': `bytes 0-${buf.length - 1}/${buf.length}` } });
  return { status: p.status, body: await p.json(), id: made.id };
}

const urlOf = async (who, id) => (await who.client.ok('media.get', { media: id })).media.url;
const get = async (url, headers = {}) => {
  const r = await fetch(`${base}${url}`, { headers, signal: T() });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
};

before(async () => {
  h = new Harness('library-files');
  const dir = path.join(h.dir, 'docs');
  fs.mkdirSync(dir);
  docs = documentZips(dir);
  docs['plan.pdf'] = tinyPdf();
  pg = await h.postgres();
  stack = await startReadyStack(h, { args: [...SIGNIN, '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200',
    '--media-dir', path.join(h.dir, 'media'), '--file-max-bytes', String(FILE_MAX), '--user-quota-bytes', String(FILE_MAX),
    '--request-rate', '100000', '--request-burst', '100000', '--message-rate', '100000', '--message-burst', '100000'] });
  base = stack.httpUrl;
  await eventually(() => new RegExp(`pg: connected, schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])),
    { what: 'PostgreSQL migrated', timeoutMs: 30000 });
  admin = await newAdmin(stack);
  ({ circle } = await createCircle(admin));
  alice = await joined(stack, circle.id, 'alice');
  bob = await joined(stack, circle.id, 'bob');
  dave = await newMember(stack, 'dave');
});

after(async () => { await h.close(); });

test('PDF, Office and OpenDocument files are accepted by content, with their type, and go into the library', async () => {
  const want = {
    'plan.pdf': ['application/pdf', 'pdf'],
    'doc.docx': ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
    'deck.pptx': ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'pptx'],
    'book.xlsx': ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
    'text.odt': ['application/vnd.oasis.opendocument.text', 'odt'],
    'slides.odp': ['application/vnd.oasis.opendocument.presentation', 'odp'],
    'sheet.ods': ['application/vnd.oasis.opendocument.spreadsheet', 'ods'],
  };
  const ids = {};
  for (const [name, [mime, format]] of Object.entries(want)) {
    const r = await upload(alice, docs[name], { title: `Doc ${name}` });
    assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
    const m = r.body.media;
    assert.equal(m.kind, 'file', name);
    assert.equal(m.mime, mime, name);
    assert.equal(m.meta.format, format, name);
    assert.equal(m.bytes, docs[name].length, name);
    assert.equal(m.duration_ms, undefined, `${name}: a document has no duration`);
    ids[name] = m.id;
  }
  const pub = (await alice.client.ok('library.publish', { circle: circle.id, media: ids['plan.pdf'], title: 'Year 9 fractions plan',
    description: 'A one-page plan for equivalent fractions', subject: 'Mathematics', tags: ['plans'] })).item;
  assert.equal(pub.kind, 'file');
  assert.equal(pub.format, 'pdf');
  assert.equal(pub.mime, 'application/pdf');
  assert.equal(pub.bytes, docs['plan.pdf'].length);
  await alice.client.ok('library.publish', { circle: circle.id, media: ids['doc.docx'], title: 'Seating plan template' });
  const seen = (await bob.client.ok('library.list', { circle: circle.id, query: 'fractions' })).items;
  assert.deepEqual(seen.map((i) => [i.title, i.kind, i.format, i.mime, i.bytes]),
    [['Year 9 fractions plan', 'file', 'pdf', 'application/pdf', docs['plan.pdf'].length]]);
  const all = (await bob.client.ok('library.list', { circle: circle.id })).items;
  assert.deepEqual(all.map((i) => i.format), ['docx', 'pdf']);
  // bob, a member, downloads the published DOCX; the bytes are the ones uploaded
  const r = await get(await urlOf(bob, ids['doc.docx']));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), want['doc.docx'][0]);
  assert.ok(r.body.equals(docs['doc.docx']));
  assert.match(r.headers.get('content-disposition'), /^attachment; filename="Doc doc_docx\.docx"/);
});

test('what claims to be a document and is not is refused, and nothing of it is left or listed', async () => {
  const html = Buffer.from('<!doctype html><html><body><script>fetch("/ws")</script></body></html>\n');
  const sh = Buffer.from('#!/bin/sh\nrm -rf "$HOME"\n');
  const pdf = docs['plan.pdf'];
  const cases = [
    ['an HTML page named .pdf', html, 415, 'wrong_type', /PDF, OpenDocument/],
    ['a shell script', sh, 415, 'wrong_type', /not a document/],
    ['a ZIP that is neither ODF nor OOXML', docs['plain.zip'], 415, 'wrong_type', /ZIP archive, but not/],
    ['an OpenDocument drawing', docs['drawing.odg'], 415, 'wrong_type', /OpenDocument file, but not/],
    ['a macro-enabled Word file', docs['macro.docm'], 415, 'wrong_type', /macro-enabled/],
    ['a zip bomb (40 MiB of zeros in a few KiB)', docs['bomb.docx'], 415, 'wrong_type', /zip bomb/],
    ['a truncated PDF', pdf.subarray(0, Math.floor(pdf.length * 0.6)), 422, 'broken_file', /%%EOF/],
    ['a PDF whose startxref points nowhere', Buffer.from(pdf.toString('latin1').replace(/startxref\n\d+/, 'startxref\n99999'), 'latin1'), 422, 'broken_file', /outside the file/],
    ['a truncated DOCX', docs['doc.docx'].subarray(0, Math.floor(docs['doc.docx'].length * 0.7)), 422, 'broken_file', /incomplete or damaged/],
    ['an Office file without its main part', docs['nomain.docx'], 422, 'broken_file', /main part/],
  ];
  assert.ok(docs['bomb.docx'].length < 200 * 1024, `the bomb is ${docs['bomb.docx'].length} bytes`);
  for (const [what, buf, status, code, why] of cases) {
    const r = await upload(alice, buf, { title: what });
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, code, what);
    assert.match(r.body.message, why, what);
    assert.equal(rows(`SELECT count(*) FROM media WHERE id = '${r.id}'`), '0', `${what}: no row left`);
    assert.ok(!fs.existsSync(path.join(h.dir, 'media', `${r.id}.media`)), `${what}: no file left`);
    assert.ok(!fs.existsSync(path.join(h.dir, 'media', `${r.id}.part`)), `${what}: no partial file left`);
    assertError(await alice.client.request('library.publish', { circle: circle.id, media: r.id, title: 'x' }), 'not_found', 'media');
  }
  const titles = (await alice.client.ok('media.list', {})).media.map((m) => m.title);
  for (const [what] of cases) assert.ok(!titles.includes(what), `${what} is not listed`);
  // a document is checked as a document: a video uploaded as kind "file" is not one
  const webm = Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01]);
  assert.equal((await upload(alice, webm)).body.code, 'wrong_type');
  // and a document uploaded as a clip is not a video
  assert.equal((await upload(alice, pdf, { kind: 'clip' })).body.code, 'not_video');
});

test('file-max-bytes, the kind field, and the quota that counts documents', async () => {
  const post = (who, body) => fetch(`${base}/media/uploads`, { method: 'POST', signal: T(),
    headers: { ...auth(who), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let r = await post(bob, { title: 'huge', size: FILE_MAX + 1, kind: 'file' });
  assert.equal(r.status, 413);
  const tooLarge = await r.json();
  assert.equal(tooLarge.code, 'too_large');
  assert.match(tooLarge.message, /document/);
  r = await post(bob, { title: 'odd', size: 10, kind: 'spreadsheet' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).message, /^kind/);
  r = await post(bob, { title: 'odd', size: 10, kind: 7 });
  assert.equal(r.status, 400);
  // erin has one ready document: what is left of his quota is exactly FILE_MAX minus its size
  const erin = await newMember(stack, 'erin');
  const up = await upload(erin, docs['plan.pdf'], { title: 'counted' });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  r = await post(erin, { title: 'one byte over', size: FILE_MAX - docs['plan.pdf'].length + 1, kind: 'file' });
  assert.equal(r.status, 507);
  assert.equal((await r.json()).code, 'quota_exceeded');
  r = await post(erin, { title: 'just fits', size: FILE_MAX - docs['plan.pdf'].length, kind: 'file' });
  assert.equal(r.status, 201);
  const open = await r.json();
  // the open upload counts too; abandoned, it frees its share
  r = await post(erin, { title: 'no room', size: 1, kind: 'file' });
  assert.equal(r.status, 507);
  assert.equal((await fetch(`${base}/media/uploads/${open.id}`, { method: 'DELETE', headers: auth(erin), signal: T() })).status, 200);
  await erin.client.ok('media.delete', { media: up.id });
  r = await post(erin, { title: 'all free again', size: FILE_MAX, kind: 'file' });
  assert.equal(r.status, 201);
});

test('the file route: owner, member, former member, stranger; Content-Disposition, nosniff, sandbox, Range', async () => {
  const pdf = docs['plan.pdf'];
  const title = 'Plan "Y9" / ünits';
  const up = await upload(alice, pdf, { title });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  const id = up.id;
  // the owner
  const mine = await get(await urlOf(alice, id));
  assert.equal(mine.status, 200);
  assert.ok(mine.body.equals(pdf));
  assert.equal(mine.headers.get('content-type'), 'application/pdf');
  assert.equal(mine.headers.get('x-content-type-options'), 'nosniff');
  const csp = mine.headers.get('content-security-policy');
  assert.match(csp, /(^|[,;]\s*)sandbox(\s*$|[,;])/, `CSP: ${csp}`);
  const cd = mine.headers.get('content-disposition');
  const m = /^attachment; filename="([^"\\/]+)"; filename\*=UTF-8''(\S+)$/.exec(cd);
  assert.ok(m, `Content-Disposition: ${cd}`);
  assert.equal(m[1], 'Plan _Y9_ _ _nits.pdf', 'quotes, slashes and non-ASCII never reach the plain file name');
  assert.equal(decodeURIComponent(m[2]), `${title}.pdf`, 'filename* carries the title as written');
  const range = await get(await urlOf(alice, id), { range: 'bytes=0-7' });
  assert.equal(range.status, 206);
  assert.equal(range.headers.get('content-range'), `bytes 0-7/${pdf.length}`);
  assert.equal(range.body.toString('latin1'), '%PDF-1.4');
  assert.equal(range.headers.get('content-disposition'), cd);
  // bob (a member) cannot see it before it is published; after, he can; dave (no circle) never
  assertError(await bob.client.request('media.get', { media: id }), 'not_found');
  assertError(await dave.client.request('media.get', { media: id }), 'not_found');
  await alice.client.ok('library.publish', { circle: circle.id, media: id, title: 'Units plan' });
  const bobUrl = await urlOf(bob, id);
  const seen = await get(bobUrl);
  assert.equal(seen.status, 200);
  assert.equal(seen.headers.get('content-type'), 'application/pdf');
  assertError(await dave.client.request('media.get', { media: id }), 'not_found');
  // a stranger with a guessed id: no item, and a real token for another item opens nothing
  assertError(await dave.client.request('media.get', { media: NO_SUCH_ID }), 'not_found');
  assert.equal((await get(bobUrl.replace(id, NO_SUCH_ID))).status, 404);
  assert.equal((await get(`/media/${id}/file?t=${'1'.repeat(10)}.${dave.user.id}.${'0'.repeat(32)}`)).status, 404);
  assert.equal((await get(`/media/${id}/file`)).status, 404);
  // a former member: the link he had stops working at once
  await bob.client.ok('circle.leave', { circle: circle.id });
  assert.equal((await get(bobUrl)).status, 404);
  assertError(await bob.client.request('media.get', { media: id }), 'not_found');
  assert.equal((await get(await urlOf(alice, id))).status, 200, 'the owner still has it');
});
