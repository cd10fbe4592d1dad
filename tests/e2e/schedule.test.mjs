// schedule.test.mjs — the scheduling views of the web client in Debian's Chromium against real
// staffroom-signal + Redis: a mentor publishes availability in the editor, a mentee finds her in the
// circle's member list, picks a slot, sees the session under "My sessions" with its .ics link and a join
// button that is not lit yet, and both write in the pair's mentoring notes. Then the mentoring journey to
// the end: a session that starts within two minutes, both join its room when it opens (relay-only through
// staffroom-relay) and decode each other's video; printed: the second join click → first decoded frame.
// Users and the circle are set up over the protocol (tests/lib/client.mjs); only the scheduling views
// are driven through the page. Screenshots: build/test-artifacts/schedule-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { connect, registerUser, uniqueName, redisCommand } from '../lib/client.mjs';
import { launchBrowser, newUser, shot, unlabeledControls } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { startRelay } from '../lib/relay.mjs';
import { firstFrames } from '../lib/media.mjs';
import { join } from '../lib/callstage.mjs';

const T = 15000;
let h; let stack; let relay; let browser; let circle;
const people = {};

async function signIn(page, name, password) {
  await page.goto(stack.url);
  await page.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
}

before(async () => {
  h = new Harness('e2e-schedule');
  relay = await startRelay(h, { allowLoopback: true });
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100', '--room-media', 'mesh',
    '--turn-secret-file', relay.secretFile, '--turn-urls', `turn:127.0.0.1:${relay.port}?transport=udp`] });
  await stack.createAdmin('schedadmin', 'admin password 123');
  const admin = await connect(stack.wsUrl);
  await admin.ok('auth.login', { name: 'schedadmin', password: 'admin password 123' }, 30000);
  circle = (await admin.ok('circle.create', { name: 'Maths mentoring', subject: 'Mathematics', phase: 'secondary' })).circle;
  for (const who of ['mentor', 'mentee']) {
    const c = await connect(stack.wsUrl);
    const name = uniqueName(who);
    const reg = await registerUser(c, name, `${who} password 123`, { display_name: who === 'mentor' ? 'Maria Mentor' : 'Ezra Mentee' });
    await c.ok('circle.join', { circle: circle.id });
    people[who] = { name, password: `${who} password 123`, id: reg.user.id, token: reg.token, client: c };
  }
  await admin.ok('circle.set_role', { circle: circle.id, user: people.mentor.id, role: 'mentor' });
  await admin.close();
  browser = await launchBrowser();
});

after(async () => {
  for (const p of Object.values(people)) await p.client?.close();
  if (browser) await browser.close();
  if (h) await h.close();
});

test('a mentor publishes availability, a mentee books a slot and sees the session; both share notes', async () => {
  // the mentor: availability editor under "Sessions"
  const { page: mp } = await newUser(browser);
  await signIn(mp, people.mentor.name, people.mentor.password);
  await mp.getByRole('link', { name: 'Sessions', exact: true }).click();
  await mp.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: T });
  await mp.getByLabel('Your time zone').fill('Europe/London');
  await mp.getByRole('button', { name: 'Add a weekly window' }).click();
  await mp.getByLabel('Day', { exact: true }).selectOption('wed');
  await mp.getByLabel('From', { exact: true }).fill('09:00');
  await mp.getByLabel('To', { exact: true }).fill('11:00');
  await mp.getByLabel('Minimum notice (minutes)').fill('0');
  await mp.getByRole('button', { name: 'Save availability' }).click();
  await mp.getByText('Availability saved.').waitFor({ timeout: T });
  const stored = await people.mentee.client.ok('schedule.availability.get', { mentor: people.mentor.id });
  assert.deepEqual(stored.availability.windows, [{ day: 'wed', start: '09:00', end: '11:00' }]);
  assert.equal(stored.availability.tz, 'Europe/London');
  assert.equal(stored.availability.min_notice_minutes, 0);
  assert.deepEqual(await unlabeledControls(mp), []);
  await shot(mp, 'schedule-01-availability');

  // the mentee: member list → slot picker → my sessions
  const { page: ep } = await newUser(browser);
  await signIn(ep, people.mentee.name, people.mentee.password);
  await ep.goto(`${stack.url}#/circle/${circle.id}`);
  // the circle's Mentoring panel shows her next free slot (a link to the same picker)
  await ep.getByRole('link', { name: /^next free .+ with Maria Mentor$/ }).waitFor({ timeout: T });
  await ep.getByRole('link', { name: 'Book a session' }).click();
  await ep.getByRole('heading', { name: 'Book a session with Maria Mentor' }).waitFor({ timeout: T });
  const slots = await people.mentee.client.ok('schedule.slots', { mentor: people.mentor.id });
  assert.ok(slots.slots.length >= 4);
  const first = ep.locator(`.slot-days button[data-start="${slots.slots[0].start}"]`);
  await first.waitFor({ timeout: T });
  assert.deepEqual(await unlabeledControls(ep), []);
  await shot(ep, 'schedule-02-slots');
  await ep.getByLabel('What would you like to talk about?').fill('Teaching ratios');
  await first.click();
  // a week grid: picking a slot asks for confirmation before booking
  await ep.getByRole('region', { name: 'Confirm your session' }).getByText('with Maria Mentor').waitFor({ timeout: T });
  await shot(ep, 'schedule-02b-confirm');
  await ep.getByRole('button', { name: 'Confirm booking' }).click();
  await ep.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: T });
  const row = ep.locator('.session-list li.session').first();
  await row.getByText('Mentor: Maria Mentor').waitFor({ timeout: T });
  await row.getByText('— Teaching ratios').waitFor({ timeout: T });
  const mine = await people.mentee.client.ok('schedule.mine');
  const b = mine.upcoming[0];
  assert.equal(b.start, slots.slots[0].start);
  assert.equal(b.topic, 'Teaching ratios');
  // the join button exists but is not lit days ahead; the .ics link downloads the calendar
  assert.equal(await row.getByRole('button', { name: /the session with Maria Mentor$/ }).isDisabled(), true);
  const href = await row.getByRole('link', { name: 'Add to calendar (.ics)' }).getAttribute('href');
  assert.match(href, new RegExp(`^/ics/${b.id}\\.ics\\?token=[0-9a-f]{64}$`));
  const res = await fetch(new URL(href, stack.url));
  assert.equal(res.status, 200);
  assert.match(await res.text(), /BEGIN:VCALENDAR/);
  await shot(ep, 'schedule-03-my-sessions');
  // moving it to the next slot: the picker in reschedule mode, then My sessions shows the new time
  await row.getByRole('link', { name: 'Reschedule the session with Maria Mentor' }).click();
  await ep.getByRole('heading', { name: 'Move your session with Maria Mentor' }).waitFor({ timeout: T });
  await ep.locator(`.slot-days button[data-start="${slots.slots[1].start}"]`).click();
  await ep.getByRole('button', { name: 'Confirm the move' }).click();
  await ep.locator(`li.session[data-start="${slots.slots[1].start}"]`).waitFor({ timeout: T });
  const moved = (await people.mentee.client.ok('schedule.mine')).upcoming.find((x) => x.id === b.id);
  assert.equal(moved.start, slots.slots[1].start);
  assert.equal(moved.sequence, 1);

  // notes of the pair, written by the mentee and seen by the mentor
  await row.getByRole('link', { name: 'Notes' }).click();
  await ep.getByRole('heading', { name: 'Mentoring notes with Maria Mentor' }).waitFor({ timeout: T });
  await ep.getByLabel('Kind', { exact: true }).selectOption('goal');
  await ep.getByLabel('Text', { exact: true }).fill('Plan three lessons on ratio tables');
  await ep.getByRole('button', { name: 'Add', exact: true }).click();
  await ep.getByText('Plan three lessons on ratio tables').waitFor({ timeout: T });
  await mp.goto(`${stack.url}#/sessions/notes/${people.mentee.id}`);
  await mp.getByText('Plan three lessons on ratio tables').waitFor({ timeout: T });
  await mp.locator('.session-list li.session').getByText('Mentee: Ezra Mentee').waitFor({ timeout: T });
  assert.deepEqual(mp.exceptions, []);
  assert.deepEqual(ep.exceptions, []);
});

// One weekly window holding exactly one 30-minute slot that starts 1–2 minutes from now, in a zone where
// that window does not cross midnight (UTC, or UTC+6 near midnight UTC).
function windowStartingSoon() {
  const start = Math.ceil(Date.now() / 60000) * 60 + 60; // unix s, a whole minute at least 60 s ahead
  for (const [tz, offsetH] of [['UTC', 0], ['Etc/GMT-6', 6]]) {
    const local = new Date((start + offsetH * 3600) * 1000);
    const minutes = local.getUTCHours() * 60 + local.getUTCMinutes();
    if (minutes + 30 > 24 * 60) continue;
    const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][local.getUTCDay()];
    return { start, rules: { tz, windows: [{ day, start: hhmm(minutes), end: hhmm(minutes + 30) }],
      slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 0, max_ahead_days: 30 } };
  }
  throw new Error('no zone fits');
}

test('the mentoring journey: a session booked to start now; both join its room when it opens and see each other', async () => {
  const { start, rules } = windowStartingSoon();
  await people.mentor.client.ok('schedule.availability.set', rules); // the editor itself is driven above
  // the mentee books the slot in the slot picker (relay-only media: ?relay=1)
  const { page: ep } = await newUser(browser);
  await ep.context().addInitScript((token) => { localStorage.setItem('staffroom.token', token); }, people.mentee.token);
  await ep.goto(`${stack.url}?relay=1#/book/${people.mentor.id}`);
  await ep.getByRole('heading', { name: 'Book a session with Maria Mentor' }).waitFor({ timeout: T });
  await ep.getByLabel('What would you like to talk about?').fill('First lesson observation');
  await ep.locator(`.slot-days button[data-start="${start}"]`).click();
  await ep.getByRole('button', { name: 'Confirm booking' }).click();
  await ep.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: T });
  const row = ep.locator(`li.session[data-start="${start}"]`);
  await row.getByText('— First lesson observation').waitFor({ timeout: T });
  // the room is open already (from 5 minutes before the start): the join button is lit for both
  const { page: mp } = await newUser(browser);
  await mp.context().addInitScript((token) => { localStorage.setItem('staffroom.token', token); }, people.mentor.token);
  await mp.goto(`${stack.url}?relay=1#/sessions`);
  const mrow = mp.locator(`li.session[data-start="${start}"]`);
  const mjoin = mrow.getByRole('button', { name: /^Join now — the session with Ezra Mentee$/ });
  await mjoin.waitFor({ timeout: T });
  assert.equal(await mjoin.isEnabled(), true);
  // a reminder armed for "now" (an offset of as many seconds as are left before the start, so it is due
  // at once; the tick claims it like any other) shows on both pages; the mentee goes in first from her
  // reminder's "Join now"; the mentor sees her waiting, then joins
  const bid = await row.getAttribute('data-booking');
  const off = start - Math.floor(Date.now() / 1000) + 1;
  await redisCommand(stack.redis.port, ['ZADD', 'sched:reminders', String((start - off) * 1000), `${bid}|${off}`]);
  const minutes = Math.floor(off / 60); // what the reminder says: as many whole minutes as are left
  const text = `${minutes ? `starts in ${minutes} minute${minutes === 1 ? '' : 's'}` : 'starts now'} — First lesson observation.`;
  await mp.getByRole('alert').filter({ hasText: 'Your session with Ezra Mentee' }).filter({ hasText: text }).waitFor({ timeout: T });
  const reminder = ep.getByRole('alert').filter({ hasText: 'Your session with Maria Mentor' }).filter({ hasText: text });
  await reminder.waitFor({ timeout: T });
  await shot(ep, 'schedule-04-reminder');
  await reminder.getByRole('link', { name: 'Join now' }).click();
  await join(ep);
  await ep.getByRole('region', { name: 'Room Session with Maria Mentor' }).waitFor({ timeout: T });
  await mrow.getByText('Ezra Mentee is in the room').waitFor({ timeout: T });
  await shot(mp, 'schedule-05-mentee-waiting');
  const t0 = Date.now();
  await mjoin.click();
  await join(mp);
  await mp.getByRole('region', { name: 'Room Session with Ezra Mentee' }).waitFor({ timeout: T });
  const [fm, fe] = await Promise.all([firstFrames(mp, 1, t0, 30000), firstFrames(ep, 1, t0, 30000)]);
  for (const st of [...fm.stats, ...fe.stats]) {
    assert.equal(st.local, 'relay', JSON.stringify(st));
    assert.equal(st.remote, 'relay', JSON.stringify(st));
  }
  console.log(`# session room: mentor's join click → first decoded frame: mentor ${fm.at} ms, mentee ${fe.at} ms`);
  await shot(mp, 'schedule-06-session-mentor');
  await shot(ep, 'schedule-07-session-mentee');
  // the mentor leaves: the mentee's tile of her goes, the mentee stays inside
  await mp.getByRole('button', { name: 'Leave room' }).click();
  await ep.waitForFunction(() => window.staffroomPeers.size === 0, null, { timeout: T });
  assert.equal(await ep.getByRole('region', { name: 'Room Session with Maria Mentor' }).count(), 1);
  assert.deepEqual(mp.exceptions, []);
  assert.deepEqual(ep.exceptions, []);
});
