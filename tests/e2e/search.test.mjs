// search.test.mjs — searching chat from the web client (views/search.js) in Debian's Chromium against a real
// staffroom-signal, Redis and PostgreSQL 15 on loopback. Ada writes a question early in #general; eighty
// messages follow (so it is archived and far above the latest page). In the browser she searches from the
// header's Search link: the result shows the snippet with the match highlighted (<mark>), the circle and
// channel, the author and the time; axe-core finds 0 WCAG 2.1 A/AA violations. Opening it shows the channel
// on that message, highlighted and on screen, with the messages around it loaded; "Jump to latest" then
// loads the newest page. A word nobody wrote finds nothing, said in words.
// Screenshots: build/test-artifacts/search-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot, axeViolations, signInThroughForm } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';

const T = 20000;
const CIRCLE = 'Statistics for adults';
const QUESTION = 'How do you explain a p-value to adults? I start with coin flips.';
let h; let pg; let stack; let browser; let admin; let ada; let adaName; let circleId; let general; let questionId;
const t0 = Date.now();

before(async () => {
  h = new Harness('e2e-search');
  pg = await h.postgres();
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100',
    '--message-rate', '100000', '--message-burst', '100000',
    '--postgres-conninfo-file', pg.conninfoFile, '--archive-keep', '20', '--archive-interval', '50', '--postgres-retry-max', '200'] });
  await stack.createAdmin('admin', 'admin password 123');
  admin = await connect(stack.wsUrl);
  await admin.ok('auth.login', { name: 'admin', password: 'admin password 123' });
  circleId = (await admin.ok('circle.create', { name: CIRCLE, subject: 'Statistics', phase: 'further' })).circle.id;
  general = (await admin.ok('channel.list', { circle: circleId })).channels.find((c) => c.name === 'general').id;
  ada = await connect(stack.wsUrl);
  adaName = uniqueName('ada');
  await registerUser(ada, adaName, 'password 12345', { display_name: 'Ada Lovelace' });
  await ada.ok('circle.join', { circle: circleId });
  for (let i = 0; i < 10; i++) await admin.ok('chat.send', { channel: general, text: `Before the question, note ${i}` });
  questionId = (await ada.ok('chat.send', { channel: general, text: QUESTION })).message.id;
  for (let i = 0; i < 80; i++) await admin.ok('chat.send', { channel: general, text: `After the question, note ${i}` });
  await eventually(() => Number(h.psql(pg, `SELECT count(*) FROM messages WHERE ms || '-' || seq = '${questionId}'`).trim()) === 1
    && Number(h.psql(pg, 'SELECT count(*) FROM messages').trim()) >= 70, { what: 'the question archived', timeoutMs: 60000 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await admin?.close();
  await ada?.close();
  await h?.close();
  console.log(`# search.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('search from the web client, then open the result in context', async () => {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signInThroughForm(page, stack.url, adaName, 'password 12345', T);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'Search', level: 1 }).waitFor({ timeout: T });
  await page.getByRole('option', { name: CIRCLE }).waitFor({ state: 'attached', timeout: T });
  await page.getByLabel('Search messages').fill('coin flip');
  await page.getByLabel('Search messages').press('Enter');
  const result = page.locator('.search-result').first();
  await result.waitFor({ timeout: T });
  assert.equal(await page.locator('.search-result').count(), 1);
  assert.equal(await result.getAttribute('data-id'), questionId);
  // Stemming: "flip" finds "flips"; both words are marked.
  assert.deepEqual(await result.locator('mark').allTextContents(), ['coin', 'flips']);
  assert.match(await result.locator('.result-snippet').textContent(), /explain a p-value to adults/);
  assert.equal(await result.locator('.result-where').textContent(), `${CIRCLE} › #general`);
  assert.match(await result.locator('.result-meta').textContent(), /Ada Lovelace · \d/);
  assert.equal(await page.getByRole('status').textContent(), '1 result.');
  assert.equal(new URL(page.url()).hash, '#/search/coin%20flip');
  await shot(page, 'search-results');
  const bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on the search view:\n${bad.join('\n')}`);

  // Nothing found: said in words.
  await page.getByLabel('Search messages').fill('kangaroo');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('No messages found.').waitFor({ timeout: T });
  assert.equal(await page.locator('.search-result').count(), 0);

  // Back to the result, then open it: the channel on that message, with its neighbours.
  await page.getByLabel('Search messages').fill('coin flip');
  await page.getByLabel('Search messages').press('Enter');
  await page.locator('.search-result .result-link').first().click();
  await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  const focused = page.locator('li.msg.msg-focus');
  await focused.waitFor({ timeout: T });
  assert.equal(await focused.getAttribute('data-id'), questionId);
  assert.match(await focused.textContent(), /explain a p-value/);
  assert.ok(await focused.isVisible());
  const inView = await focused.evaluate((el) => {
    const log = el.closest('.log').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return r.top >= log.top && r.bottom <= log.bottom;
  });
  assert.ok(inView, 'the message is scrolled into the log\'s view');
  assert.equal(await page.locator('li.msg', { hasText: 'Before the question, note 9' }).count(), 1);
  assert.equal(await page.locator('li.msg', { hasText: 'After the question, note 0' }).count(), 1);
  // Not the latest page: the newest message is not loaded until "Jump to latest".
  assert.equal(await page.locator('li.msg', { hasText: 'After the question, note 79' }).count(), 0);
  await shot(page, 'search-in-context');
  const bad2 = await axeViolations(page);
  assert.deepEqual(bad2, [], `axe-core on the channel opened from a result:\n${bad2.join('\n')}`);
  await page.getByRole('button', { name: /Jump to latest/ }).click();
  await page.locator('li.msg', { hasText: 'After the question, note 79' }).waitFor({ timeout: T });
  assert.deepEqual(page.exceptions, []);
});
