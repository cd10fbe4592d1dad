// help.test.mjs — the night-shift journey in Debian's Chromium (fake camera and microphone), relay-only
// (?relay=1) through staffroom-relay on 127.0.0.1, against real staffroom-signal + Redis:
//   1. Bob, an expert of Statistics, goes on duty in his browser; Ada, a member, sees "1 expert on duty",
//      asks for help in the UI; Bob gets the offer (topic, details, who asks) and accepts; both decode video
//      over a relay/relay pair. Prints request click → first decoded frame on each side. The help channel
//      shows the request as taken by Bob.
//   2. Nobody on duty: Ada is told so at once and asks the expert who is online; nobody answers and she gets
//      the choices; Bob comes on duty and "Keep waiting" offers it to him (he says not now); cancelling ends
//      it (the help channel shows it cancelled).
// Screenshots: build/test-artifacts/help-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { shot } from '../lib/browser.mjs';
import { callStage, join } from '../lib/callstage.mjs';
import { firstFrames } from '../lib/media.mjs';

const T = 15000;
const HELP_TIMEOUT_S = 5; // long enough for Bob's click under load, short for the unanswered test
let h, stage, u;

before(async () => {
  h = new Harness('e2e-help');
  stage = await callStage(h, { circle: 'Statistics', people: [['ada', 'member'], ['bob', 'expert']],
    args: ['--help-timeout', String(HELP_TIMEOUT_S), '--help-sweep-interval', '100'] });
  ({ u } = stage);
});

after(async () => {
  if (stage) await stage.close();
  if (h) await h.close();
});

const open = (name) => stage.open(name);

async function openHelpChannel(page) {
  await page.getByRole('link', { name: /# help/ }).click();
  await page.getByRole('region', { name: 'Channel help' }).waitFor({ timeout: T });
}

test('1. night shift: Ada asks for help, Bob on duty accepts, both see each other through the relay', async () => {
  const b = await open('bob');
  await b.getByLabel(/I am on duty/).check();
  await b.locator('.help-count', { hasText: '1 expert on duty now' }).waitFor({ timeout: T });
  const a = await open('ada');
  await a.locator('.help-count', { hasText: '1 expert on duty now' }).waitFor({ timeout: T });
  assert.match(await a.locator('.circle-head .counts').textContent(), /1 on duty now/);
  assert.equal(await a.getByLabel(/I am on duty/).count(), 0, 'members have no duty toggle');
  await a.locator(`.member[data-user="${u.bob.user.id}"] .on-duty`).waitFor({ timeout: T });
  await a.getByRole('button', { name: 'Get help now' }).click();
  await a.getByLabel('What do you need help with?').fill('Explaining p-values to adult learners');
  await a.getByLabel('Details (optional)').fill('Evening class at 21:30, they keep asking what 0.05 means.');
  await shot(a, 'help-ask');
  const t0 = Date.now();
  await a.getByRole('button', { name: 'Ask the experts' }).click();
  await join(a); // the pre-join screen: the camera and microphone for the call to come
  // No screenshots from here to the first frames: they would count in the time printed below.
  const offer = b.getByRole('alertdialog', { name: 'Help request from Ada' });
  await offer.getByText('Explaining p-values to adult learners').waitFor({ timeout: T });
  assert.match(await offer.textContent(), /0\.05/);
  assert.equal(await a.locator('.help-waiting', { hasText: 'Waiting for an expert' }).count(), 1);
  const t1 = Date.now();
  await offer.getByRole('button', { name: 'Accept' }).click();
  await join(b);
  const [fa, fb] = await Promise.all([firstFrames(a, 1, t0), firstFrames(b, 1, t0)]);
  console.log(`# help request click → first decoded frame: asker ${fa.at} ms, expert ${fb.at} ms ` +
    `(of which request → offer shown ${t1 - t0} ms, Accept click → frames ${Math.max(fa.at, fb.at) - (t1 - t0)} ms)`);
  for (const s of [...fa.stats, ...fb.stats]) {
    assert.equal(s.local, 'relay', JSON.stringify(s));
    assert.equal(s.remote, 'relay', JSON.stringify(s));
  }
  await a.getByRole('region', { name: 'Call with Bob' }).locator('.conn-state[data-state="connected"]').waitFor({ timeout: T });
  await b.getByRole('region', { name: 'Call with Ada' }).locator('.conn-state[data-state="connected"]').waitFor({ timeout: T });
  assert.equal(await offer.count(), 0, 'the offer is gone once accepted');
  assert.equal(await a.locator('.help-waiting').count(), 0, 'the waiting state is gone once taken');
  await shot(a, 'help-call-asker');
  await shot(b, 'help-call-expert');
  // The call fills the window; after it, the help channel shows the request as taken.
  await a.getByRole('button', { name: 'Hang up' }).click();
  await b.locator('#call-notice').waitFor({ timeout: T });
  await openHelpChannel(a);
  await a.locator('.msg', { hasText: 'Explaining p-values' }).locator('.help-status', { hasText: /(taken|answered) by Bob/ })
    .waitFor({ timeout: T });
  await shot(a, 'help-channel-taken');
  await b.getByLabel(/I am on duty/).uncheck();
  await a.locator('.help-count', { hasText: '0 experts on duty now' }).waitFor({ timeout: T });
});

test('2. nobody on duty: Ada is told, may keep waiting, then cancels; the channel shows it', async () => {
  const a = await open('ada');
  await a.getByRole('button', { name: 'Get help now' }).click();
  await a.getByLabel('What do you need help with?').fill('Marking rubric for t-tests');
  await a.getByRole('button', { name: 'Ask the experts' }).click();
  // Nobody on duty is said at once; Bob is online (off duty), so he can be asked anyway.
  const nobody = a.locator('.help-nobody');
  await nobody.getByText('No expert is on duty right now.').waitFor({ timeout: T });
  await shot(a, 'help-nobody-on-duty');
  await nobody.getByRole('button', { name: 'Ask the expert online' }).click();
  await join(a);
  await a.locator('.help-waiting', { hasText: /offered to \d+ expert/ }).waitFor({ timeout: T });
  // Going to another channel (the circle view is rebuilt) keeps the request's state.
  await a.getByRole('link', { name: /# general/ }).click();
  await a.getByRole('region', { name: 'Channel general' }).waitFor({ timeout: T });
  await a.locator('.help-waiting', { hasText: 'Marking rubric' }).waitFor({ timeout: T });
  const choices = a.locator('.help-unanswered');
  await choices.waitFor({ timeout: HELP_TIMEOUT_S * 1000 + T });
  for (const name of ['Keep waiting', 'Leave it as a post', 'Book a mentor']) {
    assert.equal(await choices.getByRole('button', { name }).count(), 1, name);
  }
  await shot(a, 'help-unanswered');
  // "Book a mentor" lists the circle's mentors (each a link to the slot picker); Statistics has none
  await choices.getByRole('button', { name: 'Book a mentor' }).click();
  await choices.getByText('This circle has no mentors yet.').waitFor({ timeout: T });
  await openHelpChannel(a);
  await a.locator('.msg', { hasText: 'Marking rubric' }).locator('.help-status', { hasText: 'unanswered' }).waitFor({ timeout: T });
  // Bob comes on duty; Ada keeps waiting: the request is offered to him; he says not now.
  const b = await open('bob');
  await b.getByLabel(/I am on duty/).check();
  await a.locator('.help-count', { hasText: '1 expert on duty now' }).waitFor({ timeout: T });
  await a.locator('.help-unanswered').getByRole('button', { name: 'Keep waiting' }).click();
  await a.locator('.help-waiting', { hasText: 'offered to 1 expert' }).waitFor({ timeout: T });
  await shot(a, 'help-waiting');
  const offer = b.getByRole('alertdialog', { name: 'Help request from Ada' });
  await offer.getByText('Marking rubric for t-tests').waitFor({ timeout: T });
  await shot(b, 'help-offer');
  assert.match(await b.title(), /^\(1\) /, 'the tab title counts the offers waiting');
  await offer.getByRole('button', { name: 'Not now' }).click();
  assert.equal(await offer.count(), 0);
  assert.doesNotMatch(await b.title(), /^\(\d+\) /);
  await a.locator('.msg', { hasText: 'Marking rubric' }).locator('.help-status', { hasText: 'waiting' }).waitFor({ timeout: T });
  await a.getByRole('button', { name: 'Cancel request' }).click();
  await a.getByRole('button', { name: 'Get help now' }).waitFor({ timeout: T });
  await a.locator('.msg', { hasText: 'Marking rubric' }).locator('.help-status', { hasText: 'cancelled' }).waitFor({ timeout: T });
  await shot(a, 'help-channel-cancelled');
});
