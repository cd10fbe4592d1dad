// sfu_browser.test.mjs — real Chromium participants through staffroom-sfu: ICE + DTLS-SRTP connect, RTP is
// forwarded, and every page decodes every other participant's video; once directly, once forced through
// staffroom-relay (iceTransportPolicy "relay"). Signalling goes over Redis as a signal node would send it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { launchBrowser, newUser, shot } from '../lib/browser.mjs';
import { startRelay } from '../lib/relay.mjs';
import { startSfu, sfuNode, joinFromPage, pageVideo } from '../lib/sfu.mjs';

async function room(h, { n, relayOpts, label, screenFirst = false }) {
  const redis = await h.redis();
  const sfu = await startSfu(h, { redisPort: redis.port });
  const node = await sfuNode(redis.port, 'nodeT');
  let iceServers = [];
  let iceTransportPolicy = 'all';
  if (relayOpts) {
    const relay = await startRelay(h, { allowLoopback: true });
    const c = relay.creds('alice');
    iceServers = [{ urls: [`turn:127.0.0.1:${relay.port}?transport=udp`], username: c.username, credential: c.password }];
    iceTransportPolicy = 'relay';
  }
  const browser = await launchBrowser();
  const people = [];
  for (let i = 0; i < n; i++) {
    const { page } = await newUser(browser, { viewport: { width: 640, height: 480 } });
    people.push({ page, st: await joinFromPage(page, { sfu, node, room: 'r1', pid: `nodeT-${label}${i}`, user: `u${i}`, iceServers, iceTransportPolicy, screen: screenFirst && i === 0 }) });
  }
  return { redis, sfu, node, browser, people, iceServers, iceTransportPolicy };
}

async function allDecoding(people, remotes, timeoutMs = 30000) {
  let last = null;
  try {
    return await eventually(async () => {
      const all = await Promise.all(people.map((p) => pageVideo(p.page)));
      last = all;
      const ok = all.every((s) => s.video.filter((v) => v.frames > 0).length >= remotes);
      return ok && all;
    }, { timeoutMs, everyMs: 200, what: `every page decoding ${remotes} remote videos` });
  } catch (e) {
    throw new Error(`${e.message}: ${JSON.stringify(last)} errors ${JSON.stringify(people.map((p) => [p.st.offers, p.st.errors]))}`);
  }
}

test('two Chromium participants connect directly and decode each other through the SFU', async () => {
  const h = new Harness('sfu-browser2');
  let b;
  try {
    const { sfu, browser, people, node } = await room(h, { n: 2, label: 'd' });
    b = browser;
    const t0 = Date.now();
    const stats = await allDecoding(people, 1);
    console.log(`# two participants: both decoding ${Date.now() - t0} ms after the second offer`);
    for (const s of stats) assert.equal(s.state, 'connected');
    for (const p of people) assert.deepEqual(p.st.errors, []);
    const m = await sfu.metrics();
    assert.equal(m.staffroom_sfu_participants, 2);
    assert.equal(m.staffroom_sfu_tracks, 4);
    assert.equal(m.staffroom_sfu_legs, 4);
    assert.ok(m.staffroom_sfu_rtp_received_total > 0 && m.staffroom_sfu_forwarded_packets_total > 0, JSON.stringify(m));
    assert.ok(m.staffroom_sfu_plis_total >= 1, 'a keyframe was requested for the new subscriber');
    assert.equal(m.staffroom_sfu_srtp_failures_total, 0);
    await shot(people[0].page, 'sfu-two');
    // Frames keep coming (not a single keyframe).
    const before = stats[0].video[0].frames;
    await eventually(async () => (await pageVideo(people[0].page)).video[0].frames > before + 10, { what: 'frames rising' });
    // Leave: the other one gets an offer with the departed sections inactive.
    const offers = people[1].st.offers;
    await people[0].st.leave();
    await eventually(() => people[1].st.offers > offers, { what: 'renegotiation after a leave' });
    assert.match(people[1].st.lastOffer.sdp, /a=inactive/);
    await eventually(async () => (await sfu.metrics()).staffroom_sfu_participants === 1, { what: 'one participant left' });
    node.close();
    const res = await h.stop(sfu.rec);
    assert.equal(res.code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    await b?.close();
    await h.close();
  }
});

test('three Chromium participants forced through staffroom-relay, one sharing its screen; leave and rejoin', async () => {
  const h = new Harness('sfu-browser3');
  let b;
  try {
    const { sfu, browser, people, node, iceServers, iceTransportPolicy } = await room(h, { n: 3, relayOpts: {}, label: 'r', screenFirst: true });
    b = browser;
    const t0 = Date.now();
    // p0 publishes camera + screen: p1 and p2 decode 3 videos (p0's two and each other's), p0 decodes 2.
    const stats = await allDecoding(people.slice(1), 3);
    await allDecoding(people.slice(0, 1), 2);
    console.log(`# three participants via relay: all decoding ${Date.now() - t0} ms after the last offer`);
    for (const s of stats) assert.deepEqual([s.local, s.state], ['relay', 'connected'], JSON.stringify(s));
    const tracks = people[1].st.lastOffer.tracks;
    assert.deepEqual(Object.values(tracks).filter((t) => t.pid === 'nodeT-r0').map((t) => t.kind).sort(), ['camera', 'mic', 'screen']);
    let m = await sfu.metrics();
    assert.equal(m.staffroom_sfu_participants, 3);
    assert.equal(m.staffroom_sfu_tracks, 7);
    assert.equal(m.staffroom_sfu_legs, 14);
    await shot(people[1].page, 'sfu-three-relay');

    // p2 leaves; it comes back from a fresh page with the same pid: the others decode it again (the
    // sections its tracks used went inactive and are reused).
    await people[2].st.leave();
    await eventually(async () => (await sfu.metrics()).staffroom_sfu_participants === 2, { what: 'p2 gone' });
    const { page } = await newUser(browser, { viewport: { width: 640, height: 480 } });
    const st = await joinFromPage(page, { sfu, node, room: 'r1', pid: 'nodeT-r2', user: 'u2', iceServers, iceTransportPolicy });
    const again = { page, st };
    await allDecoding([again, people[1]], 3);
    await allDecoding([people[0]], 2);
    m = await sfu.metrics();
    assert.equal(m.staffroom_sfu_participants, 3);
    assert.equal(m.staffroom_sfu_srtp_failures_total, 0);
    // The rejoin reused p1's idle sections rather than adding new ones.
    const mids = (people[1].st.lastOffer.sdp.match(/^a=mid:/gm) || []).length;
    assert.equal(mids, 2 + 5, `p1's PeerConnection: its 2 own + 5 received sections, got ${mids}`);

    // p0 stops its screen share (the transceiver is stopped: port 0 in its offer): the SFU's answer
    // rejects that section too (else Chromium refuses it), and the others' next offer no longer lists it.
    const offers1 = people[1].st.offers;
    const sdp = await people[0].page.evaluate(async () => {
      window.sfuLabels.screen.stop();
      await window.sfuPc.setLocalDescription(await window.sfuPc.createOffer());
      return window.sfuPc.localDescription.sdp;
    });
    const tracks0 = await people[0].page.evaluate(() => Object.fromEntries(Object.entries(window.sfuLabels).filter(([, t]) => !t.stopped).map(([k, t]) => [t.mid, k])));
    await sfu.command({ op: 'offer', tx: 'stop-share', room: 'r1', pid: 'nodeT-r0', node: node.node, user: 'u0', sdp, tracks: tracks0 });
    await eventually(async () => (await people[0].page.evaluate(() => window.sfuPc.signalingState)) === 'stable' || people[0].st.errors.length,
      { what: 'the answer to the stop-share offer applied' });
    assert.deepEqual(people[0].st.errors, []);
    await eventually(() => people[1].st.offers > offers1, { what: 'p1 renegotiated after the share stopped' });
    assert.deepEqual(Object.values(people[1].st.lastOffer.tracks).filter((t) => t.kind === 'screen'), []);
    assert.equal((await sfu.metrics()).staffroom_sfu_tracks, 6);
    node.close();
    const res = await h.stop(sfu.rec);
    assert.equal(res.code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    await b?.close();
    await h.close();
  }
});

// A subscriber behind a narrow relay link (staffroom-relay's bandwidth-limit drops what exceeds it):
// packets it misses are NACKed and the SFU resends them as RTX from the leg's buffer; the SFU's own
// sender and receiver reports flow; the publisher whose microphone carries a steady tone is announced
// as the room's speaker.
test('NACKs from a subscriber on a narrow link are answered with RTX; SR/RR flow; the speaker is announced', async () => {
  const h = new Harness('sfu-browser-nack');
  let browser;
  try {
    const redis = await h.redis();
    const sfu = await startSfu(h, { redisPort: redis.port });
    const node = await sfuNode(redis.port, 'nodeN');
    // 20 kB/s each way through the subscriber's allocation: less than a 320x240 camera and a microphone
    // send (~35 kB/s here), so some packets are lost every second.
    const relay = await startRelay(h, { allowLoopback: true, bandwidthLimit: 20000 });
    const c = relay.creds('bob');
    browser = await launchBrowser();
    const pub = await newUser(browser);
    const sub = await newUser(browser);
    const pst = await joinFromPage(pub.page, { sfu, node, room: 'r1', pid: 'nodeN-pub' });
    const sst = await joinFromPage(sub.page, { sfu, node, room: 'r1', pid: 'nodeN-sub', video: false, iceTransportPolicy: 'relay',
      iceServers: [{ urls: [`turn:127.0.0.1:${relay.port}?transport=udp`], username: c.username, credential: c.password }] });
    // The publisher's microphone becomes a steady tone (the fake microphone only beeps now and then).
    const state = await pub.page.evaluate(async () => {
      const ctx = new AudioContext();
      await ctx.resume();
      const osc = ctx.createOscillator();
      const dst = ctx.createMediaStreamDestination();
      osc.connect(dst);
      osc.start();
      await window.sfuLabels.mic.sender.replaceTrack(dst.stream.getAudioTracks()[0]);
      return ctx.state;
    });
    assert.equal(state, 'running');
    const inbound = () => sub.page.evaluate(async () => {
      let out = null;
      (await window.sfuPc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out = { frames: s.framesDecoded || 0, nacks: s.nackCount || 0, rtx: s.retransmittedPacketsReceived };
      });
      return out;
    });
    let last = null;
    let lastM = null;
    const m = await eventually(async () => {
      last = await inbound();
      lastM = await sfu.metrics();
      return last && last.nacks > 0 && lastM.staffroom_sfu_retransmissions_total > 0 &&
        lastM.staffroom_sfu_sender_reports_total > 0 && lastM.staffroom_sfu_receiver_reports_total > 0 && lastM;
    }, { timeoutMs: 30000, everyMs: 250, what: 'NACKs answered, SRs and RRs sent' }).catch((e) => {
      throw new Error(`${e.message}: subscriber ${JSON.stringify(last)}, offers/errors ${JSON.stringify([pst.offers, pst.errors, sst.offers, sst.errors])}, SFU ${JSON.stringify(lastM)}`);
    });
    console.log(`# narrow link: subscriber ${JSON.stringify(last)}; SFU nacks ${m.staffroom_sfu_nacks_total}, retransmissions ${m.staffroom_sfu_retransmissions_total}, nack misses ${m.staffroom_sfu_nack_misses_total}, SRs ${m.staffroom_sfu_sender_reports_total}, RRs ${m.staffroom_sfu_receiver_reports_total}`);
    assert.ok(m.staffroom_sfu_nacks_total > 0);
    // Chromium counts the RTX packets it received (a plain resend would not be counted there; the field
    // appears once there is one).
    const rtx = await eventually(async () => { const s = await inbound(); return s.rtx > 0 && s.rtx; },
      { timeoutMs: 15000, what: 'retransmittedPacketsReceived > 0 (RTX negotiated and used)' });
    assert.ok(rtx > 0);
    // (joinFromPage's dispatcher takes every message off the node; node.messages keeps them all.)
    const spk = await eventually(() => node.messages.find((x) => x.op === 'speaker' && x.pid === 'nodeN-pub'),
      { timeoutMs: 10000, what: `speaker event: ${JSON.stringify(node.messages.filter((x) => x.op === 'speaker'))}` });
    assert.deepEqual([spk.room, [...spk.to].sort()], ['r1', ['nodeN-pub', 'nodeN-sub']]);
    assert.equal((await sfu.metrics()).staffroom_sfu_speaker_changes_total >= 1, true);
    node.close();
    assert.equal((await h.stop(sfu.rec)).code, 0);
    assert.doesNotMatch(sfu.rec.output, /AddressSanitizer|LeakSanitizer|runtime error/);
  } finally {
    await browser?.close();
    await h.close();
  }
});
