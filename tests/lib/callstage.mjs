// callstage.mjs — the stage of the browser tests that make calls (calls, help): staffroom-relay on
// 127.0.0.1 (loopback peers allowed), staffroom-signal + Redis minting credentials for it, an admin, one
// circle, its people with their roles (set up over the protocol), and Chromium; each person's page is
// opened on the circle, already signed in, relay-only (?relay=1).
//
//   const stage = await callStage(h, { circle: 'Statistics', people: [['ada', 'member'], ['bob', 'expert']],
//                                     args: ['--call-ring-timeout', '8'] });
//   (browserArgs: extra Chromium flags; viewport: each page's size)
//   const page = await stage.open('ada');   // the same page on later calls
//   await stage.close();                    // prints page exceptions, closes the browser
//
// Every call and room opens the pre-join screen first (webclient/views/prejoin.js):
//   const dlg = await prejoin(page);        // the screen, once its camera preview is ready
//   const t = await join(page);             // prejoin() + its Join button; returns Date.now() of the click
import { connect, registerUser, uniqueName } from './client.mjs';
import { launchBrowser, newUser } from './browser.mjs';
import { startWebStack } from './webstack.mjs';
import { startRelay } from './relay.mjs';

const T = 15000;

// The pre-join screen's dialog, once the camera and microphone are open (Join enabled).
export async function prejoin(page, { timeout = T } = {}) {
  const dlg = page.getByRole('dialog', { name: /^Before you join/ });
  await dlg.waitFor({ timeout });
  await page.locator('.prejoin-layer[data-state="ready"]').waitFor({ timeout });
  return dlg;
}

const JOIN = /^(Join now|Call now|Answer|Ask now|Accept and join)$/;

// Goes through the pre-join screen with its Join button (whatever the path calls it); returns the time of
// the click, for figures measured from it. Waits until the screen is gone.
export async function join(page, { timeout = T } = {}) {
  const dlg = await prejoin(page, { timeout });
  const t = Date.now();
  await dlg.getByRole('button', { name: JOIN }).click({ timeout });
  await dlg.waitFor({ state: 'detached', timeout });
  return t;
}

export async function callStage(h, { circle, people, args = [], browserArgs = [], viewport }) {
  const relay = await startRelay(h, { allowLoopback: true });
  const stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100', ...args,
    '--turn-secret-file', relay.secretFile, '--turn-urls', `turn:127.0.0.1:${relay.port}?transport=udp`] });
  await stack.createAdmin('admin', 'admin password 123');
  const admin = await connect(stack.wsUrl);
  await admin.ok('auth.login', { name: 'admin', password: 'admin password 123' });
  const circleId = (await admin.ok('circle.create', { name: circle, subject: 'Statistics', phase: 'further' })).circle.id;
  const u = {}; // name → { user, token, page, context }
  for (const [name, role] of people) {
    const c = await connect(stack.wsUrl);
    const reg = await registerUser(c, uniqueName(name), 'password 12345', { display_name: name[0].toUpperCase() + name.slice(1) });
    await c.ok('circle.join', { circle: circleId });
    if (role !== 'member') await admin.ok('circle.set_role', { circle: circleId, user: reg.user.id, role });
    await c.close();
    u[name] = reg;
  }
  await admin.close();
  const browser = await launchBrowser(browserArgs);

  async function open(name) {
    const x = u[name];
    if (x.page) return x.page;
    const { context, page } = await newUser(browser, viewport ? { viewport } : undefined);
    await context.addInitScript((token) => { localStorage.setItem('staffroom.token', token); }, x.token);
    await page.goto(`${stack.url}?relay=1#/circle/${circleId}`);
    await page.getByRole('heading', { name: circle, exact: true }).waitFor({ timeout: T });
    x.page = page;
    x.context = context;
    return page;
  }

  async function close() {
    for (const x of Object.values(u)) {
      if (x.page?.exceptions?.length) console.log(`# page exceptions: ${x.page.exceptions.join(' | ')}`);
    }
    await browser.close();
  }

  return { relay, stack, browser, circleId, u, open, close };
}
