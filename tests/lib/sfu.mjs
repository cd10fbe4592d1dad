// sfu.mjs — starts staffroom-sfu for a test and talks to it the way a signal node does (Redis, per the
// contract in signalling/ARCHITECTURE.md, "Group media: staffroom-signal ↔ staffroom-sfu").
//
//   const redis = await h.redis();
//   const sfu = await startSfu(h, { redisPort: redis.port });      // waits for sfu:alive:<id> in Redis
//   sfu.id, sfu.httpPort, sfu.rec (the process), sfu.portRange ([min, max] UDP media ports)
//   await sfu.metrics()            // { name: value } from /metrics (counters and gauges)
//   const node = await sfuNode(redis.port, 'nodeA');               // subscribed to sfu:to:nodeA
//   await sfuCommand(redis.port, sfu.id, { op: 'offer', tx: 1, room, pid, user, node: 'nodeA', sdp, tracks });
//   const reply = await node.next((m) => m.op === 'answer' && m.tx === 1);
//   node.close();
//
// API kept stable for the signal tests: startSfu, sfuNode, sfuCommand, parseMetrics.
import http from 'node:http';
import net from 'node:net';
import { bin, eventually, freePort } from './harness.mjs';
import { redisCommand } from './client.mjs';

let sfuCounter = 0;

// A UDP port range nobody else in this test process uses (ranges of 200 from a random base).
function mediaRange() {
  const base = 20000 + ((process.pid * 7 + sfuCounter * 211) % 150) * 200;
  return [base, base + 199];
}

// opts: redisPort (required), id, label, args (extra flags), heartbeatMs, mediaPorts ([min,max] or null for any),
//       env, logLevel
export async function startSfu(h, opts) {
  const { redisPort, id = `sfu${process.pid}x${sfuCounter}`, label = `sfu-${sfuCounter}`, args = [],
    heartbeatMs = 1000, mediaPorts = mediaRange(), env, logLevel = 'info' } = opts;
  sfuCounter++;
  const httpPort = await freePort();
  const argv = ['--id', id, '--redis-host', '127.0.0.1', '--redis-port', String(redisPort),
    '--media-address', '127.0.0.1', '--http-address', '127.0.0.1', '--http-port', String(httpPort),
    '--heartbeat-ms', String(heartbeatMs), '--log-level', logLevel];
  if (mediaPorts) argv.push('--udp-port-min', String(mediaPorts[0]), '--udp-port-max', String(mediaPorts[1]));
  argv.push(...args);
  const rec = await h.start(label, bin('staffroom-sfu'), argv, { ready: /staffroom-sfu listening/, env });
  await eventually(async () => await redisCommand(redisPort, ['GET', `sfu:alive:${id}`]),
    { timeoutMs: 10000, what: `sfu:alive:${id} in Redis` });
  return {
    id, rec, httpPort, argv, redisPort, portRange: mediaPorts,
    metrics: async () => parseMetrics(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()),
    healthz: async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status,
    command: (msg) => sfuCommand(redisPort, id, msg),
  };
}

// Prometheus text → { metric_name: number } (no labels are used by the SFU).
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [k, v] = line.split(' ');
    out[k] = Number(v);
  }
  return out;
}

// PUBLISH sfu:cmd:<id> JSON(msg); resolves with the number of subscribers that got it.
export function sfuCommand(redisPort, sfuId, msg) {
  return redisCommand(redisPort, ['PUBLISH', `sfu:cmd:${sfuId}`, typeof msg === 'string' ? msg : JSON.stringify(msg)]);
}

// A fake signal node: SUBSCRIBEd to sfu:to:<node>; collects every message (parsed JSON) in .messages.
// next(pred, timeoutMs) resolves with the first message (already received or to come) matching pred that
// no earlier next() call took.
export async function sfuNode(redisPort, node) {
  const sock = net.connect(redisPort, '127.0.0.1');
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  const messages = [];
  const taken = new Set();
  const waiters = [];
  let buf = Buffer.alloc(0);
  let subscribed;
  const ready = new Promise((r) => { subscribed = r; });
  const offer = () => {
    for (const w of [...waiters]) {
      const i = messages.findIndex((m, k) => !taken.has(k) && w.pred(m));
      if (i >= 0) { taken.add(i); waiters.splice(waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(messages[i]); }
    }
  };
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const r = parseArray(buf);
      if (!r) break;
      buf = buf.subarray(r.end);
      const [kind, , payload] = r.value;
      if (kind === 'subscribe') subscribed();
      if (kind === 'message') {
        try { messages.push(JSON.parse(payload)); } catch { messages.push({ op: '?unparsable', text: payload }); }
        offer();
      }
    }
  });
  sock.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(`sfu:to:${node}`)}\r\nsfu:to:${node}\r\n`);
  await ready;
  return {
    node, messages,
    next(pred = () => true, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const w = { pred, resolve, timer: setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`no matching message on sfu:to:${node} in ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.op))}`)); }, timeoutMs) };
        waiters.push(w);
        offer();
      });
    },
    // Also ends the waits still pending (they would keep the test process alive until their timeout).
    close() { sock.destroy(); for (const w of waiters.splice(0)) clearTimeout(w.timer); },
  };
}

// Minimal RESP reader for pub/sub pushes: arrays of bulk strings and integers.
function parseArray(buf) {
  if (buf.length < 1) return null;
  if (buf[0] !== 0x2a) throw new Error(`unexpected RESP from Redis: ${buf.toString().slice(0, 40)}`);
  let eol = buf.indexOf('\r\n');
  if (eol < 0) return null;
  const n = Number(buf.toString('utf8', 1, eol));
  let at = eol + 2;
  const out = [];
  for (let i = 0; i < n; i++) {
    eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const t = String.fromCharCode(buf[at]);
    if (t === ':') { out.push(Number(buf.toString('utf8', at + 1, eol))); at = eol + 2; continue; }
    const len = Number(buf.toString('utf8', at + 1, eol));
    if (buf.length < eol + 2 + len + 2) return null;
    out.push(buf.toString('utf8', eol + 2, eol + 2 + len));
    at = eol + 2 + len + 2;
  }
  return { value: out, end: at };
}

// ---- a browser participant talking to the SFU through a fake signal node ------------------------------
//
//   const node = await sfuNode(redis.port, 'nodeT');
//   const p = await joinFromPage(page, { sfu, node, room: 'r1', pid: 'nodeT-1', user: 'alice' });
//   await eventually(async () => (await pageVideo(page)).every((v) => v.frames > 0));
//   p.gone  // the gone event, if the SFU dropped it
//
// The page gets one RTCPeerConnection (window.sfuPc, also in window.staffroomPeers for media.mjs) with
// the fake camera and microphone; the SFU's offers are answered in the page, candidates trickle both ways.
// opts: iceServers, iceTransportPolicy ('all' | 'relay'), audio (true), video (true), screen (false: a second
// video track labelled 'screen'), mungeOffer (sdp => sdp, to test bad input)
const pageDispatch = new WeakMap();

// getUserMedia needs a secure context: an empty page served on 127.0.0.1 by this process.
let blankServer = null;
async function blankUrl() {
  if (!blankServer) {
    blankServer = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>sfu test</title>'); });
    blankServer.unref();
    await new Promise((r) => blankServer.listen(0, '127.0.0.1', r));
  }
  return `http://127.0.0.1:${blankServer.address().port}/`;
}

export async function joinFromPage(page, opts) {
  if (!page.url().startsWith('http')) await page.goto(await blankUrl());
  const { sfu, node, room, pid, user = pid, iceServers = [], iceTransportPolicy = 'all', audio = true, video = true,
    screen = false, mungeOffer = (s) => s, simulcast = null } = opts;
  const state = { pid, room, gone: null, offers: 0, errors: [], chain: Promise.resolve(), tx: 0 };
  const send = (msg) => sfu.command({ ...msg, room, pid, node: node.node });
  await page.exposeFunction(`sfuCandidate_${pid.replace(/\W/g, '_')}`, (mid, candidate) => {
    send({ op: 'candidate', mid, candidate }).catch(() => {});
  });
  const labels = await page.evaluate(async ({ iceServers, iceTransportPolicy, audio, video, screen, fn, simulcast }) => {
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    window.sfuPc = pc;
    window.staffroomPeers = [{ label: 'sfu', pc }];
    window.sfuRemote = [];
    pc.ontrack = (e) => { window.sfuRemote.push(e.track); };
    pc.onicecandidate = (e) => window[fn](e.candidate ? e.candidate.sdpMid : '', e.candidate ? e.candidate.candidate : '');
    const labels = {};
    // simulcast: the camera's sendEncodings (captured at 960x540 then: Chromium sends three layers from 960x540 up)
    const media = await navigator.mediaDevices.getUserMedia({ audio, video: video ? (simulcast ? { width: 960, height: 540 } : { width: 320, height: 240 }) : false });
    for (const t of media.getTracks()) {
      labels[t.kind === 'audio' ? 'mic' : 'camera'] = pc.addTransceiver(t, { direction: 'sendonly', ...(simulcast && t.kind === 'video' ? { sendEncodings: simulcast } : {}) });
    }
    if (screen) {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      labels.screen = pc.addTransceiver(s.getVideoTracks()[0], { direction: 'sendonly' });
    }
    window.sfuLabels = labels;
    return Object.keys(labels);
  }, { iceServers, iceTransportPolicy, audio, video, screen, simulcast, fn: `sfuCandidate_${pid.replace(/\W/g, '_')}` });
  state.labels = labels;

  // Events for this participant, handled one after the other.
  const handle = async (m) => {
    if (m.op === 'answer') {
      await page.evaluate((sdp) => window.sfuPc.setRemoteDescription({ type: 'answer', sdp }), m.sdp);
    } else if (m.op === 'offer') {
      state.offers++;
      state.lastOffer = m;
      const sdp = await page.evaluate(async (sdp) => {
        await window.sfuPc.setRemoteDescription({ type: 'offer', sdp });
        await window.sfuPc.setLocalDescription(await window.sfuPc.createAnswer());
        return window.sfuPc.localDescription.sdp;
      }, m.sdp);
      await send({ op: 'answer', tx: `a${++state.tx}`, sdp });
    } else if (m.op === 'candidate') {
      await page.evaluate(({ mid, candidate }) => window.sfuPc.addIceCandidate(candidate ? { candidate, sdpMid: mid } : null), m);
    } else if (m.op === 'gone') {
      state.gone = m;
    } else if (m.op === 'error') {
      state.errors.push(m);
    }
  };
  let routes = pageDispatch.get(node);
  if (!routes) {
    routes = new Map();
    pageDispatch.set(node, routes);
    const pump = () => node.next(() => true, 600000).then((m) => {
      const st = routes.get(m.pid);
      if (st) st.chain = st.chain.then(() => st.handle(m)).catch((e) => st.errors.push({ op: 'local', message: String(e) }));
      pump();
    }, () => {});
    pump();
  }
  state.handle = handle;
  routes.set(pid, state);

  const offerSdp = mungeOffer(await page.evaluate(async () => {
    await window.sfuPc.setLocalDescription(await window.sfuPc.createOffer());
    return window.sfuPc.localDescription.sdp;
  }));
  const tracks = await page.evaluate(() => Object.fromEntries(Object.entries(window.sfuLabels).map(([k, t]) => [t.mid, k])));
  state.t0 = Date.now();
  await send({ op: 'offer', tx: `o${++state.tx}`, user, sdp: offerSdp, tracks });
  state.leave = () => send({ op: 'leave' });
  return state;
}

// What the page receives: one entry per inbound video stream {mid, frames, width} and the selected pair's
// candidate types and the connection state.
export function pageVideo(page) {
  return page.evaluate(async () => {
    const pc = window.sfuPc;
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    const video = [];
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') video.push({ mid: s.mid, frames: s.framesDecoded || 0, width: s.frameWidth || 0, keyFrames: s.keyFramesDecoded || 0 });
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
    });
    return { video, state: pc.connectionState, local: pair ? byId.get(pair.localCandidateId)?.candidateType : null,
      remote: pair ? byId.get(pair.remoteCandidateId)?.candidateType : null };
  });
}
