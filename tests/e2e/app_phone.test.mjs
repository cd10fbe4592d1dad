// app_phone.test.mjs — the main journeys of a teacher on a phone (Chromium's mobile emulation, 375×667,
// touch), against real staffroom-signal + Redis and staffroom-relay on 127.0.0.1 (calls relay-only):
//   1. sign up, browse the circles and join one; the circle with its drawer and members sheet
//   2. chat with @mention autocomplete; a profile card (a bottom sheet on a phone)
//   3. ask for help: the pre-join screen, an expert (desktop) accepts, the call fits the phone
//   4. book a mentor's slot: week grid, confirmation, My sessions
//   5. join the drop-in room through the pre-join screen; the room fits the phone
// Every view passes axe-core (WCAG 2.1 A/AA) with 0 violations at phone size; the views only reached here
// (in a call, in a room, pre-join, profile card) also at desktop size (the expert's page). A screenshot of
// every view: build/test-artifacts/phone-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { newUser, shot, axeViolations } from '../lib/browser.mjs';
import { connect, uniqueName } from '../lib/client.mjs';
import { callStage, prejoin, join } from '../lib/callstage.mjs';

const T = 20000;
const CIRCLE = 'Phonics on the go';
let h, stage, ada, bob;

before(async () => {
  h = new Harness('e2e-app-phone');
  stage = await callStage(h, { circle: CIRCLE, people: [['bob', 'expert'], ['maria', 'mentor']],
    args: ['--room-media', 'mesh'] });
  // Maria publishes availability every day (the slot picker needs free slots).
  const maria = await connect(stage.stack.wsUrl);
  await maria.ok('auth.resume', { token: stage.u.maria.token });
  await maria.ok('schedule.availability.set', { tz: 'Europe/London', windows: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
    .map((day) => ({ day, start: '09:00', end: '17:00' })), slot_minutes: 30, buffer_minutes: 0, min_notice_minutes: 0, max_ahead_days: 14 });
  await maria.close();
  ({ page: ada } = await newUser(stage.browser, { phone: true, contextOptions: { bypassCSP: true, timezoneId: 'Europe/Paris' } }));
  ({ page: bob } = await newUser(stage.browser, { contextOptions: { bypassCSP: true } }));
  await bob.context().addInitScript((token) => { localStorage.setItem('staffroom.token', token); }, stage.u.bob.token);
});

after(async () => {
  for (const [n, p] of [['ada', ada], ['bob', bob]]) if (p?.exceptions?.length) console.log(`# ${n} page exceptions: ${p.exceptions.join(' | ')}`);
  await stage?.close();
  await h?.close();
});

async function noAxeViolations(page, view) {
  const bad = await axeViolations(page);
  assert.deepEqual(bad, [], `axe-core on ${view}:\n${bad.join('\n')}`);
}

// Nothing wider than the phone's screen; `sel` (if given) is fully on it.
async function fits(page, view, sel) {
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, `${view}: no sideways scrolling`);
  if (!sel) return;
  const box = await page.locator(sel).first().boundingBox();
  const vp = page.viewportSize();
  assert.ok(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= vp.width && box.y + box.height <= vp.height,
    `${view}: ${sel} is on the screen: ${JSON.stringify(box)}`);
}

// Every view: axe-core and a screenshot.
async function view(page, name, label) {
  await noAxeViolations(page, label);
  await shot(page, name);
}

const rail = () => ada.getByRole('navigation', { name: 'Circles, channels and rooms' });
async function openDrawer() {
  await ada.getByRole('button', { name: '☰ Menu' }).click();
  await rail().waitFor({ timeout: T });
}

test('1. phone: sign up, browse the circles, join one; drawer and members sheet', async () => {
  await ada.goto(`${stage.stack.url}?relay=1`);
  await ada.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await view(ada, 'phone-01-signin', 'sign-in (phone)');
  await ada.getByRole('link', { name: 'Create an account' }).click();
  await ada.getByLabel('User name').waitFor({ timeout: T });
  await view(ada, 'phone-02-signup', 'sign-up (phone)');
  await ada.getByLabel('User name').fill(uniqueName('ada'));
  await ada.getByLabel('Display name (shown to others)').fill('Ada Lovelace');
  await ada.getByLabel('Password').fill('password 12345');
  await ada.getByRole('button', { name: 'Create account' }).click();
  await ada.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
  const card = ada.locator('.circle-card').filter({ has: ada.getByRole('heading', { name: CIRCLE, exact: true }) });
  await card.waitFor({ timeout: T });
  await fits(ada, 'directory');
  await view(ada, 'phone-03-directory', 'directory (phone)');
  await card.getByRole('button', { name: `Join ${CIRCLE}` }).click();
  await card.getByRole('link', { name: `Open ${CIRCLE}` }).click();
  await ada.getByRole('heading', { name: CIRCLE, level: 1 }).waitFor({ timeout: T });
  await ada.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  assert.equal(await rail().isVisible(), false, 'the rail is a drawer, folded away');
  await fits(ada, 'circle', '.composer button[type=submit]');
  await view(ada, 'phone-04-circle', 'circle (phone)');
  await openDrawer();
  await rail().getByRole('link', { name: /# help/ }).waitFor({ timeout: T });
  await view(ada, 'phone-05-drawer', 'drawer (phone)');
  await ada.keyboard.press('Escape');
  await rail().waitFor({ state: 'hidden', timeout: T });
  const side = ada.getByRole('complementary', { name: 'Members and mentoring' });
  await ada.getByRole('button', { name: 'Members' }).click();
  await side.getByText(`@${stage.u.bob.user.name}`).waitFor({ timeout: T });
  await fits(ada, 'members sheet');
  await view(ada, 'phone-06-members', 'members sheet (phone)');
  // a profile card from the members sheet: a sheet at the bottom of the screen
  await side.locator(`.member[data-user="${stage.u.maria.user.id}"]`).getByRole('button', { name: 'Maria', exact: true }).click();
  const pc = ada.getByRole('dialog', { name: 'Profile of Maria' });
  await pc.getByText(`@${stage.u.maria.user.name}`).waitFor({ timeout: T });
  await pc.locator('.local-time').waitFor({ timeout: T });
  await pc.getByRole('link', { name: 'Book a session' }).waitFor({ timeout: T });
  await fits(ada, 'profile card', '.profile-card');
  await view(ada, 'phone-07-profile-card', 'profile card (phone)');
  await pc.getByRole('button', { name: 'Close' }).click();
  await pc.waitFor({ state: 'detached', timeout: T });
  await side.getByRole('button', { name: 'Close members' }).click();
  await side.waitFor({ state: 'hidden', timeout: T });
});

test('2. phone: chat with @mention autocomplete', async () => {
  const box = ada.getByLabel('Message #general');
  await box.fill('Hello ');
  await box.pressSequentially('@Bo');
  const option = ada.getByRole('listbox', { name: 'People to mention' }).getByRole('option', { name: /Bob/ });
  await option.waitFor({ timeout: T });
  await fits(ada, 'mention autocomplete', '[role=listbox]');
  await view(ada, 'phone-08-mention-autocomplete', 'mention autocomplete (phone)');
  await box.press('Enter');
  assert.equal(await box.inputValue(), `Hello @${stage.u.bob.user.name} `);
  await box.pressSequentially('can I call you later?');
  await box.press('Enter');
  const sent = ada.getByRole('log').locator('li.msg', { hasText: 'can I call you later?' });
  await sent.waitFor({ timeout: T });
  assert.equal(await box.inputValue(), '');
  await fits(ada, 'chat', '.composer button[type=submit]');
  await view(ada, 'phone-09-chat', 'chat (phone)');
});

test('3. phone: ask for help through the pre-join screen; an expert accepts; the call fits the phone', async () => {
  await bob.goto(`${stage.stack.url}?relay=1#/circle/${stage.circleId}`);
  await bob.getByLabel(/I am on duty/).check();
  await ada.locator('.help-count', { hasText: '1 expert on duty now' }).waitFor({ timeout: T });
  await ada.getByRole('button', { name: 'Get help now' }).click();
  await ada.getByLabel('What do you need help with?').fill('Blending sounds with a reluctant reader');
  await fits(ada, 'help form');
  await view(ada, 'phone-10-help-ask', 'help form (phone)');
  await ada.getByRole('button', { name: 'Ask the experts' }).click();
  const pre = await prejoin(ada);
  await fits(ada, 'pre-join', '.prejoin-card button.accept');
  await view(ada, 'phone-11-prejoin', 'pre-join (phone)');
  await join(ada);
  await ada.locator('.help-waiting').waitFor({ timeout: T });
  assert.equal(await pre.count(), 0);
  await view(ada, 'phone-12-help-waiting', 'help waiting (phone)');
  const offer = bob.getByRole('alertdialog', { name: 'Help request from Ada Lovelace' });
  await offer.getByRole('button', { name: 'Accept' }).click();
  await prejoin(bob);
  await view(bob, 'desktop-prejoin-expert', 'pre-join (desktop)');
  await join(bob);
  const call = ada.getByRole('region', { name: 'Call with Bob' });
  await call.locator('.conn-state[data-state="connected"]').waitFor({ timeout: T });
  await bob.getByRole('region', { name: 'Call with Ada Lovelace' }).locator('.conn-state[data-state="connected"]').waitFor({ timeout: T });
  await fits(ada, 'in a call', '.in-call button.danger');
  await view(ada, 'phone-13-in-call', 'in a call (phone)');
  await view(bob, 'desktop-in-call', 'in a call (desktop)');
  await call.getByRole('button', { name: 'Hang up' }).click();
  await call.waitFor({ state: 'detached', timeout: T });
  await bob.getByLabel(/I am on duty/).uncheck();
});

test('4. phone: book a mentor\'s slot — week grid, confirmation, My sessions', async () => {
  await ada.goto(`${stage.stack.url}?relay=1#/book/${stage.u.maria.user.id}`);
  await ada.getByRole('heading', { name: 'Book a session with Maria' }).waitFor({ timeout: T });
  await ada.locator('.week-grid button.slot').first().waitFor({ timeout: T });
  await fits(ada, 'slot picker');
  await view(ada, 'phone-14-slot-picker', 'slot picker (phone)');
  await ada.locator('.week-grid button.slot').first().click();
  const confirm = ada.getByRole('region', { name: 'Confirm your session' });
  await confirm.getByRole('button', { name: 'Confirm booking' }).waitFor({ timeout: T });
  await fits(ada, 'booking confirmation', '.confirm-card button');
  await view(ada, 'phone-15-slot-confirm', 'booking confirmation (phone)');
  await confirm.getByRole('button', { name: 'Confirm booking' }).click();
  await ada.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: T });
  await ada.locator('li.session', { hasText: 'Maria' }).waitFor({ timeout: T });
  await fits(ada, 'sessions');
  await view(ada, 'phone-16-sessions', 'sessions (phone)');
  await ada.getByRole('link', { name: 'Profile' }).click();
  await ada.getByRole('heading', { name: 'Your profile' }).waitFor({ timeout: T });
  await fits(ada, 'profile');
  await view(ada, 'phone-17-profile', 'profile (phone)');
});

test('5. phone: join the drop-in room through the pre-join screen; the room fits the phone', async () => {
  await ada.goto(`${stage.stack.url}?relay=1#/circle/${stage.circleId}`);
  await ada.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await openDrawer();
  await rail().getByRole('button', { name: 'Join Drop-in room' }).click();
  const pre = await prejoin(ada);
  await fits(ada, 'room pre-join', '.prejoin-card button.accept');
  await view(ada, 'phone-18-room-prejoin', 'room pre-join (phone)');
  // the camera off here: the room starts with it off
  await pre.getByRole('checkbox', { name: 'Camera on' }).uncheck();
  await join(ada);
  const room = ada.getByRole('region', { name: 'Room Drop-in room' });
  await room.waitFor({ timeout: T });
  await room.getByRole('button', { name: 'Turn camera on' }).waitFor({ timeout: T });
  await bob.getByRole('button', { name: 'Join Drop-in room' }).click();
  await join(bob);
  await bob.getByRole('region', { name: 'Room Drop-in room' }).waitFor({ timeout: T });
  await ada.locator('#room-layer .tile[data-state="connected"]').waitFor({ timeout: T });
  await fits(ada, 'room', '#room-layer button.danger');
  await view(ada, 'phone-19-room', 'room (phone)');
  await view(bob, 'desktop-room', 'room (desktop)');
  // the camera choice is kept for the next time
  assert.deepEqual(await ada.evaluate(() => JSON.parse(localStorage.getItem('staffroom.prejoin'))), { camera: false, mic: true });
  await room.getByRole('button', { name: 'Leave room' }).click();
  await room.waitFor({ state: 'detached', timeout: T });
  await bob.getByRole('button', { name: 'Leave room' }).click();
  assert.deepEqual(ada.exceptions, []);
  assert.deepEqual(bob.exceptions, []);
});
