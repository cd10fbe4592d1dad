// app.test.mjs — the web app as teachers see it (issue 11), in Debian's Chromium against real staffroom-signal +
// Redis on loopback. One browser; Ada at desktop size (1280×860, browser zone America/New_York) and Cy on a
// phone (375×667, Chromium's mobile emulation: isMobile + hasTouch); the admin and Bob (an expert) act over
// the protocol where their pages are not the point.
//   1. desktop: sign-up takes the browser's time zone; the circle page is an app — rail (my circles with
//      unread counts, channels, rooms), conversation (messages grouped by author and day, avatars, "New
//      messages" marker), members panel (user names, role badges; collapsible); @mention autocomplete;
//      unread counts in the rail; toasts go by themselves and never cover the composer.
//   2. help with nobody on duty: said at once, with the three ways on.
//   3. phone: the rail is a drawer opened by "Menu", the members a sheet, nothing wider than the screen.
//   4. a moderator gives a role from the member list; the member sees the badge change live.
//   5. read markers on the server: unread survives a reload, reading clears it on another device; a mention
//      while the tab is hidden makes a browser notification.
//   6. roles and moderation: a member asks to become an expert, a moderator approves from the live queue; a
//      report, the message removed (a tombstone for everyone); the audit log.
//   7. a removed member loses access at once on every device; a suspended account is told and cannot sign in
//      until an admin lifts the suspension from the audit log.
//   axe-core: 0 WCAG 2.1 A/AA violations on every view at both sizes (checked along the way).
// Screenshots: build/test-artifacts/app-*.png.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot, axeViolations, withPageState } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';
import { prejoin } from '../lib/callstage.mjs';

const T = 15000;
const CIRCLE = 'Statistics for adults';
let h; let stack; let browser; let admin; let bob; let circleId; let helpChannel; let generalChannel; let adaName;
const pages = {}; // name → page
// Every step says, when it fails, what each page showed (tests/lib/browser.mjs).
const test = (name, fn) => nodeTest(name, () => withPageState(pages, fn));
const t0 = Date.now();

before(async () => {
  h = new Harness('e2e-app');
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100'] });
  await stack.createAdmin('admin', 'admin password 123');
  admin = await connect(stack.wsUrl);
  await admin.ok('auth.login', { name: 'admin', password: 'admin password 123' });
  const created = await admin.ok('circle.create', { name: CIRCLE, subject: 'Statistics', phase: 'further',
    description: 'Evening classes, adult learners.' });
  circleId = created.circle.id;
  const channels = (await admin.ok('channel.list', { circle: circleId })).channels;
  generalChannel = channels.find((c) => c.name === 'general').id;
  helpChannel = channels.find((c) => c.name === 'help').id;
  bob = await connect(stack.wsUrl);
  const reg = await registerUser(bob, uniqueName('bob'), 'password 12345', { display_name: 'Bob Brown' });
  bob.user = reg.user;
  await bob.ok('profile.update', { tz: 'Europe/London', subjects: ['Statistics', 'Maths'] });
  await bob.ok('circle.join', { circle: circleId });
  await admin.ok('circle.set_role', { circle: circleId, user: reg.user.id, role: 'expert' });
  // a second circle of Bob's that Ada is not in: only the admin sees it on his profile card
  const second = (await admin.ok('circle.create', { name: 'Maths night school', subject: 'Mathematics', phase: 'further' })).circle.id;
  await bob.ok('circle.join', { circle: second });
  browser = await launchBrowser();
});

after(async () => {
  for (const [name, p] of Object.entries(pages)) {
    if (p.exceptions.length) console.log(`# ${name} page exceptions: ${p.exceptions.join(' | ')}`);
  }
  await browser?.close();
  await admin?.close();
  await bob?.close();
  await h?.close();
  console.log(`# app.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

async function open(name, opts) {
  const { page } = await newUser(browser, { ...opts, contextOptions: { bypassCSP: true, ...(opts?.contextOptions || {}) } });
  pages[name] = page;
  await page.goto(stack.url);
  return page;
}

async function signUp(page, name, display) {
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Display name (shown to others)').fill(display);
  await page.getByLabel('Password').fill('password 12345');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
}

async function joinAndOpen(page) {
  const card = page.locator('.circle-card').filter({ has: page.getByRole('heading', { name: CIRCLE, exact: true }) });
  await card.getByRole('button', { name: `Join ${CIRCLE}` }).click();
  await card.getByRole('link', { name: `Open ${CIRCLE}` }).click();
  await page.getByRole('heading', { name: CIRCLE, level: 1 }).waitFor({ timeout: T });
  await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
}

async function noAxeViolations(page, view) {
  const bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on ${view}:\n${bad.join('\n')}`);
}

// Rectangles of a and b do not intersect.
async function apart(page, a, b) {
  const [ra, rb] = [await page.locator(a).boundingBox(), await page.locator(b).boundingBox()];
  if (!ra || !rb) return true;
  return ra.x + ra.width <= rb.x || rb.x + rb.width <= ra.x || ra.y + ra.height <= rb.y || rb.y + rb.height <= ra.y;
}

const log = (page) => page.getByRole('log');
const msg = (page, text) => log(page).locator('li.msg').filter({ has: page.locator('.msg-text', { hasText: text }) });

test('1. desktop: the circle is an app — rail, grouped conversation, members panel, mentions, unread, toasts', async () => {
  const ada = await open('ada', { contextOptions: { timezoneId: 'America/New_York' } });
  await ada.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await noAxeViolations(ada, 'sign-in (desktop)');
  await shot(ada, 'app-01-signin-desktop');
  await ada.getByRole('link', { name: 'Create an account' }).click();
  await ada.getByRole('heading', { name: 'Create your Staffroom account' }).waitFor({ timeout: T });
  await noAxeViolations(ada, 'sign-up (desktop)');
  await ada.getByRole('link', { name: 'Sign in' }).click();
  adaName = uniqueName('ada');
  await signUp(ada, adaName, 'Ada Lovelace');
  await noAxeViolations(ada, 'directory (desktop)');
  await shot(ada, 'app-02-directory-desktop');

  // The time zone came from the browser.
  await ada.getByRole('link', { name: 'Profile' }).click();
  await ada.getByRole('heading', { name: 'Your profile' }).waitFor({ timeout: T });
  assert.equal(await ada.getByLabel('Time zone').inputValue(), 'America/New_York');
  await noAxeViolations(ada, 'profile (desktop)');
  await shot(ada, 'app-03-profile-desktop');
  await ada.getByRole('link', { name: 'Circles', exact: true }).click();
  await joinAndOpen(ada);

  // Rail: my circles, the channels, the rooms.
  const rail = ada.getByRole('navigation', { name: 'Circles, channels and rooms' });
  await rail.getByRole('list', { name: 'Your circles' }).getByRole('link', { name: new RegExp(CIRCLE) }).waitFor({ timeout: T });
  await rail.getByRole('link', { name: '# help' }).waitFor({ timeout: T });
  await rail.getByRole('heading', { name: 'Drop-in rooms' }).waitFor({ timeout: T });
  // Joining a room opens the pre-join screen: preview, microphone level, pickers; Cancel joins nothing.
  await rail.getByRole('button', { name: 'Join Drop-in room' }).click();
  const preview = await prejoin(ada);
  await preview.getByRole('combobox', { name: 'Camera' }).waitFor({ timeout: T });
  await ada.waitForFunction(() => document.querySelector('.prejoin-preview video')?.readyState >= 2, null, { timeout: T });
  await noAxeViolations(ada, 'pre-join screen (desktop)');
  await shot(ada, 'app-04a-prejoin');
  await preview.getByRole('button', { name: 'Cancel' }).click();
  await preview.waitFor({ state: 'detached', timeout: T });
  assert.equal(await rail.getByRole('region', { name: 'Room Drop-in room' }).count(), 0, 'cancelled: not in the room');
  assert.equal(await rail.getByRole('button', { name: 'Join Drop-in room' }).isEnabled(), true);
  // Members panel on the right: user names and role badges.
  const side = ada.getByRole('complementary', { name: 'Members and mentoring' });
  const bobRow = side.locator(`.member[data-user="${bob.user.id}"]`);
  await bobRow.getByText(`@${bob.user.name}`).waitFor({ timeout: T });
  assert.equal((await bobRow.locator('.role').textContent()).trim(), 'expert');

  // Bob writes twice, then Ada: two groups; the second of Bob's messages has no visible header.
  await bob.ok('chat.send', { channel: generalChannel, text: 'Evening all — anyone teaching regression tonight?' });
  await bob.ok('chat.send', { channel: generalChannel, text: 'I have a worked example with house prices.' });
  await msg(ada, 'house prices').waitFor({ timeout: T });
  assert.equal(await msg(ada, 'regression tonight').evaluate((li) => li.classList.contains('first')), true);
  assert.equal(await msg(ada, 'house prices').evaluate((li) => li.classList.contains('first')), false);
  assert.equal((await msg(ada, 'regression tonight').locator('.avatar').textContent()).trim(), 'BB');
  await log(ada).locator('li.day-sep', { hasText: 'Today' }).waitFor({ timeout: T });

  // @mention autocomplete: "@Bo" offers Bob by display name; Enter inserts @username.
  const box = ada.getByLabel('Message #general');
  await box.fill('Thanks ');
  await box.pressSequentially('@Bo');
  const option = ada.getByRole('listbox', { name: 'People to mention' }).getByRole('option', { name: /Bob Brown/ });
  await option.waitFor({ timeout: T });
  await shot(ada, 'app-04-mention-autocomplete');
  await box.press('Enter');
  assert.equal(await box.inputValue(), `Thanks @${bob.user.name} `);
  await box.pressSequentially('yes please!');
  await box.press('Enter');
  await msg(ada, 'yes please!').waitFor({ timeout: T });
  await bob.waitEvent('chat.mention', (e) => e.message?.text?.includes('yes please!'));

  // Profile cards: a member's name (or a message's author) opens one: @name, role in the circle, local time
  // in their zone, subjects, Message / Call; Escape closes it and focus goes back to the name.
  await bobRow.getByRole('button', { name: 'Bob Brown', exact: true }).click();
  const card = ada.getByRole('dialog', { name: 'Profile of Bob Brown' });
  await card.getByText('Teaches Statistics, Maths').waitFor({ timeout: T });
  await card.getByText(`@${bob.user.name}`).waitFor({ timeout: T });
  assert.match(await card.locator('.card-facts').textContent(), new RegExp(`expert in ${CIRCLE}`));
  assert.equal(await card.locator('.card-circle').count(), 1, 'only the circles Ada shares with Bob');
  assert.match(await card.locator('.local-time').textContent(), /^Local time .+ \(Europe\/London\)$/);
  assert.equal(await card.getByRole('button', { name: 'Call' }).count(), 1);
  assert.equal(await card.getByRole('combobox').count(), 0, 'a member gets no role control');
  await noAxeViolations(ada, 'profile card (desktop)');
  await shot(ada, 'app-04b-profile-card');
  await ada.keyboard.press('Escape');
  await card.waitFor({ state: 'detached', timeout: T });
  assert.equal(await ada.evaluate(() => document.activeElement?.textContent), 'Bob Brown', 'focus back on the name');
  await msg(ada, 'regression tonight').getByRole('button', { name: 'Bob Brown', exact: true }).click();
  await card.getByRole('button', { name: 'Message' }).click();
  await card.waitFor({ state: 'detached', timeout: T });
  assert.equal(await box.inputValue(), `@${bob.user.name} `, 'Message starts an @mention in the composer');
  assert.equal(await ada.evaluate(() => document.activeElement?.classList.contains('composer-input')), true);
  await box.fill('');

  // Unread: a message in #help shows in the rail as "(1 new)" and on the circle as a count.
  await bob.ok('chat.send', { channel: helpChannel, text: 'Posted the example in here too.' });
  await rail.getByRole('link', { name: '# help (1 new)' }).waitFor({ timeout: T });
  await rail.getByRole('list', { name: 'Your circles' }).getByText('1 unread').waitFor({ timeout: T });

  // A toast (an error here) goes by itself and never covers the composer.
  await ada.evaluate(() => import('./toast.js').then((m) => m.toast('A test message for the toast strip.', { kind: 'error', timeoutMs: 1500 })));
  const toast = ada.getByRole('alert').filter({ hasText: 'A test message for the toast strip.' });
  await toast.waitFor({ timeout: T });
  assert.ok(await apart(ada, '.toast', '.composer'), 'the toast does not cover the composer');
  await noAxeViolations(ada, 'circle (desktop)');
  await shot(ada, 'app-05-circle-desktop');
  await toast.waitFor({ state: 'detached', timeout: T });

  // The members panel folds away and comes back.
  await ada.getByRole('button', { name: 'Hide members' }).click();
  await side.waitFor({ state: 'hidden', timeout: T });
  await ada.getByRole('button', { name: 'Members' }).click();
  await side.waitFor({ timeout: T });

  // Opening #help clears its count.
  await rail.getByRole('link', { name: '# help (1 new)' }).click();
  await ada.getByRole('heading', { name: '# help' }).waitFor({ timeout: T });
  await rail.getByRole('link', { name: '# help', exact: true }).waitFor({ timeout: T });
});

test('2. nobody on duty: the help panel says so at once and offers what can be done now', async () => {
  const ada = pages.ada;
  await ada.getByRole('button', { name: 'Get help now' }).click();
  await ada.getByLabel('What do you need help with?').fill('Residual plots for beginners');
  await ada.getByRole('button', { name: 'Ask the experts' }).click();
  const card = ada.locator('.help-nobody');
  await card.getByText('No expert is on duty right now.').waitFor({ timeout: 3000 }); // at once, not after a timeout
  // Bob (an expert) is online but off duty: he can be asked.
  await card.getByRole('button', { name: 'Ask the expert online' }).waitFor({ timeout: T });
  await card.getByRole('button', { name: 'Book the next free mentor slot' }).click();
  await card.getByText('No mentor of this circle has a free slot').waitFor({ timeout: T });
  assert.equal(await card.getByRole('button', { name: 'Post it in #help' }).count(), 1);
  await noAxeViolations(ada, 'help, nobody on duty (desktop)');
  await shot(ada, 'app-06-help-nobody-on-duty');
  await card.getByRole('button', { name: 'Back' }).click();
});

test('3. phone (375×667): navigation in a drawer, members in a sheet, nothing wider than the screen', async () => {
  const cy = await open('cy', { phone: true });
  await cy.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await noAxeViolations(cy, 'sign-in (phone)');
  await shot(cy, 'app-10-signin-phone');
  await signUp(cy, uniqueName('cy'), 'Cy Young');
  await noAxeViolations(cy, 'directory (phone)');
  await shot(cy, 'app-11-directory-phone');
  await joinAndOpen(cy);
  const rail = cy.getByRole('navigation', { name: 'Circles, channels and rooms' });
  assert.equal(await rail.isVisible(), false, 'the rail is folded away on a phone');
  const side = cy.getByRole('complementary', { name: 'Members and mentoring' });
  assert.equal(await side.isVisible(), false, 'the members panel too');
  assert.equal(await cy.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, 'no sideways scrolling');
  await cy.getByLabel('Message #general').waitFor({ timeout: T });
  await noAxeViolations(cy, 'circle (phone)');
  await shot(cy, 'app-12-circle-phone');

  await cy.getByRole('button', { name: '☰ Menu' }).click();
  await rail.waitFor({ timeout: T });
  await noAxeViolations(cy, 'drawer (phone)');
  await shot(cy, 'app-13-drawer-phone');
  await rail.getByRole('link', { name: /# help/ }).click();
  await cy.getByRole('heading', { name: '# help' }).waitFor({ timeout: T });
  await rail.waitFor({ state: 'hidden', timeout: T });

  await cy.getByRole('button', { name: 'Members' }).click();
  await side.getByText(`@${bob.user.name}`).waitFor({ timeout: T });
  await noAxeViolations(cy, 'members sheet (phone)');
  await shot(cy, 'app-14-members-phone');
  await side.getByRole('button', { name: 'Close members' }).click();
  await side.waitFor({ state: 'hidden', timeout: T });

  await cy.getByRole('link', { name: 'Profile' }).click();
  await cy.getByRole('heading', { name: 'Your profile' }).waitFor({ timeout: T });
  assert.equal(await cy.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, 'profile: no sideways scrolling');
  await noAxeViolations(cy, 'profile (phone)');
  await shot(cy, 'app-15-profile-phone');
  await cy.getByRole('link', { name: 'Sessions', exact: true }).click();
  await cy.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: T });
  await noAxeViolations(cy, 'sessions (phone)');
  await shot(cy, 'app-16-sessions-phone');
});

test('4. a moderator gives a role from the member list; everyone sees the badge change', async () => {
  // The admin's page (desktop), on the circle.
  const ad = await open('admin');
  await ad.getByLabel('User name').fill('admin');
  await ad.getByLabel('Password').fill('admin password 123');
  await ad.getByRole('button', { name: 'Sign in' }).click();
  await ad.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
  await ad.goto(`${stack.url}#/circle/${circleId}`);
  await ad.getByRole('heading', { name: CIRCLE, level: 1 }).waitFor({ timeout: T });
  const row = ad.locator(`.member[data-user="${bob.user.id}"]`);
  await row.getByText('Manage').click();
  await row.getByLabel('Role of Bob Brown').selectOption('mentor');
  await ad.getByRole('status').filter({ hasText: 'Bob Brown is now a mentor.' }).waitFor({ timeout: T });
  await pages.ada.locator(`.member[data-user="${bob.user.id}"] .role`, { hasText: 'mentor' }).waitFor({ timeout: T });
  // Bob's profile card, seen by an admin: his role in every circle (circle.shared), and the role select
  await row.getByRole('button', { name: 'Bob Brown', exact: true }).click();
  const card = ad.getByRole('dialog', { name: 'Profile of Bob Brown' });
  await card.locator('.card-circle').nth(1).waitFor({ timeout: T });
  assert.deepEqual((await card.locator('.card-circle').allTextContents()).map((x) => x.trim()),
    ['member in Maths night school', `mentor in ${CIRCLE}`]);
  assert.equal(await card.getByLabel('Role in this circle').inputValue(), 'mentor');
  await noAxeViolations(ad, 'profile card as moderator (desktop)');
  await shot(ad, 'app-21-profile-card-moderator');
  await card.getByRole('button', { name: 'Close' }).click();
  await noAxeViolations(ad, 'circle as moderator (desktop)');
  await shot(ad, 'app-20-moderator-members');

  // Bob, now a mentor, publishes availability: the slot picker is a week grid with a confirmation step.
  await bob.ok('schedule.availability.set', { tz: 'Europe/London', windows: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
    .map((day) => ({ day, start: '09:00', end: '11:00' })), slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 0, max_ahead_days: 14 });
  for (const [who, size] of [['ada', 'desktop'], ['cy', 'phone']]) {
    const p = pages[who];
    await p.goto(`${stack.url}#/book/${bob.user.id}`);
    await p.getByRole('heading', { name: 'Book a session with Bob Brown' }).waitFor({ timeout: T });
    await p.locator('.week-grid button.slot').first().click();
    await p.getByRole('region', { name: 'Confirm your session' }).getByRole('button', { name: 'Confirm booking' }).waitFor({ timeout: T });
    await noAxeViolations(p, `slot picker (${size})`);
    await shot(p, `app-${size === 'phone' ? '17' : '07'}-slot-picker-${size}`);
  }
  // Ada's zone is the browser's (America/New_York): Bob's 09:00 London is 04:00 in New York (winter).
  assert.match(await pages.ada.locator('.week-grid button.slot').first().textContent(), /^0?4:00/);
  await pages.ada.goto(`${stack.url}#/circle/${circleId}`);
  await pages.ada.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await ad.getByRole('link', { name: 'Sessions', exact: true }).click();
  await ad.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: T });
  await noAxeViolations(ad, 'sessions (desktop)');
});

test('5. read markers live on the server: unread survives a reload, reading clears it on every device', async () => {
  const ada = pages.ada;
  // A second device of Ada's (a bare client with her token): it hears her read markers move.
  const token = await ada.evaluate(() => localStorage.getItem('staffroom.token'));
  const adaDevice = await connect(stack.wsUrl);
  await adaDevice.ok('auth.resume', { token });
  await ada.getByRole('navigation', { name: 'Circles, channels and rooms' }).getByRole('link', { name: /# general/ }).click();
  await ada.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await bob.ok('chat.send', { channel: helpChannel, text: 'One more for the help channel.' });
  const rail = ada.getByRole('navigation', { name: 'Circles, channels and rooms' });
  await rail.getByRole('link', { name: '# help (1 new)' }).waitFor({ timeout: T });
  // For the notification check below: notifications allowed, and a switch that makes the tab look hidden
  // (a headless page is always "visible").
  await ada.context().grantPermissions(['notifications'], { origin: stack.url.replace(/\/$/, '') });
  await ada.context().addInitScript(() => {
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get() { return window.testHidden ? 'hidden' : 'visible'; } });
  });
  await ada.reload();
  await ada.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await rail.getByRole('link', { name: '# help (1 new)' }).waitFor({ timeout: T }); // from unread.counts
  await rail.getByRole('link', { name: '# help (1 new)' }).click();
  await ada.getByRole('heading', { name: '# help' }).waitFor({ timeout: T });
  await log(ada).locator('li.unread-sep', { hasText: 'New messages' }).waitFor({ timeout: T });
  const read = await adaDevice.waitEvent('channel.read', (e) => e.channel === helpChannel, T);
  assert.equal(read.circle, circleId);
  const counts = await adaDevice.ok('unread.counts', {});
  assert.equal(counts.circles.find((c) => c.circle === circleId).unread, 0, 'nothing unread once seen');
  await adaDevice.close();

  // A mention while the tab is hidden: a browser notification (and a chime).
  await ada.evaluate(() => { window.testHidden = true; });
  await bob.ok('chat.send', { channel: generalChannel, text: `@${adaName} are you still there?` });
  await ada.waitForFunction(() => window.staffroomNotified?.includes('mention'), null, { timeout: T });
  await ada.evaluate(() => { window.testHidden = false; });
});

test('6. roles and moderation: ask for a role, approve it; report a message, remove it; audit log', async () => {
  const ad = pages.admin; const ada = pages.ada;
  await ad.goto(`${stack.url}#/circle/${circleId}/${generalChannel}`);
  await ad.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  // Ada asks to become an expert; the moderator sees it live in the queue and approves.
  await ada.getByText('Ask to become an expert or a mentor').click();
  const form = ada.getByRole('form', { name: 'Ask for a role' });
  await form.getByLabel('Role').selectOption('expert');
  await form.getByLabel('Why you (optional)').fill('I teach evening statistics.');
  await form.getByRole('button', { name: 'Send request' }).click();
  await form.getByText('Request sent.').waitFor({ timeout: T });
  const queue = ad.getByRole('region', { name: 'Moderation queue' });
  await queue.getByRole('list', { name: 'Role requests' }).getByText('I teach evening statistics.').waitFor({ timeout: T });
  await shot(ad, 'app-21-moderation-queue');
  await queue.getByRole('button', { name: 'Approve Ada Lovelace as expert' }).click();
  await ada.getByRole('status').filter({ hasText: /You are now an expert/ }).waitFor({ timeout: T });
  await ada.locator('.member .who', { hasText: '(you)' }).locator('xpath=..').locator('.role', { hasText: 'expert' }).waitFor({ timeout: T });

  // Ada reports Bob's message; the moderator removes it from the queue; Ada sees the tombstone.
  await ada.getByRole('navigation', { name: 'Circles, channels and rooms' }).getByRole('link', { name: /# general/ }).click();
  await msg(ada, 'house prices').waitFor({ timeout: T });
  await msg(ada, 'house prices').getByRole('button', { name: 'Report message by Bob Brown' }).click();
  await ada.getByLabel('Why should a moderator look at this?').fill('Off topic advertising');
  await ada.getByRole('button', { name: 'Send report' }).click();
  await ada.getByRole('status').filter({ hasText: 'The moderators will look at it.' }).waitFor({ timeout: T });
  const report = queue.getByRole('list', { name: 'Reported messages' }).locator('li', { hasText: 'Off topic advertising' });
  await report.waitFor({ timeout: T });
  await report.getByRole('button', { name: 'Remove message' }).click();
  await log(ada).getByText('Message removed by a moderator.').waitFor({ timeout: T });
  assert.equal(await msg(ada, 'house prices').count(), 0, 'the text is gone');

  // The audit log lists what was done, newest first.
  await ad.getByText('Audit log').click();
  const audit = ad.getByRole('list', { name: 'Audit log' });
  await audit.locator('li[data-action="message_removed"]').waitFor({ timeout: T });
  await audit.locator('li[data-action="role_request_decided"]').waitFor({ timeout: T });
  await noAxeViolations(ad, 'moderation queue and audit log (desktop)');
  await shot(ad, 'app-22-audit-log');
});

test('7. a removed member loses access at once on every device; a suspended account is signed out', async () => {
  const ad = pages.admin; const cy = pages.cy;
  await cy.goto(`${stack.url}#/circle/${circleId}`);
  await cy.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  const cyToken = await cy.evaluate(() => localStorage.getItem('staffroom.token'));
  const cyDevice = await connect(stack.wsUrl);
  const me = await cyDevice.ok('auth.resume', { token: cyToken });
  // The moderator removes Cy from the member list.
  const row = ad.locator(`.member[data-user="${me.user.id}"]`);
  await row.getByText('Manage').click();
  await row.getByRole('button', { name: 'Remove from circle' }).click();
  await row.getByRole('button', { name: 'Yes, remove Cy Young' }).click();
  await cy.getByRole('alert').filter({ hasText: 'A moderator removed you from this circle.' }).waitFor({ timeout: T });
  await cy.getByText('You are not a member of this circle yet.').waitFor({ timeout: T });
  const gone = await cyDevice.waitEvent('circle.membership', (e) => e.circle === circleId && e.status === 'none', T);
  assert.equal(gone.reason, 'removed');
  const refused = await cyDevice.request('chat.history', { channel: generalChannel });
  assert.equal(refused.code, 'forbidden', 'the other device lost access too');
  await noAxeViolations(cy, 'removed from the circle (phone)');
  await shot(cy, 'app-23-removed-phone');
  await cyDevice.close();

  // The admin suspends Bob: his connection is told and closed; he cannot sign in.
  const bobRow = ad.locator(`.member[data-user="${bob.user.id}"]`);
  await bobRow.getByText('Manage').click();
  await bobRow.getByRole('button', { name: 'Suspend account' }).click();
  await bob.waitEvent('auth.suspended', () => true, T);
  const again = await connect(stack.wsUrl);
  const login = await again.request('auth.login', { name: bob.user.name, password: 'password 12345' });
  assert.equal(login.code, 'suspended');
  // The suspension is in the audit log, where the admin lifts it; Bob may sign in again.
  await ad.getByText('Audit log').click(); // closes the log opened earlier …
  await ad.getByText('Audit log').click(); // … and opens it fresh
  await ad.getByRole('button', { name: "Lift Bob Brown's suspension" }).click();
  await ad.getByRole('status').filter({ hasText: 'Bob Brown may sign in again.' }).waitFor({ timeout: T });
  assert.equal((await again.request('auth.login', { name: bob.user.name, password: 'password 12345' })).type, 'ok');
  await again.close();
});

// Steps 8 and 9: Bob signed in over the protocol, the server's count of Ada's unread in #help (read by a
// bare device of hers), and a second tab of Ada's (name: its key in `pages`) with her token, not yet opened.
async function secondTab(name) {
  const token = await pages.ada.evaluate(() => localStorage.getItem('staffroom.token'));
  const b = await connect(stack.wsUrl);
  await b.ok('auth.login', { name: bob.user.name, password: 'password 12345' });
  const adaDevice = await connect(stack.wsUrl);
  await adaDevice.ok('auth.resume', { token });
  const helpUnread = async () => (await adaDevice.ok('unread.counts', {})).circles
    .find((c) => c.circle === circleId).channels.find((c) => c.channel === helpChannel).unread;
  const before = await helpUnread();
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  pages[name] = page;
  await page.addInitScript((t) => localStorage.setItem('staffroom.token', t), token);
  const done = async () => {
    await page.context().close();
    delete pages[name];
    await adaDevice.close();
    await b.close();
  };
  return { b, helpUnread, before, page, done };
}

test('8. a message that overtakes the unread snapshot is still counted in the rail', async () => {
  // unread.counts answers with a snapshot; a message stored just after it was taken can reach the page (as
  // a live event) before the snapshot does. Ada's second tab holds the snapshot back until such a message
  // has been shown live, then lets it through: the stale snapshot must not wipe the live count.
  const { b, helpUnread, before, page, done } = await secondTab('ada2');
  const held = { id: null, reply: null, release: null, asked: 0 };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      try {
        const req = JSON.parse(m);
        if (req.type === 'unread.counts') { held.asked += 1; if (held.asked === 1) held.id = req.id; }
      } catch { /* not JSON: passed on as it is */ }
      server.send(m);
    });
    server.onMessage((m) => {
      let msg = null;
      try { msg = JSON.parse(m); } catch { /* passed on */ }
      if (msg && held.id !== null && msg.id === held.id && held.reply === null) {
        held.reply = m;
        held.release = () => ws.send(m);
        return;
      }
      ws.send(m);
    });
  });
  await page.goto(`${stack.url}#/circle/${circleId}/${generalChannel}`);
  await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await eventually(() => held.reply !== null, { timeoutMs: T, what: "the rail's first unread.counts answer (held back)" });
  const rail = page.getByRole('navigation', { name: 'Circles, channels and rooms' });
  await b.ok('chat.send', { channel: helpChannel, text: 'Overtaking the snapshot.' });
  await rail.getByRole('link', { name: `# help (${before + 1} new)` }).waitFor({ timeout: T }); // live
  held.release(); // the stale snapshot (taken before that message) arrives now …
  await b.ok('chat.send', { channel: helpChannel, text: 'And one after it.' }); // … and this one after it
  await rail.getByRole('link', { name: `# help (${before + 2} new)` }).waitFor({ timeout: T });
  assert.equal(await helpUnread(), before + 2, 'the server counts the same');
  assert.deepEqual(page.exceptions, []);
  await done();
});

test('9. a message the unread snapshot already counted is not counted again when its event comes after', async () => {
  // The other order: the answer to unread.counts counts a message whose chat.message event reaches the page
  // only after that answer. The page's unread.counts request is held until Bob's message is stored and its
  // event held; the answer (counting it) goes through, then the event.
  const { b, helpUnread, before, page, done } = await secondTab('ada3');
  const held = { request: null, toServer: null, event: null, toPage: null, answered: false, id: null };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    held.toServer = (m) => server.send(m);
    held.toPage = (m) => ws.send(m);
    ws.onMessage((m) => {
      let req = null;
      try { req = JSON.parse(m); } catch { /* passed on */ }
      if (req?.type === 'unread.counts' && held.id === null) { held.id = req.id; held.request = m; return; }
      server.send(m);
    });
    server.onMessage((m) => {
      let msg = null;
      try { msg = JSON.parse(m); } catch { /* passed on */ }
      if (msg?.type === 'chat.message' && msg.message?.text === 'Counted by the answer.') { held.event = m; return; }
      if (msg && msg.id === held.id) held.answered = true;
      ws.send(m);
    });
  });
  await page.goto(`${stack.url}#/circle/${circleId}/${generalChannel}`);
  await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await eventually(() => held.request !== null, { timeoutMs: T, what: "the rail's unread.counts request (held back)" });
  await b.ok('chat.send', { channel: helpChannel, text: 'Counted by the answer.' });
  await eventually(() => held.event !== null, { timeoutMs: T, what: "the message's event (held back)" });
  held.toServer(held.request); // the answer counts the message …
  await eventually(() => held.answered, { timeoutMs: T, what: 'the answer to unread.counts' });
  const rail = page.getByRole('navigation', { name: 'Circles, channels and rooms' });
  await rail.getByRole('link', { name: `# help (${before + 1} new)` }).waitFor({ timeout: T });
  held.toPage(held.event); // … and its event comes after it
  // a message in the open channel after it: once the page shows it, it has read the held event (one socket)
  await b.ok('chat.send', { channel: generalChannel, text: 'After the held event.' });
  await msg(page, 'After the held event.').waitFor({ timeout: T });
  assert.equal(await rail.getByRole('link', { name: /# help/ }).textContent(), `# help (${before + 1} new)`,
    'the event of a message the answer counted is not counted again');
  assert.equal(await helpUnread(), before + 1, 'the server counts the same');
  assert.deepEqual(page.exceptions, []);
  await done();
});
