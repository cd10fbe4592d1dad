// sfu_bad_input.test.mjs — what a hostile or broken peer can do to staffroom-sfu: a DTLS certificate that
// does not match the SDP's fingerprint (the participant is dropped with `gone`, counted, the room goes on),
// and floods of garbage datagrams at the media port (counted and dropped, media keeps flowing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser } from '../lib/browser.mjs';
import { startSfu, sfuNode, joinFromPage, pageVideo } from '../lib/sfu.mjs';

const otherFingerprint = () => crypto.randomBytes(32).toString('hex').toUpperCase().match(/../g).join(':');

test('wrong DTLS fingerprint: gone (reason fingerprint) and counted; the other participant keeps its media', async () => {
  const h = new Harness('sfu-badfp');
  let browser;
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port });
    const node = await sfuNode(redis.port, 'nodeB');
    browser = await launchBrowser();
    const good = await newUser(browser);
    const bad = await newUser(browser);
    const g = await joinFromPage(good.page, { sfu, node, room: 'r1', pid: 'nodeB-good' });
    await eventually(async () => (await pageVideo(good.page)).state === 'connected', { what: 'good participant connected' });
    const b = await joinFromPage(bad.page, { sfu, node, room: 'r1', pid: 'nodeB-bad',
      mungeOffer: (sdp) => sdp.replace(/a=fingerprint:sha-256 \S+/g, `a=fingerprint:sha-256 ${otherFingerprint()}`) });
    await eventually(() => b.gone, { what: 'gone for the bad participant', timeoutMs: 20000 });
    assert.deepEqual(b.gone, { op: 'gone', room: 'r1', pid: 'nodeB-bad', reason: 'fingerprint' });
    const m = await eventually(async () => { const x = await sfu.metrics(); return x.staffroom_sfu_participants === 1 && x; },
      { what: 'one participant left' });
    assert.equal(m.staffroom_sfu_fingerprint_mismatches_total, 1);
    assert.equal(m.staffroom_sfu_gone_total, 1);
    assert.equal(m.staffroom_sfu_rtp_received_total > 0, true, 'the good one still publishes');
    assert.equal(g.gone, null);
    node.close();
    assert.equal((await h.stop(sfu.rec)).code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    await browser?.close();
    await h.close();
  }
});

test('garbage datagrams flooding the media port are dropped; media keeps flowing', async () => {
  const h = new Harness('sfu-flood');
  let browser;
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port });
    const node = await sfuNode(redis.port, 'nodeC');
    browser = await launchBrowser();
    const a = await newUser(browser);
    const b = await newUser(browser);
    const pa = await joinFromPage(a.page, { sfu, node, room: 'r1', pid: 'nodeC-a' });
    await joinFromPage(b.page, { sfu, node, room: 'r1', pid: 'nodeC-b' });
    await eventually(async () => (await pageVideo(a.page)).video.some((v) => v.frames > 0), { what: 'a decoding', timeoutMs: 30000 });
    // The SFU's media ports, from its answers' candidates.
    const answers = node.messages.filter((m) => m.op === 'answer');
    const ports = [...new Set(answers.flatMap((m) => [...m.sdp.matchAll(/ 127\.0\.0\.1 (\d+) typ host/g)].map((x) => Number(x[1]))))];
    assert.ok(ports.length >= 2, JSON.stringify(ports));
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    // 4000 datagrams: STUN-looking, DTLS-looking, RTP-looking and other first bytes, random lengths.
    const firsts = [0x00, 0x01, 0x16, 0x17, 0x80, 0x90, 0xbf, 0x45, 0xff];
    for (let i = 0; i < 4000; i++) {
      const buf = crypto.randomBytes(1 + (i % 1200));
      buf[0] = firsts[i % firsts.length];
      await new Promise((r) => sock.send(buf, ports[i % ports.length], '127.0.0.1', r));
    }
    sock.close();
    const before = (await pageVideo(a.page)).video.reduce((n, v) => n + v.frames, 0);
    await eventually(async () => (await pageVideo(a.page)).video.reduce((n, v) => n + v.frames, 0) > before + 10,
      { what: 'frames still rising after the flood' });
    const m = await sfu.metrics();
    assert.equal(m.staffroom_sfu_participants, 2);
    assert.equal(pa.gone, null);
    console.log(`# after the flood: bad_packets ${m.staffroom_sfu_bad_packets_total}, srtp_failures ${m.staffroom_sfu_srtp_failures_total}, bad_rtcp ${m.staffroom_sfu_bad_rtcp_total}`);
    // Datagrams from addresses that are no participant's ICE pair are dropped inside libnice before the
    // SFU sees them: nothing of the flood may reach SRTP or the RTP/RTCP parsers.
    assert.equal(m.staffroom_sfu_srtp_failures_total, 0);
    assert.equal(m.staffroom_sfu_bad_rtcp_total, 0);
    for (const k of ['bad_packets', 'nack_misses', 'keyframe_requests', 'retransmissions', 'nacks']) {
      assert.equal(typeof m[`staffroom_sfu_${k}_total`], 'number', `${k} is exported`);
    }
    node.close();
    assert.equal((await h.stop(sfu.rec)).code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    await browser?.close();
    await h.close();
  }
});
