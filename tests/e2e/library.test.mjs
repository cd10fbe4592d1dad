// library.test.mjs — the circle library from the web client (views/library.js) in Debian's Chromium against
// a real staffroom-signal, Redis and PostgreSQL on loopback. A colleague has published a link; Ada opens
// #/circle/<cid>/library, publishes a link with tags, finds it by words and by its tag chip, marks the
// colleague's link useful (the count goes up, the button says pressed), sorts by most useful, and
// withdraws her own. axe-core finds 0 WCAG 2.1 A/AA violations. Then she adds a PDF with "Add a file" (upload
// with progress, then published); Ben, another member, sees it in his browser with its type and size and
// downloads it: the download's URL answers 200 application/pdf as an attachment, with the bytes Ada chose.
// Screenshots: build/test-artifacts/library-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Harness } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot, axeViolations, signInThroughForm } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';
import { tinyPdf } from '../lib/documents.mjs';

const T = 20000;
let h; let pg; let stack; let browser; let admin; let ada; let adaName; let ben; let benName; let circleId;
const t0 = Date.now();

before(async () => {
  h = new Harness('e2e-library');
  pg = await h.postgres();
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100',
    '--message-rate', '100000', '--message-burst', '100000', '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200'] });
  await stack.createAdmin('admin', 'admin password 123');
  admin = await connect(stack.wsUrl);
  await admin.ok('auth.login', { name: 'admin', password: 'admin password 123' });
  circleId = (await admin.ok('circle.create', { name: 'Early reading', subject: 'English', phase: 'primary' })).circle.id;
  // PostgreSQL may still be migrating: retry the colleague's publication until it is taken
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = await admin.request('library.publish', { circle: circleId, url: 'https://example.org/phonics',
      title: 'Phonics in five minutes', description: 'A daily routine for blending', tags: ['phonics'] });
    if (r.type === 'ok') break;
    assert.ok(Date.now() < deadline && r.code === 'unavailable', JSON.stringify(r));
    await new Promise((res) => setTimeout(res, 200));
  }
  ada = await connect(stack.wsUrl);
  adaName = uniqueName('ada');
  await registerUser(ada, adaName, 'password 12345', { display_name: 'Ada Lovelace' });
  await ada.ok('circle.join', { circle: circleId });
  ben = await connect(stack.wsUrl);
  benName = uniqueName('ben');
  await registerUser(ben, benName, 'password 12345', { display_name: 'Ben Okri' });
  await ben.ok('circle.join', { circle: circleId });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await admin?.close();
  await ada?.close();
  await ben?.close();
  await h?.close();
  console.log(`# library.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('publish a link, search by words and tag, mark useful, sort, withdraw — axe clean', async () => {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signInThroughForm(page, stack.url, adaName, 'password 12345', T);
  await page.goto(`${stack.url}#/circle/${circleId}/library`);
  await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor({ timeout: T });
  await page.locator('.library-item', { hasText: 'Phonics in five minutes' }).waitFor({ timeout: T });

  await page.getByLabel('Link (https://…)').fill('https://example.org/story-time');
  await page.getByLabel('Title').fill('Story time that builds vocabulary');
  await page.getByLabel('Description').fill('Reading aloud with three tier-two words');
  await page.getByLabel('Tags (separated by commas)').fill('Vocabulary, reading');
  await page.getByRole('button', { name: 'Publish' }).click();
  const mine = page.locator('.library-item', { hasText: 'Story time that builds vocabulary' });
  await mine.waitFor({ timeout: T });
  assert.match(await mine.textContent(), /#vocabulary #reading/);
  assert.equal(await page.locator('.library-item').count(), 2);

  // words: stemmed ("routines" finds "routine")
  await page.getByLabel('Search the library').fill('routines');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('.library-item').length === 1, null, { timeout: T });
  assert.match(await page.locator('.library-item').textContent(), /Phonics in five minutes/);
  await page.getByLabel('Search the library').fill('');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('.library-item').length === 2, null, { timeout: T });
  // a tag chip
  await page.getByRole('button', { name: '#vocabulary' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.library-item').length === 1, null, { timeout: T });
  assert.match(await page.locator('.library-item').textContent(), /Story time/);
  assert.equal(await page.getByRole('button', { name: '#vocabulary' }).getAttribute('aria-pressed'), 'true');
  await page.getByRole('button', { name: '#vocabulary' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.library-item').length === 2, null, { timeout: T });

  // useful, then most useful first
  const useful = page.getByRole('button', { name: 'Useful · 0: Phonics in five minutes' });
  await useful.click();
  const marked = page.getByRole('button', { name: 'Useful · 1: Phonics in five minutes' });
  await marked.waitFor({ timeout: T });
  assert.equal(await marked.getAttribute('aria-pressed'), 'true');
  await page.getByLabel('Order').selectOption('useful');
  await page.waitForFunction(() => document.querySelector('.library-item .library-title')?.textContent === 'Phonics in five minutes', null, { timeout: T });
  await shot(page, 'library-list');
  const bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on the library view:\n${bad.join('\n')}`);
  const row = await ada.ok('library.list', { circle: circleId, sort: 'useful' });
  assert.deepEqual(row.items.map((i) => [i.title, i.useful]), [['Phonics in five minutes', 1], ['Story time that builds vocabulary', 0]]);

  // withdraw my own (only mine has the button)
  assert.equal(await page.getByRole('button', { name: 'Withdraw Phonics in five minutes' }).count(), 0);
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Withdraw Story time that builds vocabulary' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.library-item').length === 1, null, { timeout: T });
  assert.equal((await ada.ok('library.list', { circle: circleId })).items.length, 1);
});

async function signIn(page, name) {
  await signInThroughForm(page, stack.url, name, 'password 12345', T);
  await page.goto(`${stack.url}#/circle/${circleId}/library`);
  await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor({ timeout: T });
}

test('a member adds a PDF with "Add a file"; another member sees it and downloads it', async () => {
  const pdf = tinyPdf('Equivalent fractions');
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signIn(page, adaName);
  await page.getByLabel('Document (PDF, OpenDocument or Office)').setInputFiles({ name: 'fractions.pdf', mimeType: 'application/pdf', buffer: pdf });
  assert.equal(await page.getByLabel('Name of the document').inputValue(), 'fractions', 'the name starts as the file name');
  await page.getByLabel('Name of the document').fill('Fractions plan');
  await page.getByLabel('What it is for').fill('A one-page plan for equivalent fractions');
  await page.getByLabel('Document tags, separated by commas').fill('plans, ks3');
  await page.getByRole('button', { name: 'Upload and add' }).click();
  const added = page.locator('.library-item', { hasText: 'Fractions plan' });
  await added.waitFor({ timeout: T });
  await page.getByText('Added “Fractions plan” to the library.').waitFor({ timeout: T });
  assert.match(await added.textContent(), /PDF document, 1 KB/);
  assert.match(await added.textContent(), /#plans #ks3/);
  await shot(page, 'library-file-added');
  const bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on the library view with a document:\n${bad.join('\n')}`);
  const item = (await ada.ok('library.list', { circle: circleId, query: 'fractions' })).items[0];
  assert.deepEqual([item.kind, item.format, item.mime, item.bytes], ['file', 'pdf', 'application/pdf', pdf.length]);

  // a file that is not a document is refused with the server's reason, and nothing is added
  await page.getByLabel('Document (PDF, OpenDocument or Office)').setInputFiles({ name: 'trick.pdf', mimeType: 'application/pdf',
    buffer: Buffer.from('<!doctype html><script>alert(1)</script>') });
  await page.getByRole('button', { name: 'Upload and add' }).click();
  await page.getByRole('alert').filter({ hasText: 'not a document we take' }).waitFor({ timeout: T });
  assert.equal((await ada.ok('library.list', { circle: circleId, query: 'trick' })).items.length, 0);

  // Ben, another member, in his own browser: the item, its type and size, and a download that works
  const { page: benPage, context: benContext } = await newUser(browser);
  await signIn(benPage, benName);
  const seen = benPage.locator('.library-item', { hasText: 'Fractions plan' });
  await seen.waitFor({ timeout: T });
  const button = benPage.getByRole('button', { name: 'Download PDF: Fractions plan (1 KB)', exact: true });
  await button.focus();
  const [download] = await Promise.all([benPage.waitForEvent('download', { timeout: T }), benPage.keyboard.press('Enter')]);
  assert.equal(download.suggestedFilename(), 'Fractions plan.pdf');
  const saved = await download.path();
  assert.ok(fs.readFileSync(saved).equals(pdf), 'the downloaded bytes are the uploaded ones');
  const res = await benContext.request.get(download.url());
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-type'], 'application/pdf');
  assert.match(res.headers()['content-disposition'], /^attachment; filename="Fractions plan\.pdf"/);
  assert.match(res.headers()['content-security-policy'], /sandbox/);
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  await shot(benPage, 'library-file-seen');
  assert.deepEqual(benPage.exceptions, []);
  assert.deepEqual(page.exceptions, []);
});
