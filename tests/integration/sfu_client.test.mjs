// sfu_client.test.mjs — staffroom-sfu with a WebRTC client that is not a browser (tests/tools/sfu_peer:
// libnice + OpenSSL DTLS + libsrtp2, written here), through the real client protocol: real Redis, a real
// staffroom-signal (room.join, room.media.offer/answer/candidate over its WebSocket) and a real
// staffroom-sfu.
//
// Alice publishes a real VP8 clip (made now by ffmpeg: 3 s of testsrc, 320x240 at 15 fps, in IVF) packetised
// per RFC 7741; Bob only receives, depacketises and writes what he gets to an IVF file, which ffmpeg must
// decode: at least 90% of the frames Alice sent. While the clip plays: a bad SDP offer gets bad_sdp with the
// SFU's reason, a candidate that does not parse is counted and dropped, and a third participant whose SDP
// carries a fingerprint that is not its certificate's is dropped (room.media.reset with the SFU's reason) —
// and Bob keeps receiving every frame it needs, the room intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack } from '../lib/client.mjs';
import { startSfu } from '../lib/sfu.mjs';
import { user, circleWith } from '../lib/calls.mjs';
import { startPeer, bridgeSignal } from '../tools/sfu_peer.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000'];
const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error/;

test('a non-browser client publishes real VP8 through signal + SFU, another decodes it; bad SDP, a bad candidate and a wrong fingerprint leave the room intact', async () => {
  const h = new Harness('sfu-client');
  try {
    const clip = path.join(h.dir, 'clip.ivf');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '3',
      '-c:v', 'libvpx', '-y', clip]);
    const stack = await startStack(h, { args: ARGS });
    const sfu = await startSfu(h, { redisPort: stack.redisPort });
    const [a, b, c] = [await user(stack.wsUrl, 'pa'), await user(stack.wsUrl, 'pb'), await user(stack.wsUrl, 'pc')];
    const cid = await circleWith(stack, [a, b, c]);
    const { rooms } = await a.client.ok('room.list', { circle: cid });
    const room = rooms[0].id;

    // Alice: camera and microphone m-lines, sends the clip's VP8 once started.
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    assert.equal(ja.media, 'sfu');
    const alice = await startPeer(h, { label: 'alice', args: ['--publish', `ivf=${clip}`] });
    const sa = bridgeSignal(alice, 0, a.client, room);
    const upA = await alice.next((m) => m.op === 'up');
    assert.match(upA.profile, /^SRTP_(AEAD_AES_128_GCM|AES128_CM_SHA1_80)$/);

    // Bob: receives only; his SFU offer carries Alice's camera, which he answers.
    const received = path.join(h.dir, 'bob.ivf');
    await b.client.ok('room.join', { room, camera: false, mic: false });
    const bob = await startPeer(h, { label: 'bob', args: ['--out', received] });
    const sb = bridgeSignal(bob, 0, b.client, room);
    await bob.next((m) => m.op === 'up');
    await eventually(() => sb.answered >= 1 && Object.values(sb.lastOffer.tracks).some((t) => t.device === ja.device && t.kind === 'camera'),
      { what: "Bob's answer to an SFU offer with Alice's camera" });
    assert.deepEqual(sa.errors, []);
    assert.deepEqual(sb.errors, []);

    alice.start();
    const before = await sfu.metrics();

    // Bad SDP from Bob: the SFU's reason comes back; Bob stays in.
    const bad = await b.client.request('room.media.offer', { room, sdp: 'v=0\r\nm=this is not SDP\r\n', tracks: { 0: 'mic' } });
    assert.equal(bad.type, 'error', JSON.stringify(bad));
    assert.equal(bad.code, 'bad_sdp');
    assert.ok(bad.message && bad.message.length > 3, JSON.stringify(bad));
    // A candidate that does not parse: accepted by signal, counted and dropped by the SFU.
    await a.client.ok('room.media.candidate', { room, mid: '0', candidate: 'candidate:garbage 1 udp' });
    // Carol's SDP names a fingerprint that is not her certificate's: the SFU drops her, she is told.
    await c.client.ok('room.join', { room, camera: false, mic: false });
    const carol = await startPeer(h, { label: 'carol', args: ['--wrong-fingerprint'] });
    const sc = bridgeSignal(carol, 0, c.client, room);
    const reset = await c.client.waitEvent('room.media.reset', (e) => e.room === room, 15000);
    assert.match(reset.reason, /fingerprint|dtls_failed/);
    const refused = (m) => (m.staffroom_sfu_fingerprint_mismatches_total || 0) + (m.staffroom_sfu_dtls_failures_total || 0);
    let last;
    await eventually(async () => {
      last = await sfu.metrics();
      return last.staffroom_sfu_bad_candidates_total > (before.staffroom_sfu_bad_candidates_total || 0) &&
        refused(last) > refused(before);
    }, { what: 'bad candidate and wrong fingerprint counted', timeoutMs: 5000 }).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });

    // The clip was sent whole; Bob got (almost) every frame, and what he wrote decodes.
    const done = await alice.next((m) => m.op === 'done', 20000);
    assert.ok(done.frames >= 45, `Alice sent ${done.frames} frames`);
    const need = Math.ceil(0.9 * 45);
    const rep = await eventually(async () => { const r = await bob.report(); return r.frames_written >= need && r; },
      { what: `Bob has written ${need} frames`, timeoutMs: 5000 });
    assert.equal(rep.auth_failures, 0);
    bob.send('quit');
    await bob.rec.exitPromise;
    const probe = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
      'stream=codec_name,width,height,nb_read_frames', '-of', 'json', received]).toString();
    const stream = JSON.parse(probe).streams[0];
    assert.equal(stream.codec_name, 'vp8');
    assert.deepEqual([stream.width, stream.height], [320, 240]);
    assert.ok(Number(stream.nb_read_frames) >= need, `ffprobe decoded ${stream.nb_read_frames} of ${done.frames} frames`);
    // Decoding the whole file reports no error.
    assert.equal(execFileSync('ffmpeg', ['-v', 'error', '-i', received, '-f', 'null', '-']).toString(), '');

    // The room is intact: Alice still in the SFU's room (Bob left by quitting is fine), no one else dropped.
    const m = await sfu.metrics();
    assert.ok(m.staffroom_sfu_forwarded_packets_total > 0);
    assert.deepEqual(sa.resets, []);
    assert.deepEqual(sb.resets, []);
    assert.deepEqual(sa.errors, []);
    assert.equal(sb.errors.length, 0, JSON.stringify(sb.errors));
    assert.equal(sc.errors.filter((e) => e.code !== 'local').length, 0, JSON.stringify(sc.errors));
    for (const p of [alice, carol]) p.send('quit');
    for (const p of [alice, bob, carol]) {
      const res = await p.rec.exitPromise;
      assert.equal(res.code, 0, `${p.rec.label}: ${p.rec.output.slice(-2000)}`);
      assert.doesNotMatch(p.rec.output, SANITIZER);
    }
    assert.doesNotMatch(sfu.rec.output, SANITIZER);
  } finally {
    await h.close();
  }
});
