// security.test.mjs — what an outside probe looks at over HTTP (issue 12): every HTTP response of
// staffroom-signal — the web client's files, the routes (/healthz, /metrics, /ics), errors — carries a
// strict Content-Security-Policy and the usual security headers; the web client works under them in
// Debian's Chromium (no CSP violation while it loads, connects and signs up) and an inline script is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { SIGNIN, startReadyStack } from '../lib/community.mjs';
import { launchBrowser, newUser } from '../lib/browser.mjs';

let h, stack;
before(async () => {
  h = new Harness('security');
  stack = await startReadyStack(h, { args: [...SIGNIN] });
});
after(async () => { await h.close(); });

// The CSP's directives as a map: name → list of sources.
function csp(header) {
  return Object.fromEntries(header.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name, ...rest] = d.split(/\s+/);
    return [name, rest];
  }));
}

test('every HTTP response carries a strict CSP and the security headers', async () => {
  const paths = [
    ['/', 200], ['/index.html', 200], ['/app.js', 200], ['/style.css', 200], ['/healthz', 200], ['/metrics', 200],
    [`/ics/feed.ics?token=${'0'.repeat(64)}`, 401], ['/ics/nonsense', 404], ['/no-such-file.js', 404],
  ];
  for (const [p, status] of paths) {
    const res = await fetch(`${stack.httpUrl}${p}`);
    await res.arrayBuffer();
    assert.equal(res.status, status, p);
    const hd = res.headers;
    const policy = hd.get('content-security-policy');
    assert.ok(policy, `${p}: Content-Security-Policy`);
    const d = csp(policy);
    assert.deepEqual(d['default-src'], ["'none'"], `${p}: default-src 'none'`);
    assert.deepEqual(d['script-src'], ["'self'"], `${p}: scripts only from the server, no inline, no eval`);
    assert.deepEqual(d['style-src'], ["'self'"], `${p}: styles only from the server`);
    assert.deepEqual(d['connect-src'], ["'self'"], `${p}: the WebSocket to this server only`);
    assert.deepEqual(d['frame-ancestors'], ["'none'"], `${p}: never framed`);
    assert.deepEqual(d['base-uri'], ["'none'"], p);
    assert.deepEqual(d['object-src'], ["'none'"], p);
    assert.ok(!policy.includes("'unsafe-inline'") && !policy.includes("'unsafe-eval'"), `${p}: nothing unsafe`);
    assert.equal(hd.get('x-content-type-options'), 'nosniff', p);
    assert.equal(hd.get('x-frame-options'), 'DENY', p);
    assert.equal(hd.get('referrer-policy'), 'no-referrer', p);
    const perms = hd.get('permissions-policy');
    assert.ok(perms, `${p}: Permissions-Policy`);
    for (const f of ['camera', 'microphone', 'display-capture']) assert.match(perms, new RegExp(`${f}=\\(self\\)`), `${p}: ${f} for self`);
    for (const f of ['geolocation', 'payment', 'usb']) assert.match(perms, new RegExp(`${f}=\\(\\)`), `${p}: ${f} for nobody`);
    assert.equal(hd.get('cross-origin-opener-policy'), 'same-origin', p);
  }
});

test('the web client works under the policy: no violation while it loads, connects and signs up; an inline script is refused', async () => {
  const browser = await launchBrowser();
  try {
    const { page } = await newUser(browser);
    // Recorded from the first script on: every CSP violation the page reports.
    await page.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(stack.httpUrl);
    await page.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: 15000 });
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create your Staffroom account' }).waitFor({ timeout: 15000 });
    await page.getByLabel('User name').fill(`csp${process.pid % 100000}`);
    await page.getByLabel('Display name (shown to others)').fill('CSP check');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    // Signed up over the WebSocket (connect-src 'self' lets it through), the app renders its views.
    await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: 15000 });
    await page.goto(`${stack.httpUrl}/#/sessions`);
    await page.getByRole('heading', { name: 'My sessions' }).waitFor({ timeout: 15000 });
    await page.getByRole('link', { name: 'Subscribe to my sessions in a calendar app' }).waitFor({ timeout: 15000 });
    assert.deepEqual(await page.evaluate(() => window.cspViolations), [], 'the app itself breaks no rule');
    assert.deepEqual(page.errors.filter((e) => /Content Security Policy/i.test(e)), []);
    assert.deepEqual(page.exceptions, []);
    // What an injected string would try: an inline script is refused (and reported).
    const ran = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.injectedRan = true';
      document.head.append(s);
      return window.injectedRan === true;
    });
    assert.equal(ran, false, 'an inline script does not run');
    assert.ok((await page.evaluate(() => window.cspViolations)).some((v) => v.startsWith('script-src')), 'and is reported');
  } finally {
    await browser.close();
  }
});
