// sfu_simulcast.test.mjs — simulcast through staffroom-sfu with real Chromium participants (driven over the
// SFU's Redis control channel as a signal node would) and a non-browser receiver (tests/tools/sfu_peer):
//   1. Ada publishes her camera as three simulcast layers (240/480/960 wide) and her microphone; Bob and
//      Cy (microphones only) decode Ada's top layer; the SFU gets transport-cc feedback from them.
//   2. Bob's client reports Ada's tile 150 pixels wide: Bob moves to the 240-wide layer within 5 s, his
//      decoder keeps going (no freeze over 1 s), Cy keeps the top layer; the switch is counted per room.
//   3. Bob hides Ada's tile: his video stops within 2 s (Cy's keeps going); shown again, it resumes with
//      a keyframe.
//   4. Audio is never affected: Bob keeps receiving Ada's and Cy's microphones throughout, and the
//      sfu_peer receiver (no transport-cc, Ada's camera hidden for it) keeps receiving Ada's audio.
//   5. (a second test) Layers listed highest first are put in order of width by the SFU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser } from '../lib/browser.mjs';
import { startSfu, sfuNode, joinFromPage } from '../lib/sfu.mjs';
import { startPeer, bridgeRedis } from '../tools/sfu_peer.mjs';

const LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 400000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1200000 },
];

// Per inbound stream of the page: {kind, mid, frames, width, keyFrames, packets, freezes}.
function inbound(page) {
  return page.evaluate(async () => {
    const out = [];
    (await window.sfuPc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.push({ kind: s.kind, mid: s.mid, frames: s.framesDecoded || 0, width: s.frameWidth || 0,
          keyFrames: s.keyFramesDecoded || 0, packets: s.packetsReceived || 0, freezes: s.freezeCount || 0,
          freezeMs: Math.round((s.totalFreezesDuration || 0) * 1000) });
      }
    });
    return out;
  });
}
const video = async (page) => (await inbound(page)).find((s) => s.kind === 'video' && s.packets > 0) || { frames: 0, width: 0, keyFrames: 0, packets: 0 };
const audioPackets = async (page) => (await inbound(page)).filter((s) => s.kind === 'audio').reduce((n, s) => n + s.packets, 0);

// A fresh Redis and SFU, a signalling node's stand-in (node), a browser, and one page per person joined into the
// room (people: [name, joinFromPage options]; each page 640x480, pid `${nodeName}-${name}`).
async function room(h, roomId, nodeName, people) {
  const redis = await h.redis();
  const sfu = await startSfu(h, { redisPort: redis.port });
  const node = await sfuNode(redis.port, nodeName);
  const browser = await launchBrowser();
  const pages = {};
  const st = {};
  for (const [name, opts] of people) {
    const { page } = await newUser(browser, { viewport: { width: 640, height: 480 } });
    pages[name] = page;
    st[name] = await joinFromPage(page, { sfu, node, room: roomId, pid: `${nodeName}-${name}`, user: name, ...opts });
  }
  return { redis, sfu, node, browser, pages, st };
}

test('simulcast: top layer by default, tile size and visibility pick the layer, switches keep decoding, audio never affected', { timeout: 180000 }, async () => {
  const h = new Harness('sfu-simulcast');
  let browser;
  try {
    let redis, sfu, node, pages, st;
    ({ redis, sfu, node, browser, pages, st } = await room(h, 'sim', 'nodeS',
      [['ada', { simulcast: LAYERS }], ['bob', { video: false }], ['cy', { video: false }]]));
    const view = (who, width, visible) => sfu.command({ op: 'view', room: 'sim', pid: `nodeS-${who}`, node: 'nodeS',
      tiles: [{ publisher: 'nodeS-ada', width, visible }] });

    // 1. the top layer, and feedback
    const t1 = Date.now();
    await eventually(async () => (await video(pages.bob)).width === 960 && (await video(pages.cy)).width === 960,
      { timeoutMs: 30000, everyMs: 250, what: "Bob and Cy decode Ada's 960-wide layer" });
    console.log(`# top layer decoded by both ${Date.now() - t1} ms after the joins`);
    await eventually(async () => {
      const m = await sfu.metrics();
      return m.staffroom_sfu_twcc_feedbacks_total > 10 && m;
    }, { timeoutMs: 10000, what: 'transport-cc feedback from the subscribers' });
    const text = await (await fetch(`http://127.0.0.1:${sfu.httpPort}/metrics`)).text();
    assert.match(text, /staffroom_sfu_subscriber_estimate_bps\{room="sim",participant="nodeS-bob"\} \d+/);

    // The non-browser receiver joins (no transport-cc), sees Ada's camera hidden: audio only.
    const peer = await startPeer(h, { label: 'quinn', args: ['--publish', 'none'] });
    const bridge = await bridgeRedis(peer, { redisPort: redis.port, sfuId: sfu.id, node: 'nodeS', room: 'sim', count: 1 });
    await peer.next((m) => m.op === 'up', 30000);

    // 2. a small tile: the lowest layer within 5 s, decoding all along
    const before = await video(pages.bob);
    const t2 = Date.now();
    await view('bob', 150, true);
    let maxGap = 0;
    let last = { frames: before.frames, at: Date.now() };
    await eventually(async () => {
      const v = await video(pages.bob);
      const now = Date.now();
      if (v.frames > last.frames) last = { frames: v.frames, at: now };
      maxGap = Math.max(maxGap, now - last.at);
      return v.width === 240;
    }, { timeoutMs: 5000, everyMs: 100, what: "Bob's decoder on the 240-wide layer" });
    const down = Date.now() - t2;
    // keeps decoding for another second
    const after = await video(pages.bob);
    await new Promise((r) => setTimeout(r, 1000));
    const later = await video(pages.bob);
    console.log(`# tile 150 px: Bob on the 240-wide layer in ${down} ms; longest gap between decoded frames ${maxGap} ms`);
    assert.ok(later.frames > after.frames, 'Bob keeps decoding after the switch');
    assert.ok(maxGap <= 1000, `no freeze over 1 s across the switch (${maxGap} ms)`);
    assert.equal((await video(pages.cy)).width, 960, 'Cy keeps the top layer');
    const m2 = await sfu.metrics();
    assert.ok(m2.staffroom_sfu_layer_switches_total >= 1);
    const text2 = await (await fetch(`http://127.0.0.1:${sfu.httpPort}/metrics`)).text();
    const perRoom = Number(/staffroom_sfu_room_layer_switches_total\{room="sim"\} (\d+)/.exec(text2)?.[1]);
    assert.ok(perRoom >= 1, text2);

    // 3. hidden: video stops within 2 s; shown: resumes with a keyframe
    const audioBefore = await audioPackets(pages.bob);
    await view('bob', 960, false);
    const t3 = Date.now();
    let stoppedAt = 0;
    await eventually(async () => {
      const a = await video(pages.bob);
      await new Promise((r) => setTimeout(r, 300));
      const b = await video(pages.bob);
      if (b.packets === a.packets) { stoppedAt = Date.now() - 300 - t3; return true; }
      return false;
    }, { timeoutMs: 4000, everyMs: 50, what: "Bob's video stops" });
    console.log(`# hidden: Bob's video stopped within ${stoppedAt} ms`);
    assert.ok(stoppedAt <= 2000, `stopped in ${stoppedAt} ms`);
    const cy1 = await video(pages.cy);
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok((await video(pages.cy)).frames > cy1.frames, "Cy's video goes on");
    const hidden = await video(pages.bob);
    await view('bob', 960, true);
    const t4 = Date.now();
    await eventually(async () => { const v = await video(pages.bob); return v.frames > hidden.frames + 5 && v.keyFrames > hidden.keyFrames; },
      { timeoutMs: 8000, everyMs: 100, what: "Bob's video resumes with a keyframe" });
    console.log(`# shown again: decoding from a new keyframe in ${Date.now() - t4} ms`);

    // 4. audio all along: Bob's microphones kept coming, and the non-browser receiver gets Ada's audio
    assert.ok(await audioPackets(pages.bob) > audioBefore + 100, 'Bob kept receiving audio');
    await sfu.command({ op: 'view', room: 'sim', pid: 'nodeS-0', node: 'nodeS', tiles: [{ publisher: 'nodeS-ada', width: 0, visible: false }] });
    await new Promise((r) => setTimeout(r, 1000));
    const q1 = await peer.report();
    await new Promise((r) => setTimeout(r, 2000));
    const q2 = await peer.report();
    console.log(`# sfu_peer receiver: ${q2.rx_packets - q1.rx_packets} packets in 2 s with the camera hidden (audio)`);
    assert.ok(q2.rx_packets - q1.rx_packets >= 50, `the non-browser receiver gets audio (${q2.rx_packets - q1.rx_packets} packets in 2 s)`);
    assert.ok(q2.rx_packets - q1.rx_packets < 400, 'and only audio');
    assert.deepEqual(bridge.states[0].errors, []);
    for (const s of Object.values(st)) assert.deepEqual(s.errors, [], JSON.stringify(s.errors));
    peer.send('quit');
    bridge.close();
    node.close();
  } finally {
    await browser?.close();
    await h.close();
  }
});

// A publisher that lists its layers highest first (a=simulcast:send f;h;q, as some clients do): once the
//    layers' widths are known from their keyframes the SFU orders them by width, so that a subscriber gets the
//    top layer by default and the layer its tile needs when the tile is small.
test('simulcast listed highest first: the SFU orders the layers by width', { timeout: 120000 }, async () => {
  const h = new Harness('sfu-simulcast-order');
  let browser;
  try {
    let sfu, node, pages, st;
    ({ sfu, node, browser, pages, st } = await room(h, 'ord', 'nodeO', [['ada', { simulcast: [...LAYERS].reverse() }], ['bob', { video: false }]]));
    await eventually(async () => (await video(pages.bob)).width === 960,
      { timeoutMs: 30000, everyMs: 250, what: "Bob decodes Ada's 960-wide layer (the top one, listed first)" });
    await sfu.command({ op: 'view', room: 'ord', pid: 'nodeO-bob', node: 'nodeO', tiles: [{ publisher: 'nodeO-ada', width: 150, visible: true }] });
    const t = Date.now();
    await eventually(async () => (await video(pages.bob)).width === 240,
      { timeoutMs: 10000, everyMs: 100, what: "Bob on the 240-wide layer (listed last)" });
    console.log(`# layers listed highest first: Bob on the 240-wide layer ${Date.now() - t} ms after a 150 px tile`);
    assert.match(sfu.rec.output, /layers listed out of order of width: now q, h, f lowest first/);
    for (const s of Object.values(st)) assert.deepEqual(s.errors, [], JSON.stringify(s.errors));
    node.close();
  } finally {
    await browser?.close();
    await h.close();
  }
});
