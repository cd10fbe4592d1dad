// record.test.mjs — recording with consent in Debian's Chromium: two participants (fake camera and microphone,
// each its own browser context, relay-only through staffroom-relay) in a room through a real staffroom-sfu;
// real staffroom-signal, Redis and PostgreSQL.
//   Ada presses Record; Bob is asked (an alert dialog) and agrees; both see the recording indicator; after 10 s
//   Ada stops it. Both are told it is saved. The SFU's files are checked by an independent reader (ffprobe):
//   one VP8 and one Opus file per participant, each 10 s ± 1. A camera file plays in Chromium (from a file URL:
//   the clips route is another module's). The media row is Ada's, shared with Bob; the access rule of
//   media_acl.h lets Ada and Bob see it and not Cy, a third member of the circle.
// Printed: the SFU's CPU per recorded participant (/proc, recording vs the same 10 s forwarding without), and the
// time from Stop to the saved event (files closed, row written). Screenshots in build/test-artifacts/record-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually } from '../lib/harness.mjs';
import { callStage, join } from '../lib/callstage.mjs';
import { shot } from '../lib/browser.mjs';
import { startSfu } from '../lib/sfu.mjs';

const T = 20000;
const RECORD_MS = 10000;
let h, stage, sfu, pg, recDir, ada, bob;

before(async () => {
  h = new Harness('e2e-record');
  pg = await h.postgres();
  stage = await callStage(h, { circle: 'Maths staffroom', people: [['ada', 'member'], ['bob', 'member'], ['cy', 'member']],
    args: ['--sfu-request-timeout', '10000', '--postgres-conninfo-file', pg.conninfoFile],
    browserArgs: ['--autoplay-policy=no-user-gesture-required'], viewport: { width: 960, height: 640 } });
  recDir = path.join(h.dir, 'media', 'recordings');
  fs.mkdirSync(recDir, { recursive: true });
  sfu = await startSfu(h, { redisPort: stage.stack.redis.port, args: ['--recordings-dir', recDir] });
  ada = await stage.open('ada');
  bob = await stage.open('bob');
});
after(async () => {
  await stage?.close();
  await h?.close();
});

// Remote cameras this page decodes.
function decoding(page) {
  return page.evaluate(async () => {
    const s = window.staffroomStage?.session;
    if (!s?.pc) return 0;
    let n = 0;
    (await s.pc.getStats()).forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video' && x.framesDecoded > 0) n++; });
    return n;
  });
}

// CPU seconds (user + system) the process has used so far.
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function ffprobe(file) {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type:format=duration',
    '-of', 'json', file]).toString());
}

function psql(sql) {
  const conninfo = fs.readFileSync(pg.conninfoFile, 'utf8').trim();
  return execFileSync('psql', [conninfo, '-At', '-c', sql]).toString().trim();
}

test('two participants consent, record 10 s, stop: four WebM files of 10 s ± 1, playable, owned by both, not by a third', async () => {
  for (const p of [ada, bob]) {
    await p.getByRole('button', { name: 'Join Drop-in room' }).click();
    await join(p, { timeout: T }); // the pre-join screen (camera and microphone check)
  }
  for (const p of [ada, bob]) await p.getByRole('region', { name: 'Room Drop-in room' }).waitFor({ timeout: T });
  await eventually(async () => (await decoding(ada)) >= 1 && (await decoding(bob)) >= 1,
    { timeoutMs: 60000, everyMs: 250, what: 'both pages decoding the other camera' });

  // The SFU's CPU over the same span without recording (forwarding only).
  const pid = sfu.rec.proc.pid;
  let c0 = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, RECORD_MS));
  const forwardingCpu = cpuSeconds(pid) - c0;

  await ada.getByRole('button', { name: 'Record', exact: true }).click();
  await ada.getByRole('status').filter({ hasText: 'Asking everyone to agree to record' }).waitFor({ timeout: T });
  const dialog = bob.getByRole('alertdialog', { name: 'Recording request' });
  await dialog.waitFor({ timeout: T });
  assert.match(await dialog.textContent(), /Ada wants to record this room/);
  await shot(bob, 'record-asked');
  await dialog.getByRole('button', { name: 'Agree to be recorded' }).click();
  for (const p of [ada, bob]) await p.getByRole('status').filter({ hasText: '● Recording' }).waitFor({ timeout: T });
  const t0 = Date.now();
  c0 = cpuSeconds(pid);
  await shot(ada, 'record-recording');
  await new Promise((r) => setTimeout(r, RECORD_MS - (Date.now() - t0)));
  const recordingCpu = cpuSeconds(pid) - c0;
  const tStop = Date.now();
  await ada.getByRole('button', { name: 'Stop recording' }).click();
  const saved = await Promise.all([ada, bob].map((p) => p.waitForFunction(() => window.staffroomRecording?.saved, null, { timeout: 30000 })
    .then((x) => x.jsonValue())));
  const stopToSaved = Date.now() - tStop;
  for (const p of [ada, bob]) await p.getByRole('button', { name: 'Record', exact: true }).waitFor({ timeout: T });
  const media = saved[0];
  assert.equal(saved[1].id, media.id);

  // Four files: each participant's camera (VP8) and microphone (Opus), 10 s ± 1 each, by ffprobe.
  const dir = path.join(recDir, media.id);
  const files = media.meta.files;
  assert.equal(files.length, 4, JSON.stringify(files));
  const devices = new Set(files.map((f) => f.pid));
  assert.equal(devices.size, 2);
  for (const f of files) {
    const p = ffprobe(path.join(dir, f.file));
    assert.equal(p.streams.length, 1);
    assert.equal(p.streams[0].codec_name, f.kind === 'video' ? 'vp8' : 'opus', f.file);
    const dur = Number(p.format.duration);
    assert.ok(Math.abs(dur - RECORD_MS / 1000) <= 1, `${f.file}: ${dur} s`);
    assert.ok(f.offset_ms >= 0 && f.offset_ms < 1500, `${f.file} starts ${f.offset_ms} ms in`);
  }
  for (const d of devices) {
    assert.deepEqual(files.filter((f) => f.pid === d).map((f) => f.kind).sort(), ['audio', 'video']);
  }

  // A camera file plays in Chromium.
  const cam = files.find((f) => f.kind === 'video');
  const player = await stage.browser.newPage();
  await player.goto(`file://${path.join(dir, cam.file)}`);
  const played = await player.waitForFunction(() => {
    const v = document.querySelector('video');
    if (!v) return false;
    v.muted = true;
    if (v.paused) v.play().catch(() => {});
    return v.currentTime > 1 && v.videoWidth > 0 && { duration: v.duration, width: v.videoWidth };
  }, null, { timeout: 30000 }).then((x) => x.jsonValue());
  assert.ok(Math.abs(played.duration - RECORD_MS / 1000) <= 1, `Chromium's duration ${played.duration}`);
  await player.close();

  // The row: Ada's, shared with Bob; who may see it by the rule of media_acl.h (Cy may not).
  const [aid, bid, cid] = ['ada', 'bob', 'cy'].map((n) => stage.u[n].user.id);
  assert.equal(psql(`SELECT owner || ' ' || kind || ' ' || state FROM media WHERE id = '${media.id}'`), `${aid} recording ready`);
  const canView = (uid) => psql(`SELECT count(*) FROM media m WHERE m.id = '${media.id}' AND (m.owner = '${uid}'
    OR EXISTS (SELECT 1 FROM media_shares ms WHERE ms.media_id = m.id AND ms.user_id = '${uid}'))`);
  assert.equal(canView(aid), '1');
  assert.equal(canView(bid), '1');
  assert.equal(canView(cid), '0');

  console.log(`# SFU CPU over ${RECORD_MS / 1000} s, 2 participants: forwarding ${forwardingCpu.toFixed(2)} s, forwarding + recording `
    + `${recordingCpu.toFixed(2)} s → recording costs ${((recordingCpu - forwardingCpu) / 2 / (RECORD_MS / 1000) * 100).toFixed(2)} % of a core per participant`);
  console.log(`# stop → saved event on both pages (files closed, row written): ${stopToSaved} ms`);
});
