// sfu_control.test.mjs — staffroom-sfu's control side against a real Redis: registration and heartbeat,
// replies to bad commands, /healthz and /metrics, Redis going away and back, SIGTERM drain (moved events).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Harness, eventually } from '../lib/harness.mjs';
import { redisCommand } from '../lib/client.mjs';
import { startSfu, sfuNode } from '../lib/sfu.mjs';

// A WebRTC offer as Chromium writes one (audio only, no candidates): enough to be admitted.
export function fakeOffer({ fingerprint = crypto.randomBytes(32).toString('hex').match(/../g).join(':').toUpperCase() } = {}) {
  return [
    'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
    'a=msid-semantic: WMS s1',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 0', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass', 'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=sendrecv', 'a=msid:s1 t1', 'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc', 'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:0 PCMU/8000', 'a=ssrc:1111 cname:x', 'a=ssrc:1111 msid:s1 t1', '',
  ].join('\r\n');
}

test('sfu registers in Redis, answers bad commands with clear errors, serves /healthz and /metrics', async () => {
  const h = new Harness('sfu-control');
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port, heartbeatMs: 500 });
    const alive = JSON.parse(await redisCommand(redis.port, ['GET', `sfu:alive:${sfu.id}`]));
    assert.equal(alive.id, sfu.id);
    assert.equal(alive.participants, 0);
    assert.equal(alive.rooms, 0);
    assert.ok(alive.capacity > 0 && alive.started_ms > 0);
    const pttl = await redisCommand(redis.port, ['PTTL', `sfu:alive:${sfu.id}`]);
    assert.ok(pttl > 0 && pttl <= 1500, `PX is 3 × heartbeat: ${pttl}`);
    assert.equal(await redisCommand(redis.port, ['ZSCORE', 'sfu:load', sfu.id]), '0');
    assert.equal(await sfu.healthz(), 200);

    const node = await sfuNode(redis.port, 'nodeA');
    const base = { room: 'r1', pid: 'nodeA-1', user: 'u1', node: 'nodeA' };
    await sfu.command({ op: 'offer', tx: 7, ...base, sdp: 'this is not SDP', tracks: {} });
    const e1 = await node.next((m) => m.tx === 7);
    assert.deepEqual([e1.op, e1.code, e1.room, e1.pid], ['error', 'bad_sdp', 'r1', 'nodeA-1']);
    assert.match(e1.message, /line 1/);

    // Parses, but is not WebRTC: no fingerprint.
    const nofp = fakeOffer().replace(/a=fingerprint:[^\r]*\r\n/, '');
    await sfu.command({ op: 'offer', tx: 'x8', ...base, sdp: nofp, tracks: {} });
    const e2 = await node.next((m) => m.tx === 'x8');
    assert.equal(e2.code, 'bad_sdp');
    assert.match(e2.message, /fingerprint/);

    await sfu.command({ op: 'offer', tx: 9, ...base, sdp: 42 });
    assert.equal((await node.next((m) => m.tx === 9)).code, 'bad_sdp');
    await sfu.command({ op: 'answer', tx: 10, ...base, sdp: fakeOffer() });
    assert.equal((await node.next((m) => m.tx === 10)).code, 'not_found');
    await sfu.command('{"op":"offer",');          // not JSON: counted, no reply possible
    await sfu.command({ op: 'dance', tx: 11, ...base });
    assert.equal((await node.next((m) => m.tx === 11)).code, 'bad_request');
    await sfu.command({ op: 'candidate', room: 'r1', pid: 'nodeA-1', mid: '0', candidate: 'candidate:garbage' });

    const m = await eventually(async () => { const x = await sfu.metrics(); return x.staffroom_sfu_bad_sdp_total >= 3 && x; });
    assert.ok(m.staffroom_sfu_bad_commands_total >= 2, JSON.stringify(m));
    assert.equal(m.staffroom_sfu_participants, 0);
    assert.equal(m.staffroom_sfu_redis_up, 1);
    assert.equal((await fetch(`http://127.0.0.1:${sfu.httpPort}/nope`)).status, 404);

    // A good offer admits the participant: answer with our fingerprint, and the load in Redis follows.
    await sfu.command({ op: 'offer', tx: 12, ...base, sdp: fakeOffer(), tracks: { 0: 'mic' } });
    const ans = await node.next((x) => x.tx === 12);
    assert.equal(ans.op, 'answer', JSON.stringify(ans));
    assert.match(ans.sdp, /a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    assert.match(ans.sdp, /a=setup:passive/);
    assert.match(ans.sdp, /a=recvonly/);
    assert.match(ans.sdp, /a=candidate:.* 127\.0\.0\.1 \d+ typ host/);
    await eventually(async () => (await redisCommand(redis.port, ['ZSCORE', 'sfu:load', sfu.id])) === '1',
      { what: 'load 1 in sfu:load' });
    // A second offer while none of ours is outstanding is a renegotiation, answered again.
    await sfu.command({ op: 'offer', tx: 13, ...base, sdp: fakeOffer(), tracks: { 0: 'mic' } });
    assert.equal((await node.next((x) => x.tx === 13)).op, 'answer');

    // SIGTERM: out of sfu:load, moved for the node's participants, alive key deleted, exit 0.
    const res = await h.stop(sfu.rec);
    const moved = await node.next((x) => x.op === 'moved');
    assert.deepEqual(moved, { op: 'moved', room: 'r1', pids: ['nodeA-1'], reason: 'drain' });
    assert.equal(res.code, 0, sfu.rec.output.slice(-2000));
    assert.equal(await redisCommand(redis.port, ['ZSCORE', 'sfu:load', sfu.id]), null);
    assert.equal(await redisCommand(redis.port, ['GET', `sfu:alive:${sfu.id}`]), null);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
    node.close();
  } finally {
    await h.close();
  }
});

test('sfu: /healthz is 503 while Redis is away and 200 again when it is back; registration resumes', async () => {
  const h = new Harness('sfu-redis');
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port, heartbeatMs: 300 });
    assert.equal(await sfu.healthz(), 200);
    await h.stop(redis);
    await eventually(async () => (await sfu.healthz()) === 503, { what: '/healthz 503' });
    const redis2 = await h.redis({ port: redis.port });
    await eventually(async () => (await sfu.healthz()) === 200, { what: '/healthz 200 again', timeoutMs: 10000 });
    await eventually(async () => await redisCommand(redis2.port, ['GET', `sfu:alive:${sfu.id}`]), { what: 'registration again' });
    const m = await sfu.metrics();
    assert.ok(m.staffroom_sfu_redis_reconnects_total >= 1);
    const res = await h.stop(sfu.rec);
    assert.equal(res.code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    await h.close();
  }
});
