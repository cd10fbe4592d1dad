// sfu_bad_input.test.mjs — what a hostile or broken peer can do to staffroom-sfu: a DTLS certificate that
// does not match the SDP's fingerprint (the participant is dropped with `gone`, counted, the room goes on),
// floods of garbage datagrams at the media port (dropped, media keeps flowing), and garbage from inside a
// participant's ICE pair (counted by reason in staffroom_sfu_dropped_datagrams_total, the participant and
// the room go on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import zlib from 'node:zlib';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser } from '../lib/browser.mjs';
import { startSfu, sfuNode, joinFromPage, pageVideo } from '../lib/sfu.mjs';
import { startPeer, bridgeRedis } from '../tools/sfu_peer.mjs';

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

// ---- an ICE-only participant: STUN connectivity checks by hand (RFC 8445 §7, RFC 5389) -----------------
// Enough ICE for libnice to take this socket as the participant's candidate (peer-reflexive, from our
// check) and to hand up what else comes from it: the garbage then reaches the SFU's demultiplexer, as it
// would from a broken or hostile browser. No DTLS: the participant never gets SRTP keys.

const MAGIC = 0x2112a442;

function stunAttr(type, value) {
  const b = Buffer.alloc(4 + value.length + ((4 - (value.length % 4)) % 4));
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

// A STUN message with MESSAGE-INTEGRITY (short-term credential: HMAC-SHA1 keyed with the password, over
// the message with its length counting the attribute, §15.4) and FINGERPRINT (CRC-32 ^ 0x5354554e, §15.5).
function stunMessage(type, tid, attrs, password) {
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(MAGIC, 4);
    tid.copy(h, 8);
    return h;
  };
  let body = Buffer.concat(attrs);
  const mi = crypto.createHmac('sha1', password).update(Buffer.concat([header(body.length + 24), body])).digest();
  body = Buffer.concat([body, stunAttr(0x0008, mi)]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((zlib.crc32(Buffer.concat([header(body.length + 8), body])) ^ 0x5354554e) >>> 0);
  body = Buffer.concat([body, stunAttr(0x8028, fp)]);
  return Buffer.concat([header(body.length), body]);
}

// Our UDP socket as an ICE agent (controlling: we offered): check(port) sends a Binding request with
// USE-CANDIDATE to the SFU and resolves on its success response; the SFU's own checks are answered.
async function iceSocket({ localUfrag, localPwd, remoteUfrag, remotePwd }) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const pending = new Map();
  sock.on('message', (msg, from) => {
    if (msg.length < 20 || msg.readUInt32BE(4) !== MAGIC) return;
    const type = msg.readUInt16BE(0), tid = msg.subarray(8, 20);
    if (type === 0x0101) pending.get(tid.toString('hex'))?.();
    if (type !== 0x0001) return;
    const xor = Buffer.alloc(8);
    xor.writeUInt16BE(0x0001, 0);
    xor.writeUInt16BE(from.port ^ (MAGIC >>> 16), 2);
    xor.writeUInt32BE((from.address.split('.').reduce((a, o) => a * 256 + Number(o), 0) ^ MAGIC) >>> 0, 4);
    sock.send(stunMessage(0x0101, Buffer.from(tid), [stunAttr(0x0020, xor)], localPwd), from.port, from.address);
  });
  return {
    sock,
    check(port, timeoutMs = 3000) {
      const tid = crypto.randomBytes(12);
      const prio = Buffer.alloc(4);
      prio.writeUInt32BE(0x6e7fffff); // a peer-reflexive candidate's priority (RFC 8445 §5.1.2)
      const msg = stunMessage(0x0001, tid, [stunAttr(0x0006, Buffer.from(`${remoteUfrag}:${localUfrag}`)),
        stunAttr(0x0024, prio), stunAttr(0x802a, crypto.randomBytes(8)), stunAttr(0x0025, Buffer.alloc(0))], remotePwd);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { pending.delete(tid.toString('hex')); reject(new Error('no STUN success response')); }, timeoutMs);
        pending.set(tid.toString('hex'), () => { clearTimeout(timer); pending.delete(tid.toString('hex')); resolve(); });
        sock.send(msg, port, '127.0.0.1');
      });
    },
  };
}

// An audio-only offer as a browser writes one, with our ICE credentials.
const iceOnlyOffer = (ufrag, pwd) => [
  'v=0', 'o=- 4611731400430051337 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'a=msid-semantic: WMS s1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
  `a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`, 'a=ice-options:trickle',
  `a=fingerprint:sha-256 ${otherFingerprint()}`, 'a=setup:actpass', 'a=mid:0', 'a=sendrecv', 'a=msid:s1 t1',
  'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2', 'a=ssrc:2222 cname:x', 'a=ssrc:2222 msid:s1 t1', '',
].join('\r\n');

test('garbage inside a participant\'s ICE pair is dropped and counted by reason; the participant and the room go on', async () => {
  const h = new Harness('sfu-garbage');
  let ice;
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port });
    // Two real participants (libnice + DTLS + SRTP in tests/tools/sfu_peer) send each other media.
    const peer = await startPeer(h, { label: 'media', args: ['--count', '2', '--publishers', '2', '--publish', 'synthetic'] });
    const bridge = await bridgeRedis(peer, { redisPort: redis.port, sfuId: sfu.id, node: 'nodeD', room: 'g1', count: 2 });
    await Promise.all([0, 1].map((k) => peer.next((m) => m.op === 'up' && m.k === k, 20000)));
    peer.start();
    await eventually(async () => (await peer.report()).rx_streams.audio > 0, { what: 'media between the two', timeoutMs: 10000 });

    // The third joins from this process: ICE only.
    const node = await sfuNode(redis.port, 'nodeE');
    const local = { localUfrag: 'gbge', localPwd: crypto.randomBytes(12).toString('hex') };
    await sfu.command({ op: 'offer', tx: 'g1', room: 'g1', pid: 'nodeE-1', user: 'u9', node: 'nodeE',
      sdp: iceOnlyOffer(local.localUfrag, local.localPwd), tracks: { 0: 'mic' } });
    const ans = await node.next((m) => m.tx === 'g1');
    assert.equal(ans.op, 'answer', JSON.stringify(ans));
    const port = Number(/ 127\.0\.0\.1 (\d+) typ host/.exec(ans.sdp)[1]);
    ice = await iceSocket({ ...local, remoteUfrag: /a=ice-ufrag:(\S+)/.exec(ans.sdp)[1], remotePwd: /a=ice-pwd:(\S+)/.exec(ans.sdp)[1] });
    await eventually(() => ice.check(port).then(() => true, () => false), { what: 'a STUN success response from the SFU' });

    const m0 = await sfu.metrics();
    const dropped = (m, reason) => m[`staffroom_sfu_dropped_datagrams_total{reason="${reason}"}`];
    for (const r of ['unknown_protocol', 'truncated', 'before_keys', 'srtp', 'peer_down', 'bad_rtp', 'unknown_ssrc']) {
      assert.equal(typeof dropped(m0, r), 'number', `reason ${r} is exported`);
    }
    // 600 datagrams, paced so that no socket buffer overflows: 200 with a first byte no RFC 7983 range the
    // SFU speaks (STUN-looking but not STUN, 64–127, 192–255), 200 RTP-looking shorter than a header, 200
    // RTP-looking ones before any SRTP key. (DTLS-looking bytes would go to the handshake: not garbage to it.)
    const kinds = [
      { reason: 'unknown_protocol', make: (i) => { const b = crypto.randomBytes(20 + (i % 180)); b[0] = [0x00, 0x45, 0x7f, 0xc0, 0xff][i % 5]; b[4] = 0; return b; } },
      { reason: 'truncated', make: (i) => { const b = crypto.randomBytes(1 + (i % 11)); b[0] = 0x80; return b; } },
      { reason: 'before_keys', make: (i) => { const b = crypto.randomBytes(12 + (i % 188)); b[0] = 0x80; b[1] = 111; return b; } },
    ];
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => ice.sock.send(kinds[i % 3].make(Math.floor(i / 3)), port, '127.0.0.1', r));
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 10));
    }
    const m1 = await eventually(async () => {
      const m = await sfu.metrics();
      return kinds.every((k) => dropped(m, k.reason) - dropped(m0, k.reason) === 200) && m;
    }, { what: '200 datagrams counted under each reason', timeoutMs: 10000 });
    assert.equal(m1.staffroom_sfu_bad_packets_total - m0.staffroom_sfu_bad_packets_total, 400, 'malformed ones also in bad_packets');
    assert.equal(dropped(m1, 'srtp'), 0);
    assert.equal(m1.staffroom_sfu_srtp_failures_total, 0);

    // The participant flooded is still in, and its ICE still answers; the others' media still flows.
    await ice.check(port);
    assert.equal(m1.staffroom_sfu_participants, 3);
    assert.equal(node.messages.find((m) => m.op === 'gone'), undefined);
    const fwd = m1.staffroom_sfu_forwarded_packets_total;
    await eventually(async () => (await sfu.metrics()).staffroom_sfu_forwarded_packets_total > fwd + 100, { what: 'forwarding goes on' });
    const r = await peer.report();
    assert.equal(r.failed, 0);
    assert.equal(r.auth_failures, 0);
    assert.deepEqual(bridge.states.map((s) => s.gone), [null, null]);
    node.close();
    bridge.close();
    peer.send('quit');
    assert.equal((await h.stop(sfu.rec)).code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    ice?.sock.close();
    await h.close();
  }
});
