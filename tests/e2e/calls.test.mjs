// calls.test.mjs — calls and drop-in rooms in Debian's Chromium (fake camera and microphone), relay-only
// (?relay=1 → iceTransportPolicy 'relay') through staffroom-relay on 127.0.0.1 over UDP, against real
// staffroom-signal + Redis. Users are registered and put in a circle over the WebSocket (the UI for that is
// tested in chat.test.mjs); each user is its own browser context, signed in with its token.
//   1. A calls B from the member list (through the pre-join screen: preview, mic level, pickers), B accepts
//      (its pre-join, then Answer): both decode video over a relay/relay candidate pair; prints Answer → first
//      decoded frame on each side. A microphone muted in the pre-join starts the call muted.
//   2. Hang-up on one side ends the call on the other.
//   3. A cancels the pre-join (nothing rings); B declines; then B does not answer: A is told each.
//   4. Three users in the circle's drop-in room all receive each other's video; a fourth, viewing the
//      circle, sees the three listed before joining.
// Screenshots: build/test-artifacts/calls-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { shot } from '../lib/browser.mjs';
import { callStage, prejoin, join } from '../lib/callstage.mjs';
import { mediaStats, firstFrames } from '../lib/media.mjs';

const T = 15000;
const RING_S = 8; // short for the no-answer test, long enough that a loaded machine still clicks Accept in time
let h, stage, u;

before(async () => {
  h = new Harness('e2e-calls');
  stage = await callStage(h, { circle: 'Statistics evenings', people: [['ada', 'member'], ['bob', 'expert'], ['cy', 'member'], ['dee', 'member']],
    args: ['--call-ring-timeout', String(RING_S), '--room-media', 'mesh'] });
  ({ u } = stage);
});

after(async () => {
  if (stage) await stage.close();
  if (h) await h.close();
});

const open = (name) => stage.open(name);

const notice = (page) => page.locator('#call-notice');

test('1. A calls B from the member list, B accepts: video both ways through the relay', async () => {
  const a = await open('ada');
  const b = await open('bob');
  const call = a.getByRole('button', { name: 'Call Bob' });
  await call.waitFor({ timeout: T });
  assert.match(await call.getAttribute('class'), /prominent/, 'experts have a prominent call button');
  await call.click();
  // The pre-join screen: a preview, a moving microphone level (Chromium's fake microphone beeps), the
  // camera and microphone pickers; the microphone is switched off here, so the call starts muted.
  const pre = await prejoin(a);
  await a.waitForFunction(() => document.querySelector('.prejoin-preview video')?.readyState >= 2, null, { timeout: T });
  await a.waitForFunction(() => Number(document.querySelector('.mic-meter')?.dataset.level) > 0.01, null, { timeout: T, polling: 100 });
  assert.ok(await pre.getByRole('combobox', { name: 'Camera' }).locator('option').count() >= 1, 'cameras listed');
  assert.ok(await pre.getByRole('combobox', { name: 'Microphone' }).locator('option').count() >= 1, 'microphones listed');
  assert.equal(await a.evaluate(() => document.activeElement?.textContent), 'Call now', 'focus starts on the Join button');
  await shot(a, 'calls-prejoin');
  await pre.getByRole('checkbox', { name: 'Microphone on' }).uncheck();
  await a.waitForFunction(() => document.querySelector('.mic-meter')?.dataset.level === '0.000', null, { timeout: T, polling: 100 });
  await join(a);
  await a.getByRole('dialog', { name: 'Calling Bob' }).waitFor({ timeout: T });
  const ringing = b.getByRole('alertdialog', { name: 'Incoming call from Ada' });
  await ringing.waitFor({ timeout: T });
  await shot(b, 'calls-incoming');
  await ringing.getByRole('button', { name: 'Accept' }).click();
  const t0 = await join(b);
  const [fa, fb] = await Promise.all([firstFrames(a, 1, t0), firstFrames(b, 1, t0)]);
  console.log(`# Answer (pre-join) → first decoded frame: caller ${fa.at} ms, callee ${fb.at} ms`);
  for (const s of [...fa.stats, ...fb.stats]) {
    assert.equal(s.local, 'relay', JSON.stringify(s));
    assert.equal(s.remote, 'relay', JSON.stringify(s));
  }
  await a.getByRole('region', { name: 'Call with Bob' }).locator('.conn-state[data-state="connected"]').waitFor({ timeout: T });
  await b.getByRole('region', { name: 'Call with Ada' }).locator('.conn-state[data-state="connected"]').waitFor({ timeout: T });
  // The call fills the window and keyboard focus starts on its controls; on a phone-sized window it still fits
  // (nothing wider than the screen, the control bar on screen).
  assert.equal(await a.evaluate(() => document.activeElement?.textContent), 'Unmute microphone', 'muted as chosen in the pre-join');
  assert.equal(await a.evaluate(() => [...window.staffroomPeers][0].pc.getSenders().find((s) => s.track?.kind === 'audio').track.enabled), false,
    'the microphone track is sent disabled');
  await a.getByRole('button', { name: 'Unmute microphone' }).click();
  await b.setViewportSize({ width: 375, height: 667 });
  const hang = b.getByRole('region', { name: 'Call with Ada' }).getByRole('button', { name: 'Hang up' });
  const box = await hang.boundingBox();
  assert.ok(box && box.y + box.height <= 667 && box.x + box.width <= 375, `the hang-up button is on a phone's screen: ${JSON.stringify(box)}`);
  assert.equal(await b.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, 'no sideways scrolling in a call');
  await shot(b, 'calls-in-call-phone');
  await b.setViewportSize({ width: 1280, height: 860 });
  // Presence: the others see both in a call.
  const c = await open('cy');
  await c.locator('.member[data-name] .presence[data-presence="in_call"]').nth(1).waitFor({ timeout: T });
  // Mute and camera off toggle the local tracks.
  await a.getByRole('button', { name: 'Mute microphone' }).click();
  await a.getByRole('button', { name: 'Turn camera off' }).click();
  assert.deepEqual(await a.evaluate(() => [...window.staffroomPeers][0].pc.getSenders().map((s) => s.track?.enabled)), [false, false]);
  await a.getByRole('button', { name: 'Unmute microphone' }).click();
  await a.getByRole('button', { name: 'Turn camera on' }).click();
  // ICE restart (what a failed connection triggers), from the polite callee: it re-offers over call.signal,
  // new ICE credentials are in use on both sides and video keeps being decoded.
  const ufrag = (page) => page.evaluate(() => [...window.staffroomPeers][0].pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1]);
  const [ua, ub] = [await ufrag(a), await ufrag(b)];
  const before = (await mediaStats(a))[0].frames;
  await b.evaluate(() => [...window.staffroomPeers][0].restartIce());
  assert.equal(await b.evaluate(() => [...window.staffroomPeers][0].restarts), 1);
  const deadline = Date.now() + T;
  while ((await ufrag(a)) === ua || (await ufrag(b)) === ub) {
    assert.ok(Date.now() < deadline, 'ICE credentials changed on both sides after the restart');
    await new Promise((r) => setTimeout(r, 50));
  }
  await a.waitForFunction(async (n) => {
    const st = await [...window.staffroomPeers][0].pc.getStats();
    let f = 0; st.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') f += x.framesDecoded; });
    return f > n + 10;
  }, before, { timeout: T, polling: 100 });
  assert.equal((await mediaStats(b))[0].local, 'relay');
  await b.getByRole('region', { name: 'Call with Ada' }).locator('.conn-state', { hasText: 'Connected' }).waitFor({ timeout: T });
  // Device picker: choosing a camera swaps the sent track in place and the other side keeps decoding.
  const region = a.getByRole('region', { name: 'Call with Bob' });
  const camera = region.getByRole('combobox', { name: 'Camera' });
  await camera.waitFor({ timeout: T });
  assert.ok(await region.getByRole('combobox', { name: 'Microphone' }).locator('option').count() >= 1, 'microphones listed');
  const cameras = await camera.locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(cameras.length >= 1, 'cameras listed');
  const sentVideo = () => a.evaluate(() => [...window.staffroomPeers][0].pc.getSenders().find((x) => x.track?.kind === 'video').track.id);
  const trackBefore = await sentVideo();
  const framesAtB = (await mediaStats(b))[0].frames;
  await camera.selectOption(cameras[cameras.length - 1]);
  await a.waitForFunction((id) => [...window.staffroomPeers][0].pc.getSenders().some((x) => x.track?.kind === 'video' && x.track.id !== id),
    trackBefore, { timeout: T, polling: 50 });
  assert.notEqual(await sentVideo(), trackBefore, 'a new camera track is sent');
  await b.waitForFunction(async (n) => {
    const st = await [...window.staffroomPeers][0].pc.getStats();
    let f = 0; st.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') f += x.framesDecoded; });
    return f > n + 10;
  }, framesAtB, { timeout: T, polling: 100 });
  await shot(a, 'calls-in-call-caller');
  await shot(b, 'calls-in-call-callee');
});

test('2. hang-up on one side ends the call on the other', async () => {
  const a = await open('ada');
  const b = await open('bob');
  await b.getByRole('region', { name: 'Call with Ada' }).getByRole('button', { name: 'Hang up' }).click();
  await notice(a).filter({ hasText: 'The call has ended.' }).waitFor({ timeout: T });
  assert.equal(await a.getByRole('region', { name: 'Call with Bob' }).count(), 0);
  assert.equal(await a.evaluate(() => window.staffroomPeers.size), 0, 'the caller closed its peer connection');
  await shot(a, 'calls-hung-up');
});

test('3. B declines, then B does not answer: A is told each', async () => {
  const a = await open('ada');
  const b = await open('bob');
  // Cancel on the pre-join screen: no call; the camera is let go and focus goes back to the button.
  await a.getByRole('button', { name: 'Call Bob' }).click();
  await (await prejoin(a)).getByRole('button', { name: 'Cancel' }).click();
  await a.getByRole('dialog', { name: /^Before you join/ }).waitFor({ state: 'detached', timeout: T });
  assert.equal(await a.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Call Bob');
  assert.equal(await a.getByRole('dialog', { name: 'Calling Bob' }).count(), 0, 'nothing is called');
  await a.getByRole('button', { name: 'Call Bob' }).click();
  await join(a);
  await b.getByRole('alertdialog', { name: 'Incoming call from Ada' }).getByRole('button', { name: 'Decline' }).click();
  await notice(a).filter({ hasText: 'Bob declined the call.' }).waitFor({ timeout: T });
  await shot(a, 'calls-declined');
  await a.getByRole('button', { name: 'Call Bob' }).click();
  const t0 = await join(a);
  await b.getByRole('alertdialog', { name: 'Incoming call from Ada' }).waitFor({ timeout: T });
  await notice(a).filter({ hasText: 'Bob did not answer.' }).waitFor({ timeout: T });
  const took = Date.now() - t0;
  assert.ok(took >= RING_S * 1000 - 200, `told after ${took} ms`);
  await b.getByRole('alertdialog').waitFor({ state: 'detached', timeout: T });
  await shot(a, 'calls-no-answer');
});

test('4. three in the drop-in room receive each other; a fourth sees them before joining', async () => {
  const names = ['ada', 'bob', 'cy'];
  const pages = [];
  for (const n of names) pages.push(await open(n));
  const dee = await open('dee');
  const t0 = Date.now();
  for (const p of pages) {
    const btn = p.getByRole('button', { name: 'Join Drop-in room' });
    await btn.waitFor({ timeout: T });
    await btn.click();
    await join(p);
    await p.getByRole('region', { name: 'Room Drop-in room' }).waitFor({ timeout: T });
  }
  const inside = dee.getByRole('list', { name: 'Inside Drop-in room' });
  for (const n of ['Ada', 'Bob', 'Cy']) await inside.getByText(n, { exact: true }).waitFor({ timeout: T });
  assert.equal(await inside.locator('li').count(), 3);
  await shot(dee, 'calls-room-seen-before-joining');
  const frames = await Promise.all(pages.map((p) => firstFrames(p, 2, t0, 30000)));
  for (const f of frames) for (const s of f.stats) {
    assert.equal(s.local, 'relay', JSON.stringify(s));
    assert.equal(s.remote, 'relay', JSON.stringify(s));
  }
  console.log(`# room: all three decoding from both others ${Math.max(...frames.map((f) => f.at))} ms after the first join click`);
  await shot(pages[2], 'calls-room-three');
  // Leaving updates what the viewer sees.
  await pages[0].getByRole('button', { name: 'Leave room' }).click();
  await inside.locator('li').nth(1).waitFor({ timeout: T });
  await dee.waitForFunction(() => document.querySelectorAll('.room-participants li').length === 2, null, { timeout: T });
  for (const x of Object.values(u)) assert.deepEqual(x.page?.exceptions || [], []);
});
