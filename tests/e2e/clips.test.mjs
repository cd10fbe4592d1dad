// clips.test.mjs — lesson clips in Debian's Chromium against real staffroom-signal + Redis + PostgreSQL: a
// teacher uploads a clip on #/videos (the first chunk's connection is cut: the upload resumes by itself and
// the progress bar reaches 100%), opens it in the player (#/media/<id>), comments at 3 s with a tag, and
// clicking the comment seeks the player there (video.currentTime); the timeline marks the comment. axe-core
// finds no WCAG 2.1 A/AA violation on either view. The clip is made by ffmpeg at test time.
// Screenshots: build/test-artifacts/clips-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { connect, registerUser, uniqueName } from '../lib/client.mjs';
import { launchBrowser, newUser, shot, unlabeledControls, axeViolations } from '../lib/browser.mjs';
import { startWebStack } from '../lib/webstack.mjs';

const T = 30000;
let h; let stack; let browser; let clip; let teacher; let mentor;

before(async () => {
  h = new Harness('e2e-clips');
  clip = path.join(h.dir, 'lesson.webm');
  // 6 s of noisy testsrc: about 8 MB, so the upload takes two chunks
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25,noise=alls=80:allf=t',
    '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '6', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8',
    '-b:v', '8M', '-qmin', '0', '-qmax', '4', '-c:a', 'libopus', clip]);
  assert.ok(fs.statSync(clip).size > 4.5 * 1024 * 1024, 'the clip needs more than one 4 MiB chunk');
  const pg = await h.postgres();
  stack = await startWebStack(h, { args: ['--login-rate', '1000', '--login-burst', '100', '--postgres-conninfo-file', pg.conninfoFile,
    '--media-dir', path.join(h.dir, 'media')] });
  await eventually(() => new RegExp(`schema version ${SCHEMA_VERSION}\\b`).test(fs.readFileSync(stack.signal.logPath, 'utf8')),
    { what: 'PostgreSQL migrated', timeoutMs: T });
  const c = await connect(stack.wsUrl);
  const name = uniqueName('teacher');
  await registerUser(c, name, 'teacher password 123', { display_name: 'Tess Teacher' });
  await c.close();
  teacher = { name, password: 'teacher password 123' };
  const c2 = await connect(stack.wsUrl);
  const mname = uniqueName('mentor');
  await registerUser(c2, mname, 'mentor password 123', { display_name: 'Maria Mentor' });
  await c2.close();
  mentor = { name: mname, password: 'mentor password 123' };
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (h) await h.close();
});

async function signIn(page, who) {
  await page.goto(stack.url);
  await page.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await page.getByLabel('User name').fill(who.name);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });
}

test('upload a clip (resuming after a cut connection), comment at a time, click the comment to seek; axe clean', async () => {
  const { page } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await page.goto(stack.url);
  await page.getByRole('heading', { name: 'Sign in to Staffroom' }).waitFor({ timeout: T });
  await page.getByLabel('User name').fill(teacher.name);
  await page.getByLabel('Password').fill(teacher.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Circles' }).waitFor({ timeout: T });

  await page.getByRole('link', { name: 'Videos' }).click();
  await page.getByRole('heading', { name: 'Videos', level: 1 }).waitFor({ timeout: T });
  await page.getByText('No clips yet').waitFor({ timeout: T });
  assert.deepEqual(await unlabeledControls(page), []);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, 'clips-videos-empty');

  // The first chunk's connection is cut once: the client asks where to resume and carries on.
  let cut = 0;
  let puts = 0;
  await page.route('**/media/uploads/*', (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    puts++;
    if (cut++ === 0) return route.abort('connectionreset');
    return route.continue();
  });
  await page.getByLabel('Video file (WebM or MP4)').setInputFiles(clip);
  await page.getByLabel('Title').fill('Year 9 starter: questioning');
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.getByText('Uploaded “Year 9 starter: questioning”').waitFor({ timeout: 60000 });
  assert.ok(puts >= 3, `one cut PUT and two chunks, saw ${puts}`);
  const link = page.getByRole('link', { name: 'Year 9 starter: questioning' });
  await link.waitFor({ timeout: T });
  await shot(page, 'clips-videos-list');
  assert.deepEqual(await axeViolations(page), []);

  await link.click();
  await page.getByRole('heading', { name: 'Year 9 starter: questioning', level: 1 }).waitFor({ timeout: T });
  await page.waitForFunction(() => document.querySelector('video')?.readyState >= 1, null, { timeout: T });
  const duration = await page.evaluate(() => document.querySelector('video').duration);
  assert.ok(duration > 5.5 && duration < 6.5, `duration ${duration}`);
  // Seek to 3 s (the server answers the player's Range requests) and comment there.
  await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('seeked', resolve, { once: true });
    v.currentTime = 3;
  }));
  await page.getByRole('button', { name: /Add comment at 0:03/ }).waitFor({ timeout: T });
  await page.getByLabel('Comment', { exact: true }).fill('The question to the back row: wait time was good');
  await page.getByLabel('Tag', { exact: true }).selectOption('questioning');
  await page.getByRole('button', { name: /Add comment at 0:03/ }).click();
  const seekButton = page.getByRole('button', { name: /Play from 0:03: The question to the back row/ });
  await seekButton.waitFor({ timeout: T });
  assert.equal(await page.locator('.timeline-mark').count(), 1);

  // Back to the start, then the comment takes the player to its time.
  await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('seeked', resolve, { once: true });
    v.currentTime = 0;
  }));
  assert.ok((await page.evaluate(() => document.querySelector('video').currentTime)) < 0.5);
  await seekButton.click();
  await page.waitForFunction(() => Math.abs(document.querySelector('video').currentTime - 3) < 0.05, null, { timeout: T });
  // The player really plays from there: frames are decoded at that position.
  await page.waitForFunction(() => document.querySelector('video').readyState >= 2, null, { timeout: T });
  await shot(page, 'clips-player');
  assert.deepEqual(await unlabeledControls(page), []);
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(page.exceptions, []);
});

test('the teacher shares the clip with her mentor, who sees it and her new comment arrive live', async () => {
  const { page: tp } = await newUser(browser, { contextOptions: { bypassCSP: true } });
  await signIn(tp, teacher);
  await tp.goto(`${stack.url}#/videos`);
  await tp.getByRole('button', { name: 'Share Year 9 starter: questioning' }).click();
  const dialog = tp.getByRole('dialog', { name: 'Share “Year 9 starter: questioning”' });
  await dialog.waitFor({ timeout: T });
  assert.deepEqual(await axeViolations(tp), []);
  await dialog.getByLabel('Name of the person').fill('no_such_person_here');
  await dialog.getByRole('button', { name: 'Share', exact: true }).click();
  await dialog.getByText('no such person').waitFor({ timeout: T });
  await dialog.getByLabel('Name of the person').fill(mentor.name);
  await dialog.getByRole('button', { name: 'Share', exact: true }).click();
  await dialog.getByText(`Shared with ${mentor.name}.`).waitFor({ timeout: T });
  await shot(tp, 'clips-share-dialog');
  await dialog.getByRole('button', { name: 'Close' }).click();

  const { page: mp } = await newUser(browser);
  await signIn(mp, mentor);
  await mp.goto(`${stack.url}#/videos`);
  const link = mp.getByRole('link', { name: 'Year 9 starter: questioning' });
  await link.waitFor({ timeout: T });
  await mp.getByText('shared with you').waitFor({ timeout: T });
  assert.equal(await mp.getByRole('button', { name: /^Delete/ }).count(), 0, 'only the owner can delete');
  await link.click();
  await mp.getByRole('button', { name: /Play from 0:03: The question to the back row/ }).waitFor({ timeout: T });

  // The teacher comments at 1 s in her player: the mentor's list and timeline get it without a reload.
  await tp.getByRole('link', { name: 'Year 9 starter: questioning' }).click();
  await tp.waitForFunction(() => document.querySelector('video')?.readyState >= 1, null, { timeout: T });
  await tp.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('seeked', resolve, { once: true });
    v.currentTime = 1;
  }));
  await tp.getByLabel('Comment', { exact: true }).fill('Calm, clear start');
  await tp.getByLabel('Tag', { exact: true }).selectOption('strength');
  await tp.getByRole('button', { name: /Add comment at 0:01/ }).click();
  const arrived = mp.getByRole('button', { name: /Play from 0:01: Calm, clear start/ });
  await arrived.waitFor({ timeout: T });
  assert.equal(await mp.locator('.timeline-mark').count(), 2);
  await arrived.click();
  await mp.waitForFunction(() => Math.abs(document.querySelector('video').currentTime - 1) < 0.05, null, { timeout: T });
  // The mentor answers that comment: the reply sits under it, at its time, for both.
  await mp.getByRole('button', { name: 'Reply to the comment at 0:01' }).click();
  await mp.getByText(/Replying to Tess Teacher at 0:01/).waitFor({ timeout: T });
  await mp.getByLabel('Comment', { exact: true }).fill('Agreed: the routine is clear');
  await mp.getByRole('button', { name: /Add comment at/ }).click();
  await tp.getByRole('button', { name: /Play from 0:01: Agreed: the routine is clear/ }).waitFor({ timeout: T });
  const order = await tp.locator('.comment-list > li .comment-text').allTextContents();
  assert.deepEqual(order, ['Calm, clear start', 'Agreed: the routine is clear', 'The question to the back row: wait time was good']);
  assert.equal(await tp.locator('.comment.reply').count(), 1);
  assert.deepEqual(await unlabeledControls(mp), []);
  await shot(mp, 'clips-mentor-player');
  assert.deepEqual(mp.exceptions, []);
  assert.deepEqual(tp.exceptions, []);
});
