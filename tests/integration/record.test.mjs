// record.test.mjs — in-call recording with consent (signalling/PROTOCOL.md, "Recording") over a real Redis,
// PostgreSQL, staffroom-signal and staffroom-sfu, with a WebRTC client that is not a browser (tests/tools/sfu_peer)
// publishing a real VP8 clip and Opus-sized audio.
//
// Consent: a request asks everyone else present (room.record.asked) and announces room.record.state asking
// with who is pending; a decline turns it off for everyone; a recording starts only when everyone present agreed;
// a late joiner is asked first and, declining, is not recorded; anyone stops it. Bad input and authorisation:
// a missing/malformed room, a missing agree, someone not in the room, a second request, a second consent,
// a stop with nothing to stop. The result: the SFU's WebM file read by ffprobe (an independent reader), and
// one media row (kind recording) owned by the requester and shared with the one who agreed — not with the one
// who declined.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack, redisCommand } from '../lib/client.mjs';
import { startSfu, sfuNode, sfuCommand } from '../lib/sfu.mjs';
import { user, circleWith, assertError } from '../lib/calls.mjs';
import { startPeer, bridgeSignal } from '../tools/sfu_peer.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000'];

function ffprobe(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration',
    '-of', 'json', file]).toString();
  return JSON.parse(out);
}

function psql(pg, sql) {
  const conninfo = fs.readFileSync(pg.conninfoFile, 'utf8').trim();
  return execFileSync('psql', [conninfo, '-At', '-c', sql]).toString().trim();
}

test('recording with consent: ask, decline, agree, late joiner, stop; the WebM file and the media row', async () => {
  const h = new Harness('record');
  try {
    const clip = path.join(h.dir, 'clip.ivf');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '20',
      '-c:v', 'libvpx', '-g', '30', '-y', clip]);
    const pg = await h.postgres();
    const stack = await startStack(h, { args: [...ARGS, '--postgres-conninfo-file', pg.conninfoFile] });
    const recDir = path.join(h.dir, 'media', 'recordings');
    fs.mkdirSync(recDir, { recursive: true });
    const sfu = await startSfu(h, { redisPort: stack.redisPort, args: ['--recordings-dir', recDir] });
    const [a, b, c, d] = [await user(stack.wsUrl, 'ra'), await user(stack.wsUrl, 'rb'), await user(stack.wsUrl, 'rc'),
      await user(stack.wsUrl, 'rd')];
    const cid = await circleWith(stack, [a, b, c, d]);
    const { rooms } = await a.client.ok('room.list', { circle: cid });
    const room = rooms[0].id;
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    const jb = await b.client.ok('room.join', { room, camera: false, mic: false });

    // Bad input and authorisation.
    assertError(await a.client.request('room.record.request', {}), 'bad_request', 'room');
    assertError(await a.client.request('room.record.request', { room: 'nope' }), 'bad_request', 'room');
    assertError(await c.client.request('room.record.request', { room }), 'not_found');
    assertError(await a.client.request('room.record.stop', { room }), 'not_found');
    assertError(await b.client.request('room.record.consent', { room, agree: true }), 'not_found');
    assertError(await b.client.request('room.record.consent', { room }), 'bad_request', 'agree');

    // Ask → Bob is asked; a decline ends it for both.
    const r1 = await a.client.ok('room.record.request', { room });
    assert.equal(r1.state, 'asking');
    const asked = await b.client.waitEvent('room.record.asked', (e) => e.room === room);
    assert.equal(asked.by.id, a.user.id);
    const st = await a.client.waitEvent('room.record.state', (e) => e.room === room && e.state === 'asking');
    assert.deepEqual(st.pending, [jb.device]);
    assertError(await a.client.request('room.record.request', { room }), 'conflict');
    assertError(await a.client.request('room.record.consent', { room, agree: true }), 'conflict');
    assertError(await c.client.request('room.record.consent', { room, agree: true }), 'not_found');
    await b.client.ok('room.record.consent', { room, agree: false });
    for (const x of [a, b]) {
      const off = await x.client.waitEvent('room.record.state', (e) => e.room === room && e.state === 'off');
      assert.equal(off.reason, 'declined');
    }

    // Alice publishes real media through the SFU; Bob only receives.
    const alice = await startPeer(h, { label: 'alice', args: ['--publish', `ivf=${clip}`] });
    bridgeSignal(alice, 0, a.client, room);
    await alice.next((m) => m.op === 'up');
    const bob = await startPeer(h, { label: 'bob', args: [] });
    bridgeSignal(bob, 0, b.client, room);
    await bob.next((m) => m.op === 'up');
    alice.start();

    // Ask again; Bob agrees → recording (announced to both).
    const r2 = await a.client.ok('room.record.request', { room });
    await b.client.waitEvent('room.record.asked', (e) => e.room === room && e.recording === r2.recording);
    assert.notEqual(r2.recording, r1.recording);
    assert.match(r2.recording, /^[0-9a-f]{32}$/);
    await b.client.ok('room.record.consent', { room, agree: true });
    for (const x of [a, b]) await x.client.waitEvent('room.record.state', (e) => e.room === room && e.state === 'recording', 15000);
    const t0 = Date.now();

    // Carol joins while it records: she is asked first; she declines and the recording goes on without her.
    const jc = await c.client.ok('room.join', { room, camera: true, mic: true });
    await c.client.waitEvent('room.record.asked', (e) => e.room === room && e.recording === r2.recording);
    const sc = await c.client.ok('room.record.status', { room });
    assert.equal(sc.state, 'recording');
    assert.equal(sc.agreed, false);
    assert.deepEqual(sc.pending, [jc.device]);
    await c.client.ok('room.record.consent', { room, agree: false });
    assert.equal((await c.client.ok('room.record.status', { room })).state, 'recording');

    // ~4 s of media, then Bob stops it.
    await new Promise((r) => setTimeout(r, Math.max(0, 4000 - (Date.now() - t0))));
    const tStop = Date.now();
    await b.client.ok('room.record.stop', { room });
    const off = await a.client.waitEvent('room.record.state', (e) => e.room === room && e.state === 'off');
    assert.equal(off.reason, 'stopped');
    const saved = await a.client.waitEvent('room.record.saved', (e) => e.room === room, 20000);
    const playableMs = Date.now() - tStop;
    const savedB = await b.client.waitEvent('room.record.saved', (e) => e.room === room, 20000);
    assert.equal(savedB.media.id, r2.recording);
    assert.equal(saved.media.id, r2.recording);
    assert.deepEqual(saved.media.owners.sort(), [a.user.id, b.user.id].sort());
    const files = saved.media.meta.files;
    const cam = files.find((f) => f.pid === ja.device && f.label === 'camera');
    assert.ok(cam, JSON.stringify(files));
    assert.ok(!files.some((f) => f.pid === jc.device), 'the one who declined is not recorded');
    assert.equal(cam.width, 320);
    assert.ok(cam.offset_ms >= 0 && cam.offset_ms < 3000, JSON.stringify(cam));

    // The file, by an independent reader.
    const p = ffprobe(path.join(recDir, r2.recording, cam.file));
    assert.equal(p.streams[0].codec_name, 'vp8');
    assert.equal(p.streams[0].width, 320);
    const dur = Number(p.format.duration);
    assert.ok(dur > 2.5 && dur < 6, `duration ${dur}`);
    const mic = files.find((f) => f.pid === ja.device && f.label === 'mic');
    if (mic) assert.equal(ffprobe(path.join(recDir, r2.recording, mic.file)).streams[0].codec_name, 'opus');

    // One media row: Alice's, shared with Bob; Carol (declined) and Dan (never there) have nothing.
    await eventually(() => psql(pg, `SELECT count(*) FROM media WHERE id = '${r2.recording}'`) === '1', { what: 'media row' });
    assert.equal(psql(pg, `SELECT owner || ' ' || kind || ' ' || state || ' ' || path FROM media WHERE id = '${r2.recording}'`),
      `${a.user.id} recording ready recordings/${r2.recording}`);
    assert.equal(psql(pg, `SELECT string_agg(user_id, ',') FROM media_shares WHERE media_id = '${r2.recording}'`), b.user.id);
    assert.equal(psql(pg, `SELECT circle FROM media WHERE id = '${r2.recording}'`), cid);
    // recording.list: Alice's and Bob's, not Carol's (declined) nor Dan's.
    for (const x of [a, b]) {
      const l = await x.client.ok('recording.list', {});
      assert.deepEqual(l.recordings.map((m) => m.id), [r2.recording]);
      assert.equal(l.recordings[0].owner, a.user.id);
      assert.equal(l.recordings[0].meta.files.length, files.length);
    }
    for (const x of [c, d]) assert.deepEqual((await x.client.ok('recording.list', {})).recordings, []);
    assertError(await a.client.request('recording.list', { session: 'x' }), 'bad_request', 'session');
    assert.deepEqual((await a.client.ok('recording.list', { session: 'f'.repeat(32) })).recordings, []);

    // The SFU's own checks of the control commands (a signal node would never send these).
    const node = await sfuNode(stack.redisPort, 'probe');
    const ask = async (tx, cmd) => {
      await sfuCommand(stack.redisPort, sfu.id, { tx, node: 'probe', ...cmd });
      return node.next((m) => m.tx === tx);
    };
    const e1 = await ask(101, { op: 'record.start', room, name: '../escape', pids: [ja.device] });
    assert.equal(e1.code, 'bad_request');
    const e2 = await ask(102, { op: 'record.start', room, name: 'abc' });
    assert.equal(e2.code, 'bad_request');
    const e3 = await ask(103, { op: 'record.start', room: 'f'.repeat(32), name: 'abc', pids: ['x'] });
    assert.equal(e3.code, 'not_found');
    const e4 = await ask(104, { op: 'record.stop', room });
    assert.equal(e4.code, 'not_found');
    node.close();
    assert.ok(!fs.existsSync(path.join(recDir, '..', 'escape')));

    // The Redis state is gone: a new request can start.
    assert.equal(await redisCommand(stack.redisPort, ['EXISTS', `room:${room}:rec`]), 0);
    console.log(`# stop → saved (files closed, row written, event delivered): ${playableMs} ms`);
  } finally {
    await h.close();
  }
});

test('a session room: alone it records at once; a late joiner who agrees is recorded from then on; everyone leaving stops it', async () => {
  const h = new Harness('record-session');
  try {
    const clip = path.join(h.dir, 'clip.ivf');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '20',
      '-c:v', 'libvpx', '-g', '30', '-y', clip]);
    const pg = await h.postgres();
    const stack = await startStack(h, { args: [...ARGS, '--postgres-conninfo-file', pg.conninfoFile] });
    const recDir = path.join(h.dir, 'media', 'recordings');
    fs.mkdirSync(recDir, { recursive: true });
    await startSfu(h, { redisPort: stack.redisPort, args: ['--recordings-dir', recDir] });
    const [a, b] = [await user(stack.wsUrl, 'sa'), await user(stack.wsUrl, 'sb')];
    // A mentoring session's private room, as lib.private_room_set makes it (its id is the booking id).
    const room = [...Array(32)].map(() => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
    const now = Math.floor(Date.now() / 1000);
    await redisCommand(stack.redisPort, ['HSET', `room:${room}`, 'name', 'Session', 'private', '1', 'opens', String(now - 60),
      'closes', String(now + 3600)]);
    await redisCommand(stack.redisPort, ['SADD', `room:${room}:guests`, a.user.id, b.user.id]);

    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    const alice = await startPeer(h, { label: 'alice', args: ['--publish', `ivf=${clip}`] });
    bridgeSignal(alice, 0, a.client, room);
    await alice.next((m) => m.op === 'up');
    alice.start();
    const r = await a.client.ok('room.record.request', { room });
    await a.client.waitEvent('room.record.state', (e) => e.room === room && e.state === 'recording', 15000);
    const tStart = Date.now();

    // Bob joins while it records: asked; his media flows at once but is not recorded until he agrees.
    const jb = await b.client.ok('room.join', { room, camera: true, mic: true });
    await b.client.waitEvent('room.record.asked', (e) => e.room === room && e.recording === r.recording);
    const bob = await startPeer(h, { label: 'bob', args: ['--publish', `ivf=${clip}`] });
    bridgeSignal(bob, 0, b.client, room);
    await bob.next((m) => m.op === 'up');
    bob.start();
    await new Promise((res) => setTimeout(res, 1500));
    const tAgree = Date.now();
    await b.client.ok('room.record.consent', { room, agree: true });
    await new Promise((res) => setTimeout(res, 2500));

    // Everyone leaves: the SFU's room empties and the recording ends by itself.
    await a.client.ok('room.leave', { room });
    await b.client.ok('room.leave', { room });
    const saved = await a.client.waitEvent('room.record.saved', (e) => e.room === room, 20000);
    assert.equal(saved.media.meta.reason, 'empty');
    await b.client.waitEvent('room.record.saved', (e) => e.room === room, 20000);
    const files = saved.media.meta.files;
    const fa = files.find((f) => f.pid === ja.device && f.kind === 'video');
    const fb = files.find((f) => f.pid === jb.device && f.kind === 'video');
    assert.ok(fa && fb, JSON.stringify(files));
    assert.ok(fb.offset_ms >= tAgree - tStart - 1000, `Bob's file starts after he agreed (${fb.offset_ms} ms in)`);
    assert.equal(ffprobe(path.join(recDir, r.recording, fb.file)).streams[0].codec_name, 'vp8');
    await eventually(() => psql(pg, `SELECT count(*) FROM media WHERE id = '${r.recording}'`) === '1', { what: 'media row' });
    assert.equal(psql(pg, `SELECT coalesce(circle, '-') || ' ' || session FROM media WHERE id = '${r.recording}'`), `- ${room}`);
    assert.equal(psql(pg, `SELECT string_agg(user_id, ',') FROM media_shares WHERE media_id = '${r.recording}'`), b.user.id);
    assert.deepEqual((await b.client.ok('recording.list', { session: room })).recordings.map((m) => m.id), [r.recording]);
  } finally {
    await h.close();
  }
});
