// goals.test.mjs — the mentoring page (views/goals.js, #/mentoring) in Debian's Chromium against a real
// staffroom-signal, Redis and PostgreSQL 15 on loopback. A mentor proposes two goals over the protocol; in the
// browser the mentee sees the proposal, accepts it, adds progress to a goal (shown with its rating), and
// closes the mentorship with an outcome per goal, which the server then holds. axe-core finds 0 WCAG 2.1
// A/AA violations on the page with an open mentorship. Screenshots: build/test-artifacts/goals-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot, axeViolations, signInThroughForm } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';

const T = 20000;
let h; let pg; let stack; let browser; let mentor; let mentee; let menteeName; let menteeId; let mentorship;
const t0 = Date.now();

before(async () => {
  h = new Harness('e2e-goals');
  pg = await h.postgres();
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100',
    '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200'] });
  mentor = await connect(stack.wsUrl);
  await registerUser(mentor, uniqueName('mentor'), 'password 12345', { display_name: 'Grace Mentor' });
  mentee = await connect(stack.wsUrl);
  menteeName = uniqueName('mentee');
  menteeId = (await registerUser(mentee, menteeName, 'password 12345', { display_name: 'Ada Mentee' })).user.id;
  // PostgreSQL may still be migrating when the node answers: retry the proposal until it is taken
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = await mentor.request('mentorship.propose', { mentee: menteeId,
      goals: [{ title: 'Ask open questions', measure: 'half of the questions are open' }, { title: 'Wait after asking' }] });
    if (r.type === 'ok') { mentorship = r.mentorship; break; }
    assert.equal(r.code, 'unavailable', JSON.stringify(r));
    assert.ok(Date.now() < deadline, 'PostgreSQL never came up');
    await new Promise((res) => setTimeout(res, 200));
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await mentor?.close();
  await mentee?.close();
  await h?.close();
  console.log(`# goals.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('the mentee accepts the goals, adds progress and closes with outcomes on #/mentoring', async () => {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signInThroughForm(page, stack.url, menteeName, 'password 12345', T);
  await page.goto(`${stack.url}#/mentoring`);
  await page.getByRole('heading', { name: 'Mentoring', level: 1 }).waitFor({ timeout: T });
  await page.getByRole('heading', { name: /Grace Mentor \(your mentor\) — proposed/ }).waitFor({ timeout: T });
  await page.getByRole('button', { name: 'Accept these goals' }).click();
  await page.getByRole('heading', { name: /Grace Mentor \(your mentor\) — open/ }).waitFor({ timeout: T });

  const goal = page.locator('section.goal').filter({ has: page.getByRole('heading', { name: 'Ask open questions' }) });
  await goal.getByLabel('Progress note').fill('Year 9: most questions were open');
  await goal.getByLabel('Rating (1–5)').selectOption('4');
  await goal.getByRole('button', { name: 'Add progress' }).click();
  await goal.getByText(/4\/5 — Year 9: most questions were open/).waitFor({ timeout: T });
  await shot(page, 'goals-open');
  const bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on the mentoring view:\n${bad.join('\n')}`);

  await page.getByLabel('Outcome: Ask open questions').selectOption('met');
  await page.getByLabel('Outcome: Wait after asking').selectOption('partly');
  await page.getByRole('button', { name: 'Close with these outcomes' }).click();
  await page.getByRole('heading', { name: /Grace Mentor \(your mentor\) — closed/ }).waitFor({ timeout: T });
  await page.getByText('Outcome: Partly met').waitFor({ timeout: T });
  await shot(page, 'goals-closed');
  const h2 = await mentor.ok('mentorship.history', { mentorship: mentorship.id });
  assert.equal(h2.mentorship.state, 'closed');
  assert.deepEqual(h2.mentorship.goals.map((g) => g.outcome), ['met', 'partly']);
  assert.deepEqual(h2.history.filter((e) => e.kind === 'progress').map((e) => [e.rating, e.by]), [[4, menteeId]]);
});
