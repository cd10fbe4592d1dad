// live_races.test.mjs — answers overtaken by live events, in Debian's Chromium against real staffroom-signal +
// Redis on loopback. The server answers a request on one path and delivers events through Redis pub/sub, so
// an event for a change made just after an answer was computed can reach the page before that answer. Each
// test holds one answer back at the page's WebSocket (Playwright's routeWebSocket), makes the change happen
// and its event reach the page, then lets the stale answer through: the page must keep what the event said.
//   1. the member list: a member who signs in while circle.members is on its way is shown online.
//   2. the help panel: an expert who goes on duty while a recount (circle.get) is on its way stays counted.
//   3. the rail: an expert who goes on duty while its list of circles (circle.list) is on its way is counted.
//   4. the help panel: an expert who goes on duty while the circle opens (before the panel exists) is counted.
// (app.test.mjs step 8 does the same for the rail's unread counts.)
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser, withPageState } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';

const T = 15000;
const PASSWORD = 'password 12345';
let h; let stack; let browser; let admin; let circleId; let generalChannel;
let ada; let bob; let carl; let dan; // { user, token } each; bob is an expert; ada, carl and dan members
const clients = []; // protocol connections to close at the end
const pages = {}; // name → page
// Every test says, when it fails, what each page showed (tests/lib/browser.mjs).
const test = (name, fn) => nodeTest(name, () => withPageState(pages, fn));
const t0 = Date.now();

async function signIn(who) {
  const c = await connect(stack.wsUrl);
  clients.push(c);
  await c.ok('auth.login', { name: who.user.name, password: PASSWORD });
  return c;
}

// A member of the circle: registered, joined, and signed out again (offline) unless `stay`.
async function member(prefix, display, { stay = false } = {}) {
  const c = await connect(stack.wsUrl);
  const reg = await registerUser(c, uniqueName(prefix), PASSWORD, { display_name: display });
  await c.ok('circle.join', { circle: circleId });
  if (stay) { clients.push(c); return { ...reg, client: c }; }
  await c.close();
  return reg;
}

before(async () => {
  h = new Harness('e2e-live-races');
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100'] });
  await stack.createAdmin('admin', 'admin password 123');
  admin = await connect(stack.wsUrl);
  clients.push(admin);
  await admin.ok('auth.login', { name: 'admin', password: 'admin password 123' });
  circleId = (await admin.ok('circle.create', { name: 'Live races', subject: 'Physics', phase: 'secondary' })).circle.id;
  generalChannel = (await admin.ok('channel.list', { circle: circleId })).channels.find((c) => c.name === 'general').id;
  ada = await member('ada', 'Ada Lovelace');
  bob = await member('bob', 'Bob Brown', { stay: true });
  await admin.ok('circle.set_role', { circle: circleId, user: bob.user.id, role: 'expert' });
  carl = await member('carl', 'Carl Cole');
  dan = await member('dan', 'Dan Dale');
  browser = await launchBrowser();
});

after(async () => {
  for (const [name, p] of Object.entries(pages)) {
    if (p.exceptions.length) console.log(`# ${name} page exceptions: ${p.exceptions.join(' | ')}`);
  }
  await browser?.close();
  for (const c of clients) await c.close();
  await h?.close();
  console.log(`# live_races.test.mjs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

// Opens the circle in a new page signed in as `who`, through a WebSocket route that can hold answers back:
// while `hold.type` is set, every request of that type is noted (`hold.ids`, in the order the page sent
// them) and its answer kept (`hold.replies`: id → frame) until `hold.release()`, which passes them on in the
// order they came and holds nothing more. `hold.events` lists every event passed on to the page, in order.
async function openCircle(name, who, holdType = null, { waitForChannel = true } = {}) {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  pages[name] = page;
  await page.addInitScript((t) => localStorage.setItem('staffroom.token', t), who.token);
  const hold = {
    type: holdType, ids: [], replies: new Map(), events: [], send: null,
    release() {
      hold.type = null;
      for (const m of hold.replies.values()) hold.send(m);
      hold.ids = [];
    },
  };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    hold.send = (m) => ws.send(m);
    ws.onMessage((m) => {
      try {
        const req = JSON.parse(m);
        if (hold.type && req.type === hold.type) hold.ids.push(req.id);
      } catch { /* not JSON: passed on as it is */ }
      server.send(m);
    });
    server.onMessage((m) => {
      let msg = null;
      try { msg = JSON.parse(m); } catch { /* passed on */ }
      if (msg && msg.id !== undefined && hold.ids.includes(msg.id)) { hold.replies.set(msg.id, m); return; }
      ws.send(m);
      if (msg && msg.id === undefined) hold.events.push(msg);
    });
  });
  await page.goto(`${stack.url}#/circle/${circleId}/${generalChannel}`);
  if (waitForChannel) await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  return { page, hold };
}

test('1. a member who signs in while the member list is on its way is shown online', async () => {
  // The first circle.members of the page is the member list's (views/members.js; the mentors panel asks
  // next); its answer says Dan is offline. Dan signs in and his presence event reaches the page first; then
  // the stale answer arrives.
  const { page, hold } = await openCircle('ada1', ada, 'circle.members');
  await eventually(() => hold.ids.length > 0 && hold.replies.has(hold.ids[0]),
    { timeoutMs: T, what: "the member list's circle.members answer (held back)" });
  assert.equal(JSON.parse(hold.replies.get(hold.ids[0])).members.find((m) => m.user.id === dan.user.id)?.presence, 'offline',
    'the held answer was taken while Dan was offline');
  const d = await signIn(dan);
  await eventually(() => hold.events.some((e) => e.type === 'presence' && e.user === dan.user.id && e.status === 'online'),
    { timeoutMs: T, what: "Dan's presence event passed on to the page" });
  hold.release(); // the stale answer arrives after the event
  // The list is drawn when the answer is read: once Dan's row is there, what it shows is the outcome.
  const row = page.locator(`.member-list li.member[data-user="${dan.user.id}"]`);
  await row.waitFor({ timeout: T });
  assert.equal(await row.locator('.presence').getAttribute('data-presence'), 'online', 'the older answer must not undo the event');
  // the admin, Ada, Bob and Dan are signed in; Carl is not
  assert.equal(await page.locator('.members-list-panel p[role="status"]').textContent(), '5 members, 4 online');
  assert.deepEqual(page.exceptions, []);
  await d.close();
  await page.context().close();
  delete pages.ada1;
});

test('2. an expert who goes on duty while the help panel recounts stays counted', async () => {
  // Someone going offline makes the help panel recount at once (circle.get: duty ends with a device, with
  // no help.duty event), and the header's counts a second later (circle.get too). Both answers are held
  // back; Bob goes on duty meanwhile, which the page shows from the help.duty event; then the stale answers
  // (nobody on duty) arrive.
  const c = await signIn(carl);
  const { page, hold } = await openCircle('ada2', ada);
  const count = page.locator('.help-count');
  await count.filter({ hasText: '0 experts on duty now' }).waitFor({ timeout: T });
  hold.type = 'circle.get';
  await c.close(); // Carl goes offline
  // Whatever the header's timer did before, the recount is one of the first two circle.get held.
  await eventually(() => hold.replies.size >= 2, { timeoutMs: T, what: 'two circle.get answers (held back)' });
  for (const m of hold.replies.values()) assert.equal(JSON.parse(m).circle.experts_on_duty || 0, 0, 'held answers predate the duty');
  await bob.client.ok('help.duty', { circle: circleId, on: true });
  await count.filter({ hasText: '1 expert on duty now' }).waitFor({ timeout: T }); // from the event
  hold.release(); // the stale answers arrive now …
  // … and a message after them: once the page shows it, it has read the answers before it (one socket).
  await bob.client.ok('chat.send', { channel: generalChannel, text: 'On duty now.' });
  await page.getByRole('log').locator('.msg-text', { hasText: 'On duty now.' }).waitFor({ timeout: T });
  assert.equal(await count.textContent(), '1 expert on duty now', 'the older answer must not undo the event');
  assert.deepEqual(page.exceptions, []);
  await bob.client.ok('help.duty', { circle: circleId, on: false });
  await page.context().close();
  delete pages.ada2;
});

test("3. an expert who goes on duty while the rail's list of circles is on its way is counted there", async () => {
  // The rail lists my circles with their experts on duty (circle.list); its answer is held back while Bob
  // goes on duty, whose help.duty event reaches the page first; then the stale answer (nobody on duty).
  const { page, hold } = await openCircle('ada3', ada, 'circle.list');
  await eventually(() => hold.ids.length > 0 && hold.replies.has(hold.ids[0]),
    { timeoutMs: T, what: "the rail's circle.list answer (held back)" });
  const held = JSON.parse(hold.replies.get(hold.ids[0])).circles.find((c) => c.id === circleId);
  assert.equal(held.experts_on_duty || 0, 0, 'the held answer was taken before the duty');
  await bob.client.ok('help.duty', { circle: circleId, on: true });
  await eventually(() => hold.events.some((e) => e.type === 'help.duty' && e.circle === circleId),
    { timeoutMs: T, what: "Bob's help.duty event passed on to the page" });
  hold.release(); // the stale answer arrives after the event
  await page.locator(`.rail-circles li[data-circle="${circleId}"] .rail-duty`).filter({ hasText: '1 expert on duty' }).waitFor({ timeout: T });
  assert.deepEqual(page.exceptions, []);
  await bob.client.ok('help.duty', { circle: circleId, on: false });
  await page.context().close();
  delete pages.ada3;
});

test('4. an expert who goes on duty while the circle is opening is counted by its help panel', async () => {
  // The help panel starts from circle.get's count and is mounted once channel.list has answered: the
  // channel.list answer is held back while Bob goes on duty, and his help.duty event reaches the page before
  // the panel exists.
  const { page, hold } = await openCircle('ada4', ada, 'channel.list', { waitForChannel: false });
  await eventually(() => hold.ids.length > 0 && hold.replies.has(hold.ids[0]),
    { timeoutMs: T, what: "the circle's channel.list answer (held back)" });
  await bob.client.ok('help.duty', { circle: circleId, on: true });
  await eventually(() => hold.events.some((e) => e.type === 'help.duty' && e.circle === circleId && e.experts_on_duty === 1),
    { timeoutMs: T, what: "Bob's help.duty event passed on to the page" });
  hold.release();
  await page.getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  assert.equal(await page.locator('.help-count').textContent(), '1 expert on duty now');
  assert.deepEqual(page.exceptions, []);
  await bob.client.ok('help.duty', { circle: circleId, on: false });
  await page.context().close();
  delete pages.ada4;
});
