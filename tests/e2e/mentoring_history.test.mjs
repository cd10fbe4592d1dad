// mentoring_history.test.mjs — the mentee's mentoring history (views/goals.js, #/mentoring and
// #/mentoring/<id>) in Debian's Chromium against a real staffroom-signal, Redis and PostgreSQL 15 on loopback.
// Over the protocol: a mentor with weekly availability, a mentee who books two sessions (one then cancelled)
// and writes a note, an open mentorship with two goals, and a recording of the first session stored as the
// record module stores one (a media row of kind recording for that booking, shared with the mentee). In the
// browser the mentee opens Mentoring from the main navigation, links the note to a goal with the keyboard,
// opens the history: both sessions, the recording and the note link in time order; the recording opens the
// player. The circle's page links to its library. axe-core finds 0 WCAG 2.1 A/AA violations on both pages.
// Screenshots: build/test-artifacts/mentoring-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot, axeViolations, signInThroughForm } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';

const T = 20000;
const ALWAYS = { tz: 'UTC', windows: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((day) => ({ day, start: '00:00', end: '24:00' })),
  slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 60, max_ahead_days: 30 };
const GOALS = [{ title: 'Ask open questions' }, { title: 'Wait after asking' }];
const REC = 'e'.repeat(31) + '7';
let h; let pg; let stack; let browser; let circle; let mentor; let mentee; let menteeName; let mentorship; let booked; let cancelled; let note; let mentorId;
const t0 = Date.now();

before(async () => {
  h = new Harness('e2e-mentoring-history');
  pg = await h.postgres();
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100',
    '--postgres-conninfo-file', pg.conninfoFile, '--postgres-retry-max', '200'] });
  await stack.createAdmin('mhadmin', 'admin password 123');
  const admin = await connect(stack.wsUrl);
  await admin.ok('auth.login', { name: 'mhadmin', password: 'admin password 123' }, 30000);
  circle = (await admin.ok('circle.create', { name: 'Science mentoring', subject: 'Science', phase: 'secondary' })).circle;
  mentor = await connect(stack.wsUrl);
  mentorId = (await registerUser(mentor, uniqueName('mentor'), 'password 12345', { display_name: 'Maria Mentor' })).user.id;
  mentee = await connect(stack.wsUrl);
  menteeName = uniqueName('mentee');
  const menteeId = (await registerUser(mentee, menteeName, 'password 12345', { display_name: 'Ezra Mentee' })).user.id;
  for (const c of [mentor, mentee]) await c.ok('circle.join', { circle: circle.id });
  await admin.ok('circle.set_role', { circle: circle.id, user: mentorId, role: 'mentor' });
  await admin.close();
  await mentor.ok('schedule.availability.set', ALWAYS);
  const { slots } = await mentee.ok('schedule.slots', { mentor: mentorId });
  booked = (await mentee.ok('schedule.book', { mentor: mentorId, start: slots[0].start, topic: 'Questioning in year 9' })).booking;
  cancelled = (await mentee.ok('schedule.book', { mentor: mentorId, start: slots[1].start, topic: 'Wait time' })).booking;
  await mentor.ok('schedule.cancel', { booking: cancelled.id });
  note = (await mentee.ok('mentoring.notes.add', { with: mentorId, kind: 'note', text: 'Count to three before taking answers' })).note;
  // PostgreSQL may still be migrating when the node answers: retry the proposal until it is taken
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = await mentor.request('mentorship.propose', { mentee: menteeId, goals: GOALS });
    if (r.type === 'ok') { mentorship = r.mentorship; break; }
    assert.equal(r.code, 'unavailable', JSON.stringify(r));
    assert.ok(Date.now() < deadline, 'PostgreSQL never came up');
    await new Promise((res) => setTimeout(res, 200));
  }
  await mentee.ok('mentorship.accept', { mentorship: mentorship.id });
  // the row record.c writes once the SFU has closed the files of the session room's recording
  h.psql(pg, `INSERT INTO media (id, owner, kind, title, mime, duration_ms, path, state, session, meta) VALUES ('${REC}',
    '${mentorId}', 'recording', 'Recording of our first session', 'video/webm', 10000, 'recordings/${REC}', 'ready',
    '${booked.id}', '{}'); INSERT INTO media_shares (media_id, user_id) VALUES ('${REC}', '${menteeId}')`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await mentor?.close();
  await mentee?.close();
  await h?.close();
  console.log(`# mentoring_history.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('the mentee opens Mentoring from the navigation, links a note to a goal, and reads the history in order', async () => {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signInThroughForm(page, stack.url, menteeName, 'password 12345', T);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mentoring' }).click();
  await page.getByRole('heading', { name: 'Mentoring', level: 1 }).waitFor({ timeout: T });
  await page.getByRole('heading', { name: /Maria Mentor \(your mentor\) — open/ }).waitFor({ timeout: T });
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mentoring' }).getAttribute('aria-current'), 'page');

  // the note, linked to the second goal with the keyboard only
  const notes = page.getByRole('region', { name: 'Notes with Maria Mentor' });
  await notes.locator('li.note > p', { hasText: note.text }).first().waitFor({ timeout: T });
  const pick = notes.getByLabel(`Goal for the note “${note.text}”`);
  await pick.focus();
  await pick.selectOption({ label: 'Wait after asking' });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Link to a goal');
  await page.keyboard.press('Enter');
  await notes.getByText('Linked to “Wait after asking”').waitFor({ timeout: T });
  await page.locator('section.goal').filter({ has: page.getByRole('heading', { name: 'Wait after asking' }) })
    .getByText(/Linked: note “Count to three/).waitFor({ timeout: T });
  await shot(page, 'mentoring-notes');
  let bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on the mentoring page:\n${bad.join('\n')}`);

  // the history page, in time order: the note link (at when the note was written, before the proposal), the
  // proposal, the agreement, the recording (stored after both) and the two sessions (ahead)
  await page.getByRole('link', { name: 'History with Maria Mentor' }).click();
  await page.getByRole('heading', { name: 'Mentoring history', level: 1 }).waitFor({ timeout: T });
  const list = page.getByRole('list', { name: 'History in time order' });
  await list.getByRole('link', { name: 'Recording of our first session' }).waitFor({ timeout: T });
  const texts = await list.locator('li').allInnerTexts();
  const at = (re) => texts.findIndex((t) => re.test(t));
  const order = [/Note linked to “Wait after asking”: “Count to three/, /Goals proposed by Maria Mentor/, /Goals agreed/,
    /Recording: Recording of our first session/, /Session booked: Questioning in year 9/, /Session cancelled: Wait time/].map(at);
  assert.ok(order.every((i) => i >= 0), `every event shown: ${JSON.stringify(texts)}`);
  assert.deepEqual(order, [...order].sort((a, b) => a - b), `in time order: ${JSON.stringify(texts)}`);
  const server = (await mentee.ok('mentorship.history', { mentorship: mentorship.id })).history;
  assert.equal(texts.length, server.length, 'one item per event of the server\'s history');
  await shot(page, 'mentoring-history');
  bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on the history page:\n${bad.join('\n')}`);

  // the recording opens in the player
  await list.getByRole('link', { name: 'Recording of our first session' }).click();
  await page.getByRole('heading', { name: 'Recording of our first session', level: 1 }).waitFor({ timeout: T });
  assert.equal(new URL(page.url()).hash, `#/media/${REC}`);

  // the notes page of the pair (#/sessions/notes/<user>) shows the link and offers the same control
  await page.goto(`${stack.url}#/sessions/notes/${mentorId}`);
  await page.getByRole('heading', { name: 'Mentoring notes with Maria Mentor' }).waitFor({ timeout: T });
  const pane = page.getByRole('region', { name: 'Mentoring notes' });
  await pane.getByText('Linked to “Wait after asking”').waitFor({ timeout: T });
  await pane.getByRole('button', { name: 'Link to a goal' }).waitFor({ timeout: T });

  // the mentor sees the note link too
  const hm = (await mentor.ok('mentorship.history', { mentorship: mentorship.id })).history;
  assert.deepEqual(hm.filter((e) => e.kind === 'note').map((e) => [e.goal, e.title]), [[mentorship.goals[1].id, note.text]]);
});

test('a circle\'s page links to its library', async () => {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signInThroughForm(page, stack.url, menteeName, 'password 12345', T);
  await page.goto(`${stack.url}#/circle/${circle.id}`);
  await page.getByRole('heading', { name: 'Science mentoring', level: 1 }).waitFor({ timeout: T });
  await page.getByRole('link', { name: 'Library', exact: true }).click();
  await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor({ timeout: T });
  assert.equal(new URL(page.url()).hash, `#/circle/${circle.id}/library`);
});
