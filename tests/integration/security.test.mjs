// security.test.mjs — what an outside probe looks at over HTTP (issue 12): every HTTP response of
// staffroom-signal — the web client's files, the routes (/healthz, /metrics, /ics), errors — carries a
// strict Content-Security-Policy and the usual security headers; the web client works under them in
// Debian's Chromium (no CSP violation while it loads, connects and signs up) and an inline script is refused.
// And sign-in limits that hold across nodes and cannot be reset by rotating addresses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { SIGNIN, startReadyStack } from '../lib/community.mjs';
import { launchBrowser, newUser, unlabeledControls } from '../lib/browser.mjs';
import { connect } from '../lib/client.mjs';

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
    // The profile's sign-in section: this browser's session (named after it), a password change.
    await page.goto(`${stack.httpUrl}/#/profile`);
    await page.getByRole('heading', { name: 'Sign-in and security' }).waitFor({ timeout: 15000 });
    const sessions = page.getByRole('list', { name: 'Your sessions' });
    await sessions.getByText('this browser').waitFor({ timeout: 15000 });
    assert.match(await sessions.textContent(), /Chromium on Linux/);
    await page.getByLabel('Current password').fill('not the password');
    await page.getByLabel('New password (8 characters or more)').fill('another long password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The current password is not right.').waitFor({ timeout: 30000 });
    await page.getByLabel('Current password').fill('a long enough password');
    await page.getByLabel('New password (8 characters or more)').fill('another long password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText(/^Password changed\./).waitFor({ timeout: 30000 });
    assert.deepEqual(await unlabeledControls(page), []);
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

test('sign-in limits hold across nodes (in Redis), per address and per account, whatever address is used', async () => {
  // Its own community: one Redis, two nodes, 4 attempts at once then 1 a minute.
  const limited = await startReadyStack(h, { nodes: 2, args: ['--login-rate', '1', '--login-burst', '4'] });
  const [n0, n1] = limited.nodes;
  const from = (ip, url) => connect(url, { localAddress: ip });
  const attempt = async (c, name) => c.request('auth.login', { name, password: 'wrong password' }, 30000);

  // One address, alternating between the nodes: 4 attempts in all, not 4 per node.
  const answers = [];
  const a0 = await from('127.0.0.2', n0.wsUrl);
  const a1 = await from('127.0.0.2', n1.wsUrl);
  for (let i = 0; i < 6; i++) answers.push(await attempt(i % 2 ? a1 : a0, `nobody${i}`));
  assert.deepEqual(answers.map((r) => r.code), ['unauthorized', 'unauthorized', 'unauthorized', 'unauthorized', 'rate_limited', 'rate_limited']);
  assert.ok(answers[4].retry_after_ms > 0 && answers[4].retry_after_ms <= 60000);

  // One account, a fresh address for every attempt (rotating through addresses): still 4 in all.
  const victim = 'victim_account';
  const codes = [];
  for (let i = 0; i < 7; i++) {
    const c = await from(`127.0.1.${10 + i}`, i % 2 ? n1.wsUrl : n0.wsUrl);
    codes.push((await attempt(c, victim)).code);
    await c.close();
  }
  assert.deepEqual(codes.slice(0, 4), ['unauthorized', 'unauthorized', 'unauthorized', 'unauthorized']);
  assert.deepEqual(codes.slice(4), ['rate_limited', 'rate_limited', 'rate_limited']);

  // Other addresses and accounts are not affected.
  const other = await from('127.0.2.1', n1.wsUrl);
  assert.equal((await attempt(other, 'someone_else')).code, 'unauthorized');
  for (const c of [a0, a1, other]) await c.close();
});

test('behind a trusted proxy the client address comes from X-Real-IP / X-Forwarded-For; from anyone else it is ignored', async () => {
  // Sign-in limits count per client address: 2 at once. The "proxy" is 127.0.0.5.
  const s = await startReadyStack(h, { args: ['--login-rate', '1', '--login-burst', '2', '--trusted-proxy', '127.0.0.5'] });
  const attempt = async (ip, headers) => {
    const c = await connect(s.wsUrl, { localAddress: ip, headers });
    const r = await c.request('auth.login', { name: `n${Math.random().toString(16).slice(2, 10)}`, password: 'wrong password' }, 30000);
    await c.close();
    return r.code;
  };
  // Through the proxy, three different clients: each has its own bucket.
  for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3'])
    assert.equal(await attempt('127.0.0.5', { 'X-Real-IP': client }), 'unauthorized');
  // X-Forwarded-For: the last entry (the proxy's own) counts, not what the client put before it.
  assert.equal(await attempt('127.0.0.5', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' }), 'unauthorized');
  assert.equal(await attempt('127.0.0.5', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' }), 'rate_limited');
  // A client that is not the proxy cannot pick its address: its headers are ignored.
  assert.equal(await attempt('127.0.0.6', { 'X-Real-IP': '192.0.2.1' }), 'unauthorized');
  assert.equal(await attempt('127.0.0.6', { 'X-Real-IP': '192.0.2.2' }), 'unauthorized');
  assert.equal(await attempt('127.0.0.6', { 'X-Real-IP': '192.0.2.3' }), 'rate_limited');
});
