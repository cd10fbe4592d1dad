// browser.mjs — Debian's Chromium through playwright-core, launched exactly as /work/shared/E2E.md says:
// loopback only (no name is ever resolved, no background networking), fake camera and microphone, and ONE
// merged --disable-features list (Chromium honours only the last such flag): playwright-core's own defaults
// plus WebRtcHideLocalIpsWithMdns (else the WebRTC mDNS responder sends multicast off the machine).
//
//   const browser = await launchBrowser();
//   const { context, page } = await newUser(browser);   // one user = one context (own storage)
//   await shot(page, 'chat-alice');                     // build/test-artifacts/chat-alice.png
//   const bad = await axeViolations(page);              // axe-core, WCAG 2.1 A/AA (context made with bypassCSP)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { ROOT } from './harness.mjs';

export const CHROMIUM = process.env.STAFFROOM_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'build/test-artifacts');

// playwright-core's default disabled features, as of the version pinned in package-lock.json (1.65.1);
// used only if they cannot be read from the installed package below.
const FALLBACK_DISABLED = [
  'AvoidUnnecessaryBeforeUnloadCheckSync', 'DestroyProfileOnBrowserClose', 'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable', 'LensOverlay', 'MediaRouter', 'PaintHolding', 'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect', 'TcpPortRandomizationWin', 'OptimizationHints',
  'NetworkTimeServiceQuerying', 'AimEnabled', 'PreconnectToSearch', 'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];
const OUR_DISABLED = ['WebRtcHideLocalIpsWithMdns'];

// Reads the `disabledFeatures = [ ... ]` array from the installed playwright-core (its chromium switches),
// so that a newer playwright-core's additions are kept when we pass our merged list.
export function playwrightDisabledFeatures() {
  try {
    const require = createRequire(import.meta.url);
    const pkgDir = path.dirname(require.resolve('playwright-core/package.json'));
    const candidates = [path.join(pkgDir, 'lib/coreBundle.js'), path.join(pkgDir, 'lib/server/chromium/chromiumSwitches.js')];
    for (const file of candidates) {
      if (!fs.existsSync(file)) continue;
      const src = fs.readFileSync(file, 'utf8');
      const start = src.indexOf('disabledFeatures = [');
      if (start < 0) continue;
      const end = src.indexOf(']', start);
      const body = src.slice(start, end).replace(/\/\/.*$/gm, '');
      const names = [...body.matchAll(/"([A-Za-z0-9_]+)"/g)].map((m) => m[1]);
      if (names.length) return names;
    }
  } catch { /* fall through */ }
  return FALLBACK_DISABLED;
}

export function disabledFeatures() {
  return [...new Set([...playwrightDisabledFeatures(), ...FALLBACK_DISABLED, ...OUR_DISABLED])];
}

export function launchArgs() {
  return [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--disable-features=${disabledFeatures().join(',')}`,
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  ];
}

export async function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...launchArgs(), ...extraArgs] });
}

// A separate user: its own context (storage, cookies) and one page. Console errors are collected in
// page.errors so a test can assert there were none.
// `phone: true` emulates a 375×667 phone (viewport, isMobile, hasTouch); `contextOptions` go to newContext
// (e.g. timezoneId, bypassCSP for axe-core, whose script the app's CSP would refuse).
export const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
export async function newUser(browser, { viewport = { width: 1280, height: 860 }, phone = false, contextOptions = {} } = {}) {
  const context = await browser.newContext({ ...(phone ? PHONE : { viewport }), ...contextOptions });
  const page = await context.newPage();
  page.errors = [];     // console errors (e.g. a refused WebSocket while the server restarts)
  page.exceptions = []; // uncaught exceptions in the page's code: a test asserts there are none
  page.on('pageerror', (err) => { page.exceptions.push(String(err)); page.errors.push(String(err)); });
  page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(msg.text()); });
  return { context, page };
}

// Signs in through the web client's form at url and waits for the first view after sign-in (Circles).
export async function signInThroughForm(page, url, name, password, timeout) {
  await page.goto(url);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout });
}

export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Every input, select, textarea and button on the page that has no accessible name (label element,
// aria-label, aria-labelledby, title, or — for buttons — text). Returns descriptions; [] is the goal.
export function unlabeledControls(page) {
  return page.evaluate(() => {
    const visibleText = (el) => (el.textContent || '').replace(/\s+/g, ' ').trim();
    const byIds = (ids) => ids.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map(visibleText).join(' ').trim();
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea, button')) {
      if (el.type === 'hidden') continue;
      let name = (el.getAttribute('aria-label') || '').trim();
      if (!name && el.getAttribute('aria-labelledby')) name = byIds(el.getAttribute('aria-labelledby'));
      if (!name && el.labels && el.labels.length) name = [...el.labels].map(visibleText).join(' ').trim();
      if (!name && el.tagName === 'BUTTON') name = visibleText(el);
      if (!name && (el.type === 'submit' || el.type === 'button')) name = el.value;
      if (!name) name = (el.getAttribute('title') || '').trim();
      if (!name) bad.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.name ? `[name=${el.name}]` : ''}`);
    }
    return bad;
  });
}

// axe-core (tests/node_modules) on the page as it is now, WCAG 2.0/2.1 A and AA rules only. Returns one line per
// violation ("rule: help (n nodes: selectors)"); [] is the goal. The page's context must have bypassCSP: the
// app's Content-Security-Policy (script-src 'self') refuses the injected script otherwise.
export async function axeViolations(page) {
  const require = createRequire(import.meta.url);
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(' | ')})`);
  });
  return result;
}

// Runs fn; if it throws, adds to the error what each page showed at that moment (its route, its connection
// state, the start of its view's text, its uncaught exceptions) and saves a screenshot of each, so that a
// failure in CI, where only the printed log survives, says what the pages looked like.
export async function withPageState(pages, fn) {
  try {
    return await fn();
  } catch (err) {
    const lines = [];
    for (const [name, page] of Object.entries(pages)) {
      if (page.isClosed()) continue;
      const state = await page.evaluate(() => ({
        hash: location.hash,
        conn: document.body.dataset.conn || '',
        view: (document.getElementById('view')?.innerText || '').replace(/\s+/g, ' ').slice(0, 240),
      })).catch((e) => ({ hash: '?', conn: '?', view: `(page not readable: ${e.message.split('\n')[0]})` }));
      lines.push(`page ${name}: ${state.hash} conn=${state.conn} exceptions=${page.exceptions?.length || 0} view: ${state.view}`);
      await shot(page, `failed-${name}`).catch(() => {});
    }
    if (lines.length && err instanceof Error) err.message += `\n${lines.join('\n')}`;
    throw err;
  }
}
