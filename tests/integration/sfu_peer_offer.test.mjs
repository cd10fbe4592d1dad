// sfu_peer_offer.test.mjs — the sfu_peer modes that the Janus side of `make bench-sfu` relies on, kept
// working without Janus (which make test does not need):
//   --subscribers-answer: a participant that writes no offer, answers the other side's first offer, and
//     takes the answerer's roles (ICE controlled, DTLS client with a=setup:active);
//   --simulcast: a publisher whose offer carries a=rid f/h/q + a=simulcast:send and whose video goes out
//     as three layers with their own SSRCs and the mid/rid header extensions.
// Two sfu_peer processes talk to each other directly (loopback; the driver carries SDP and candidates):
// the answerer must receive every layer, count no loss, and write complete VP8 frames; with a real VP8 clip
// (ffmpeg) what it writes must decode. Then a simulcast publisher joins staffroom-sfu (real Redis, the SFU's
// control channel as a signal node speaks it): its offer is accepted, audio flows to the receiver, and at
// most one video layer of the publisher reaches the receiver (the SFU forwards one layer, never all three).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Harness, eventually } from '../lib/harness.mjs';
import { startSfu } from '../lib/sfu.mjs';
import { startPeer, bridgeRedis } from '../tools/sfu_peer.mjs';

const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error/;

// Carries A's offer to B and B's answer back, and every candidate across (participant 0 of each).
function pair(a, b) {
  a.on((m) => {
    if (m.op === 'offer') b.offer(0, m.sdp);
    else if (m.op === 'cand') b.candidate(0, m.mid, m.candidate);
  });
  b.on((m) => {
    if (m.op === 'answer') a.answer(0, m.sdp);
    else if (m.op === 'cand') a.candidate(0, m.mid, m.candidate);
  });
}

async function quitAll(peers) {
  for (const p of peers) p.send('quit');
  for (const p of peers) {
    const res = await p.rec.exitPromise;
    assert.equal(res.code, 0, `${p.rec.label}: ${p.rec.output.slice(-2000)}`);
    assert.doesNotMatch(p.rec.output, SANITIZER);
  }
}

test('an answerer takes the offer of a simulcast publisher: three layers arrive, no loss, whole frames', async () => {
  const h = new Harness('sfu-peer-offer');
  try {
    const out = path.join(h.dir, 'b.ivf');
    const a = await startPeer(h, { label: 'pub', args: ['--publish', 'synthetic', '--simulcast'] });
    const b = await startPeer(h, { label: 'answerer', args: ['--subscribers-answer', '--out', out] });
    const offer = await a.next((m) => m.op === 'offer');
    assert.match(offer.sdp, /a=simulcast:send f;h;q\r\n/);
    for (const rid of ['f', 'h', 'q']) assert.match(offer.sdp, new RegExp(`a=rid:${rid} send\\r\\n`));
    assert.match(offer.sdp, /a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id/);
    pair(a, b);
    const answer = await b.next((m) => m.op === 'answer');
    assert.match(answer.sdp, /a=setup:active/);
    assert.match(answer.sdp, /a=recvonly/);
    assert.equal(b.messages.filter((m) => m.op === 'offer').length, 0, 'the answerer wrote no offer');
    const [upA, upB] = await Promise.all([a.next((m) => m.op === 'up', 20000), b.next((m) => m.op === 'up', 20000)]);
    assert.equal(upA.profile, upB.profile);
    a.start();
    // Frames of every layer arrive; the window opens once they do.
    await eventually(async () => (await b.report()).rx_streams.q > 0, { what: 'layer q at the answerer', timeoutMs: 10000 });
    b.mark();
    // Before its first keyframe the answerer drops what it cannot decode (and asks with a PLI): count from here.
    const r0 = await b.report();
    await eventually(async () => (await b.report()).rx_streams.f >= 90, { what: '30 frames of layer f', timeoutMs: 15000 });
    const r = await b.report();
    // Per frame: 3 packets of f, 2 of h, 1 of q; audio every 20 ms.
    assert.ok(r.rx_streams.h >= 0.5 * r.rx_streams.f && r.rx_streams.h <= r.rx_streams.f, JSON.stringify(r.rx_streams));
    assert.ok(r.rx_streams.q >= 0.2 * r.rx_streams.f && r.rx_streams.q <= 0.5 * r.rx_streams.f, JSON.stringify(r.rx_streams));
    assert.ok(r.rx_streams.audio > 0, JSON.stringify(r.rx_streams));
    assert.equal(r.lost, 0);
    assert.equal(r.auth_failures, 0);
    assert.equal(r.bad_trailers, 0);
    assert.ok(r.frames_written >= 10, `frames written ${r.frames_written}`);
    assert.equal(r.frames_incomplete, r0.frames_incomplete);
    await quitAll([a, b]);
  } finally {
    await h.close();
  }
});

test('an answerer receives a real VP8 clip and what it writes decodes', async () => {
  const h = new Harness('sfu-peer-offer-ivf');
  try {
    const clip = path.join(h.dir, 'clip.ivf');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '2',
      '-c:v', 'libvpx', '-y', clip]);
    const out = path.join(h.dir, 'b.ivf');
    const a = await startPeer(h, { label: 'pub', args: ['--publish', `ivf=${clip}`] });
    const b = await startPeer(h, { label: 'answerer', args: ['--subscribers-answer', '--out', out] });
    pair(a, b);
    await Promise.all([a.next((m) => m.op === 'up', 20000), b.next((m) => m.op === 'up', 20000)]);
    a.start();
    const done = await a.next((m) => m.op === 'done', 20000);
    assert.ok(done.frames >= 30, `sent ${done.frames} frames`);
    const need = Math.ceil(0.9 * done.frames);
    await eventually(async () => (await b.report()).frames_written >= need, { what: `${need} frames written`, timeoutMs: 5000 });
    await quitAll([a, b]);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
      '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', out]).toString()).streams[0];
    assert.equal(probe.codec_name, 'vp8');
    assert.deepEqual([probe.width, probe.height], [320, 240]);
    assert.ok(Number(probe.nb_read_frames) >= need, `decoded ${probe.nb_read_frames} of ${done.frames}`);
    assert.equal(execFileSync('ffmpeg', ['-v', 'error', '-i', out, '-f', 'null', '-']).toString(), '');
  } finally {
    await h.close();
  }
});

test('staffroom-sfu accepts a simulcast publisher: audio flows, at most one video layer reaches a receiver', async () => {
  const h = new Harness('sfu-peer-simulcast');
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port });
    // Participant 0 publishes simulcast, participant 1 receives.
    const peer = await startPeer(h, { label: 'load', args: ['--count', '2', '--publishers', '1', '--publish', 'synthetic', '--simulcast'] });
    const bridge = await bridgeRedis(peer, { redisPort: redis.port, sfuId: sfu.id, node: 'n1', room: 'sim1', count: 2 });
    await Promise.all([0, 1].map((k) => peer.next((m) => m.op === 'up' && m.k === k, 20000)));
    await eventually(async () => (await sfu.metrics()).staffroom_sfu_participants === 2, { what: 'two participants' });
    await eventually(() => bridge.states[1].offers >= 1, { what: "the SFU's offer of the publisher's tracks to the receiver" });
    peer.start();
    await eventually(async () => (await peer.report()).rx_streams.audio > 0, { what: 'audio at the receiver', timeoutMs: 10000 });
    peer.mark();
    await eventually(async () => (await peer.report()).rx_streams.audio >= 50, { what: '1 s of audio', timeoutMs: 10000 });
    const r = await peer.report();
    const layers = ['f', 'h', 'q'].filter((l) => r.rx_streams[l] > 0);
    assert.ok(layers.length <= 1, `the receiver got layers ${layers.join(',')}: ${JSON.stringify(r.rx_streams)}`);
    assert.equal(r.lost, 0);
    assert.equal(r.auth_failures, 0);
    assert.equal(r.failed, 0);
    assert.deepEqual(bridge.states.map((s) => s.errors), [[], []]);
    assert.deepEqual(bridge.states.map((s) => s.gone), [null, null]);
    bridge.close();
    await quitAll([peer]);
    assert.doesNotMatch(sfu.rec.output, SANITIZER);
  } finally {
    await h.close();
  }
});
