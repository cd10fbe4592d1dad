// chat.test.mjs — the web client in Debian's Chromium against real staffroom-signal + Redis on loopback.
//
// An admin (made with --create-admin) creates two circles in the UI; Alice and Bob sign up in two browser
// contexts, find the open circle by search, join, chat live (typing indicator, edit, delete), see each
// other's presence change; Alice asks to join the moderated circle and the admin approves her in a third
// context. Then: every control is labelled, errors are shown in words, and after a server restart (SIGTERM,
// start again on the same port) the page says it is reconnecting, comes back by itself and misses nothing.
// Screenshots: build/test-artifacts/chat-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot as saveShot, unlabeledControls, disabledFeatures, launchArgs } from '../lib/browser.mjs';
import { startWebStack, FAKE } from '../lib/webstack.mjs';
import WebSocket from 'ws';

// Screenshots of runs against the Node stand-in get their own names, so they never pass for the real thing.
const shot = (page, name) => saveShot(page, FAKE ? `fake-${name}` : name);

const T = 15000; // longest wait for any one thing to appear in the page
const PW = { admin: 'admin password 123', alice: 'alice password 123', bob: 'bob password 123' };
const STATS = 'Statistics for adult learners';
const PHYS = 'Physics mentors';

let h; let stack; let browser;
const users = {}; // name -> { context, page }
const t0 = Date.now();
const timings = [];
const mark = (what) => timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

before(async () => {
  h = new Harness('e2e-chat');
  // Every page load and reconnect signs in again (auth.resume), all from 127.0.0.1: lift the per-address
  // sign-in limit above what this file does; a short presence TTL so a closed page goes offline quickly.
  stack = await startWebStack(h, { args: [
    '--login-rate', '1000', '--login-burst', '100', '--presence-ttl', '6',
    '--message-rate', '6000', '--message-burst', '200',
  ] });
  await stack.createAdmin('admin', PW.admin);
  browser = await launchBrowser();
  mark('stack + browser up');
});

after(async () => {
  for (const { page } of Object.values(users)) {
    const errs = page.errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e)); // expected while restarting
    if (errs.length) console.log(`# page errors (${page.url()}): ${errs.join(' | ')}`);
  }
  if (browser) await browser.close();
  if (h) await h.close();
  console.log(`# timings: ${timings.join('; ')}`);
});

// ---------- helpers (each waits with Playwright's auto-waiting locators, never a fixed sleep) ----------
async function openUser(name) {
  users[name] = await newUser(browser);
  await users[name].page.goto(stack.url);
  return users[name].page;
}

async function signUp(page, name, display, password) {
  await page.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await page.getByRole('link', { name: 'Create an account' }).click();
  await signUpHere(page, name, display, password);
}

async function signUpHere(page, name, display, password) {
  await page.getByRole('heading', { name: 'Create your Staffroom account' }).waitFor({ timeout: T });
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Display name (shown to others)').fill(display);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
}

async function signIn(page, name, password) {
  await page.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
}

const card = (page, circleName) => page.locator('.circle-card').filter({ has: page.getByRole('heading', { name: circleName, exact: true }) });
const messages = (page) => page.getByRole('log');
const messageItem = (page, text) => messages(page).locator('li.msg').filter({ has: page.locator('.msg-text', { hasText: text }) });
const memberRow = (page, userName) => page.locator(`.member-list li[data-name="${userName}"]`);

async function search(page, q) {
  await page.getByLabel('Search circles').fill(q);
  await page.getByRole('button', { name: 'Search' }).click();
}

async function createCircle(page, { name, subject, phase, description, moderated }) {
  const panel = page.locator('details.admin-panel');
  if (!(await panel.evaluate((d) => d.open))) await page.getByText('New circle (admin)').click();
  const form = page.getByRole('form', { name: 'New circle' });
  await form.getByLabel('Circle name').fill(name);
  await form.getByLabel('Subject').fill(subject);
  await form.getByLabel('Phase').selectOption(phase);
  await form.getByLabel('Description').fill(description);
  if (moderated) await form.getByLabel(/Moderated/).check();
  await form.getByRole('button', { name: 'Create circle' }).click();
  await card(page, name).waitFor({ timeout: T });
}

async function openCircleChat(page, circleName) {
  await card(page, circleName).getByRole('link', { name: `Open ${circleName}` }).click();
  await page.getByRole('heading', { name: circleName, level: 1 }).waitFor({ timeout: T });
  await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await page.getByLabel('Message #general').waitFor({ timeout: T });
}

async function sendMessage(page, text) {
  const box = page.getByLabel('Message #general');
  await box.fill(text);
  await box.press('Enter');
  await messageItem(page, text).waitFor({ timeout: T });
  // The composer empties once the server has acknowledged (stored) the message.
  await page.waitForFunction(() => document.querySelector('.composer-input').value === '', null, { timeout: T });
}

// A bare protocol client (another device of a user) for setting up many messages quickly.
async function wsClient(url) {
  const ws = new WebSocket(url, 'staffroom.v1');
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let next = 1;
  const pending = new Map();
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.id != null && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
  });
  const ok = (type, fields = {}) => new Promise((resolve, reject) => {
    const id = next++;
    const timer = setTimeout(() => reject(new Error(`no answer to ${type}`)), T);
    pending.set(id, (m) => { clearTimeout(timer); if (m.type === 'ok') resolve(m); else reject(new Error(`${type}: ${JSON.stringify(m)}`)); });
    ws.send(JSON.stringify({ ...fields, type, id }));
  });
  return { ok, close: () => ws.close() };
}

async function assertLabelled(page, where) {
  const bad = await unlabeledControls(page);
  assert.deepEqual(bad, [], `unlabelled controls on ${where}: ${bad.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------------------
test('the browser is launched loopback-only with one merged --disable-features list', () => {
  const args = launchArgs();
  const df = args.filter((a) => a.startsWith('--disable-features='));
  assert.equal(df.length, 1, 'exactly one --disable-features flag (Chromium honours only the last)');
  const list = df[0].slice('--disable-features='.length).split(',');
  assert.ok(list.includes('WebRtcHideLocalIpsWithMdns'));
  assert.ok(list.includes('MediaRouter') && list.includes('OptimizationHints'), 'playwright-core defaults kept');
  assert.deepEqual(list, disabledFeatures());
  assert.ok(args.includes('--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'));
});

test('two teachers find a circle, join, chat live with typing, edits and presence; a moderated join is approved', async () => {
  // Admin creates an open and a moderated circle in the UI.
  const admin = await openUser('admin');
  await signIn(admin, 'admin', PW.admin);
  await createCircle(admin, { name: STATS, subject: 'Statistics', phase: 'further', description: 'Evening classes: p-values, regression, teaching adults.' });
  await createCircle(admin, { name: PHYS, subject: 'Physics', phase: 'secondary', description: 'New physics teachers and their mentors.', moderated: true });
  await assertLabelled(admin, 'directory (admin, new-circle form open)');
  await shot(admin, 'chat-01-admin-directory');
  mark('admin created circles');

  // Alice and Bob sign up in their own browser contexts.
  const alice = await openUser('alice');
  const bob = await openUser('bob');
  await assertLabelled(alice, 'sign-in page');
  await shot(alice, 'chat-02-signin');
  await Promise.all([signUp(alice, 'alice', 'Alice Adams', PW.alice), signUp(bob, 'bob', 'Bob Brown', PW.bob)]);

  // Search finds the statistics circle and not the physics one.
  for (const page of [alice, bob]) {
    await search(page, 'statis');
    await page.getByRole('status').filter({ hasText: '1 circle found.' }).waitFor({ timeout: T });
    assert.equal(await card(page, PHYS).count(), 0, 'search "statis" must not list the physics circle');
    const c = card(page, STATS);
    await c.getByText(/\d+ members? · \d+ online/).waitFor({ timeout: T });
    await c.getByRole('button', { name: `Join ${STATS}` }).click();
    await c.getByRole('link', { name: `Open ${STATS}` }).waitFor({ timeout: T });
  }
  await shot(bob, 'chat-03-directory-search-joined');
  await card(bob, STATS).getByText(/3 members/).waitFor({ timeout: T });

  await openCircleChat(alice, STATS);
  await openCircleChat(bob, STATS);
  await assertLabelled(alice, 'circle page (member)');
  mark('both in the channel');

  // Live chat both ways, no reload.
  await sendMessage(alice, 'Hello Bob — how do you explain p-values to adults?');
  await messageItem(bob, 'how do you explain p-values').waitFor({ timeout: T });
  assert.equal(await messageItem(bob, 'how do you explain p-values').locator('.author').textContent(), 'Alice Adams');

  // Typing indicator: Bob types, Alice sees it; it goes once Bob's message arrives.
  await bob.getByLabel('Message #general').fill('With a coin that might be loaded');
  await alice.getByText('Bob Brown is typing…').waitFor({ timeout: T });
  await shot(alice, 'chat-04-typing-indicator');
  await bob.getByLabel('Message #general').press('Enter');
  await messageItem(alice, 'coin that might be loaded').waitFor({ timeout: T });
  await alice.waitForFunction(() => !document.querySelector('.typing').textContent.includes('Bob Brown'), null, { timeout: T });

  // @mention: Bob gets a banner wherever he is, and the message says it mentions him (in words too).
  await sendMessage(alice, '@bob could you share your loaded-coin demo?');
  const banner = bob.getByRole('alert').filter({ hasText: 'Alice Adams mentioned you' });
  await banner.getByText('could you share your loaded-coin demo?', { exact: false }).waitFor({ timeout: T });
  await messageItem(bob, 'loaded-coin demo').getByText('mentions you').waitFor({ timeout: T });
  assert.equal(await messageItem(alice, 'loaded-coin demo').getByText('mentions you').count(), 0);
  await shot(bob, 'chat-04b-mention');
  await banner.getByRole('button', { name: 'Dismiss' }).click();
  assert.equal(await banner.count(), 0);

  // Presence in the member list: Bob online, then away (text, not colour alone), seen by Alice live.
  await memberRow(alice, 'bob').filter({ hasText: 'online' }).waitFor({ timeout: T });
  await memberRow(alice, 'admin').getByText('moderator').waitFor({ timeout: T });
  await bob.getByLabel('Your status').selectOption('away');
  await memberRow(alice, 'bob').filter({ hasText: '◐ away' }).waitFor({ timeout: T });
  await memberRow(bob, 'bob').filter({ hasText: 'away' }).waitFor({ timeout: T });
  await shot(alice, 'chat-05-chat-presence-away');
  await shot(bob, 'chat-06-chat-bob');
  mark('chat, typing, presence');

  // Edit own message: Bob sees the new text marked "(edited)".
  const mine = messageItem(alice, 'how do you explain p-values');
  await mine.getByRole('button', { name: 'Edit your message' }).click();
  await alice.getByRole('textbox', { name: 'Edit message' }).fill('Hello Bob — how would you explain p-values to adult learners?');
  await alice.getByRole('button', { name: 'Save' }).click();
  await messageItem(bob, 'to adult learners?').getByText('(edited)').waitFor({ timeout: T });
  // Alice cannot edit Bob's message (no button), and deletes her own: it disappears for Bob.
  assert.equal(await messageItem(alice, 'coin that might be loaded').getByRole('button', { name: 'Edit your message' }).count(), 0);
  await sendMessage(alice, 'typo message to delete');
  await messageItem(bob, 'typo message to delete').waitFor({ timeout: T });
  await messageItem(alice, 'typo message to delete').getByRole('button', { name: /Delete message/ }).click();
  await alice.getByRole('button', { name: 'Confirm delete' }).click();
  await messageItem(bob, 'typo message to delete').waitFor({ state: 'detached', timeout: T });

  // Phone-sized view of the same page (readability check by eye; the layout stacks).
  await alice.setViewportSize({ width: 390, height: 844 });
  await shot(alice, 'chat-07-phone');
  const overflow = await alice.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await alice.setViewportSize({ width: 1280, height: 860 });

  // A moderator adds a channel; it appears in Alice's channel list without a reload.
  await card(admin, STATS).getByRole('link', { name: `Open ${STATS}` }).click();
  await admin.getByText('Add a channel').click();
  await admin.getByLabel('New channel name').fill('p-values');
  await admin.getByLabel('Topic (optional)').fill('Explaining significance without tears');
  await admin.getByRole('button', { name: 'Add channel' }).click();
  await admin.getByRole('heading', { name: '# p-values' }).waitFor({ timeout: T });
  await alice.getByRole('link', { name: '# p-values' }).waitFor({ timeout: T });

  // Moderated circle: the admin watches the join requests; Alice asks to join; it shows up live.
  await admin.getByRole('link', { name: 'Circles', exact: true }).click();
  await card(admin, PHYS).getByRole('link', { name: `Open ${PHYS}` }).click();
  const requests = admin.getByRole('list', { name: 'Pending join requests' });
  await admin.getByText('No pending requests.').waitFor({ timeout: T });

  await alice.getByRole('link', { name: 'Circles', exact: true }).click();
  await search(alice, 'physics');
  await card(alice, PHYS).getByRole('button', { name: `Request to join ${PHYS}` }).click();
  await card(alice, PHYS).getByText('Request pending').waitFor({ timeout: T });
  await shot(alice, 'chat-08-request-pending');

  await requests.getByText('Alice Adams').waitFor({ timeout: T }); // via the circle.join_request event
  await assertLabelled(admin, 'circle page (moderator, join requests)');
  await shot(admin, 'chat-09-admin-join-requests');
  await admin.getByRole('button', { name: 'Approve Alice Adams' }).click();
  await requests.getByText('Alice Adams').waitFor({ state: 'detached', timeout: T });
  await memberRow(admin, 'alice').waitFor({ timeout: T });

  await card(alice, PHYS).getByRole('link', { name: `Open ${PHYS}` }).waitFor({ timeout: T });
  await shot(alice, 'chat-10-request-approved');
  mark('moderated join approved');
  for (const [name, { page }] of Object.entries(users)) assert.deepEqual(page.exceptions, [], `no uncaught exceptions in ${name}'s page`);
});

test('every control is labelled on the profile page, and a profile change is saved', async () => {
  const page = users.alice.page;
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.getByRole('heading', { name: 'Your profile' }).waitFor({ timeout: T });
  await assertLabelled(page, 'profile page');
  const tz = page.getByLabel('Time zone');
  assert.ok(await tz.locator('option').count() > 100, 'time zones from Intl.supportedValuesOf');
  // Keyboard: Tab reaches the controls and the focused one is visibly marked.
  await page.getByLabel('Display name').focus();
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    return { label: el.labels?.[0]?.textContent, outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
  });
  assert.equal(focused.label, 'School', 'Tab moves from display name to school');
  assert.ok(focused.outline !== 'none' && focused.width >= 2, `visible focus ring: ${JSON.stringify(focused)}`);
  await page.getByLabel('School').fill('Northgate Adult College');
  await page.getByLabel(/Subjects/).fill('Statistics, Mathematics');
  await tz.selectOption('Europe/Lisbon');
  // the relay-only call setting (this browser's, not the account's): off by default, kept across reloads
  const relayOnly = page.getByLabel(/Always connect calls through the relay/);
  assert.equal(await relayOnly.isChecked(), false);
  await relayOnly.check();
  await page.getByText('Calls from this browser go through the relay.').waitFor({ timeout: T });
  assert.equal(await page.evaluate(() => localStorage.getItem('staffroom.relay')), '1');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByText('Profile saved.').waitFor({ timeout: T });
  await shot(page, 'chat-11-profile');
  await page.reload();
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.getByRole('heading', { name: 'Your profile' }).waitFor({ timeout: T });
  assert.equal(await page.getByLabel('School').inputValue(), 'Northgate Adult College');
  assert.equal(await page.getByLabel('Time zone').inputValue(), 'Europe/Lisbon');
  assert.equal(await page.getByLabel(/Always connect calls through the relay/).isChecked(), true);
  await page.getByLabel(/Always connect calls through the relay/).uncheck();
  assert.equal(await page.evaluate(() => localStorage.getItem('staffroom.relay')), '0');
});

test('errors from the server are shown in words', async () => {
  const carol = await openUser('carol');
  // Name taken (conflict).
  await carol.getByRole('link', { name: 'Create an account' }).click();
  await carol.getByLabel('User name').fill('alice');
  await carol.getByLabel('Password').fill('another password 1');
  await carol.getByRole('button', { name: 'Create account' }).click();
  await carol.getByRole('alert').filter({ hasText: 'That user name is already taken' }).waitFor({ timeout: T });
  await shot(carol, 'chat-12-error-name-taken');
  // Wrong password (unauthorized).
  await carol.getByRole('link', { name: 'Sign in' }).click();
  await carol.getByLabel('User name').fill('alice');
  await carol.getByLabel('Password').fill('not her password');
  await carol.getByRole('button', { name: 'Sign in' }).click();
  await carol.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).waitFor({ timeout: T });
  const text = await carol.locator('.form-error').textContent();
  assert.doesNotMatch(text, /^\s*(unauthorized|conflict)\s*$/, 'a sentence, not a bare code');

  // A request refused inside the app: a moderator adds a channel whose name exists (conflict).
  const admin = users.admin.page;
  await admin.getByText('Add a channel').click();
  await admin.getByLabel('New channel name').fill('general');
  await admin.getByRole('button', { name: 'Add channel' }).click();
  await admin.getByRole('form', { name: 'Add a channel' }).getByRole('alert').filter({ hasText: 'already exists' }).waitFor({ timeout: T });
  await shot(admin, 'chat-13-error-channel-exists');

  // Carol signs up properly, signs out, and a reload keeps her signed out (the token is gone).
  await carol.getByRole('link', { name: 'Create an account' }).click();
  await signUpHere(carol, 'carol', 'Carol Chen', 'carol password 1');
  await carol.getByRole('button', { name: 'Sign out' }).click();
  await carol.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  assert.equal(await carol.evaluate(() => localStorage.getItem('staffroom.token')), null);
  await carol.reload();
  await carol.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  assert.equal(await carol.getByRole('button', { name: 'Sign out' }).isVisible(), false);
});

test('scroll-back: the latest 50 messages first, older ones on request, in order', async () => {
  const bobDevice = await wsClient(stack.wsUrl);
  await bobDevice.ok('auth.login', { name: 'bob', password: PW.bob });
  const { circles } = await bobDevice.ok('circle.list', { q: 'statis' });
  const { channels } = await bobDevice.ok('channel.list', { circle: circles[0].id });
  const help = channels.find((c) => c.name === 'help');
  for (let i = 1; i <= 59; i++) await bobDevice.ok('chat.send', { channel: help.id, text: `old message ${String(i).padStart(2, '0')}` });

  const alice = users.alice.page;
  await alice.getByRole('link', { name: 'Circles', exact: true }).click();
  await search(alice, 'statis');
  await openCircleChat(alice, STATS);
  // While Alice reads #general, Bob writes in #help: the channel list shows it, counting the 59 she has
  // not read either (read markers are kept on the server: unread.counts).
  await bobDevice.ok('chat.send', { channel: help.id, text: 'old message 60' });
  await alice.getByRole('link', { name: '# help (60 new)' }).waitFor({ timeout: T });
  bobDevice.close();
  await alice.getByRole('link', { name: '# help' }).click();
  await alice.getByRole('heading', { name: '# help' }).waitFor({ timeout: T });
  await messageItem(alice, 'old message 60').waitFor({ timeout: T });
  assert.equal(await alice.locator('li.msg').count(), 50, 'one page of history');
  assert.equal(await messageItem(alice, 'old message 10').count(), 0);
  await alice.getByRole('button', { name: 'Load older messages' }).click();
  await messageItem(alice, 'old message 01').waitFor({ timeout: T });
  const texts = await alice.locator('li.msg .msg-text').allTextContents();
  assert.deepEqual(texts, Array.from({ length: 60 }, (_, i) => `old message ${String(i + 1).padStart(2, '0')}`));
  await alice.getByRole('button', { name: 'Load older messages' }).waitFor({ state: 'hidden', timeout: T });
  await shot(alice, 'chat-14-scroll-back');
});

test('after a server restart the page says it is reconnecting, comes back by itself and misses nothing', async () => {
  const alice = users.alice.page;
  const bob = users.bob.page;
  for (const page of [alice, bob]) {
    await page.goto(stack.url);
    await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
    await search(page, 'statis');
    await openCircleChat(page, STATS);
  }
  await messageItem(alice, 'coin that might be loaded').waitFor({ timeout: T });

  // Alice's future connections pass through a gate we hold shut while Bob talks, so her client must catch
  // up with chat.history { after } rather than receive the message live.
  const gate = { shut: false, attempts: 0 };
  await alice.routeWebSocket(/\/ws$/, (ws) => {
    if (gate.shut) { gate.attempts++; ws.close(); } else ws.connectToServer();
  });
  gate.shut = true;
  const t1 = Date.now();
  const res = await stack.stopSignal('SIGTERM');
  assert.ok(res.code === 0 || res.signal === 'SIGTERM', `staffroom-signal stopped cleanly: ${JSON.stringify(res)}`);
  for (const page of [alice, bob]) {
    await page.getByRole('status').filter({ hasText: 'reconnecting' }).waitFor({ timeout: T });
  }
  await shot(alice, 'chat-15-reconnecting');
  await stack.startSignal();

  // Bob comes back by himself and sends a message while Alice is still cut off.
  await bob.waitForFunction(() => document.body.dataset.conn === 'open', null, { timeout: T });
  await sendMessage(bob, 'Sent while Alice was away');
  // Let Alice be turned away once more after Bob's message exists: she cannot have received it live.
  const seen = gate.attempts;
  await eventually(() => gate.attempts > seen, { timeoutMs: T, what: 'another reconnect attempt by Alice' });
  assert.equal(await messageItem(alice, 'Sent while Alice was away').count(), 0);
  gate.shut = false;
  await alice.waitForFunction(() => document.body.dataset.conn === 'open', null, { timeout: T });
  await messageItem(alice, 'Sent while Alice was away').waitFor({ timeout: T });
  mark(`reconnected after ${((Date.now() - t1) / 1000).toFixed(1)} s`);

  // Live again both ways.
  await sendMessage(bob, 'And this one after the restart');
  await messageItem(alice, 'after the restart').waitFor({ timeout: T });
  await sendMessage(alice, 'Back again, thanks Bob');
  await messageItem(bob, 'Back again, thanks Bob').waitFor({ timeout: T });
  await alice.getByRole('status').filter({ hasText: 'reconnecting' }).waitFor({ state: 'hidden', timeout: T });
  await shot(alice, 'chat-16-after-restart');

  // Nothing shown twice, in id order.
  for (const page of [alice, bob]) {
    const ids = await page.locator('li.msg').evaluateAll((els) => els.map((e) => e.dataset.id));
    assert.equal(new Set(ids).size, ids.length, `no duplicate messages: ${ids}`);
    assert.equal(await messageItem(page, 'Sent while Alice was away').count(), 1);
  }
  const texts = await alice.locator('li.msg .msg-text').allTextContents();
  assert.deepEqual(texts.slice(-3), ['Sent while Alice was away', 'And this one after the restart', 'Back again, thanks Bob']);
  mark('reconnect test done');

  // Bob chose "away" earlier: his client restores it after the reload and the restart.
  await memberRow(alice, 'bob').filter({ hasText: '◐ away' }).waitFor({ timeout: T });
  // Bob closes his page: Alice sees him go offline, in the member list and in the circle's header counts.
  const onlineInHeader = async () => Number((await alice.locator('.circle-head .counts').textContent()).match(/(\d+) online/)[1]);
  const before = await onlineInHeader();
  await users.bob.context.close();
  delete users.bob;
  await memberRow(alice, 'bob').filter({ hasText: '○ offline' }).waitFor({ timeout: 20000 });
  await eventually(async () => (await onlineInHeader()) === before - 1, { timeoutMs: T, what: 'the header to count one fewer online' });
  await shot(alice, 'chat-17-bob-offline');
  mark('bob offline');
});
