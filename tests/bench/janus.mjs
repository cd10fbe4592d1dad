// janus.mjs — Janus 1.1.2 (Debian package `janus`) for `make bench-sfu`: starts it with a configuration
// written at run time into the harness's temp dir, and drives its VideoRoom plugin over its WebSocket API
// (subprotocol janus-protocol) for one tests/tools/sfu_peer process run with --subscribers-answer.
//
//   const j = await startJanus(h, { cpu: '0', eventLoops: 2 });   // j.pid, j.rec, j.wsUrl
//   const room = await janusRoom(j, { publishers: P, peer, participants, substream: 2 });
//   ... room.states (errors per peer connection), room.close()
//
// The configuration: only the VideoRoom plugin and the WebSocket transport are loaded (their own
// folders of symlinks, so no other plugin starts threads or opens ports); the WebSocket listens on
// 127.0.0.1 on a free port; no STUN or TURN server, IPv4 only, mDNS candidates ignored; ICE gathers on
// "lo" only (ice_enforce_list), and tests/bench/janus_lo_shim.so is preloaded so that Janus does not
// skip the loopback interface (the shim's header says why). `event_loops` (JANUS_EVENT_LOOPS, default
// 0: Janus's default of one thread and GLib loop per peer connection) is the knob Janus's own
// documentation gives for scaling. Logging at level 3 (warnings): a line per event would cost CPU in
// the measured process.
//
// The room: VP8 and Opus only, as many publishers as the run has, no recording, no audio-level events.
// Publisher k (peer connection k of sfu_peer) joins with feed id k+1 and configures with its own offer
// (Janus answers). Receiving peer connection j subscribes with one handle to every feed it should get
// (Janus offers; sfu_peer answers; `start`), then `configure`s the fixed substream so that Janus
// forwards one chosen simulcast layer, as staffroom-sfu forwards one. Candidates trickle both ways.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { freePort, eventually, ROOT } from '../lib/harness.mjs';

const PLUGINS = '/usr/lib/x86_64-linux-gnu/janus/plugins';
const TRANSPORTS = '/usr/lib/x86_64-linux-gnu/janus/transports';
export const janusBin = () => process.env.JANUS_BIN || '/usr/bin/janus';
export const shimPath = () => path.join(ROOT, 'build/tests/bench/janus_lo_shim.so');

function writeConfig(dir, { wsPort, eventLoops }) {
  const conf = path.join(dir, 'conf');
  const plugins = path.join(dir, 'plugins');
  const transports = path.join(dir, 'transports');
  const empty = path.join(dir, 'empty');
  for (const d of [conf, plugins, transports, empty]) fs.mkdirSync(d, { recursive: true });
  fs.symlinkSync(path.join(PLUGINS, 'libjanus_videoroom.so'), path.join(plugins, 'libjanus_videoroom.so'));
  fs.symlinkSync(path.join(TRANSPORTS, 'libjanus_websockets.so'), path.join(transports, 'libjanus_websockets.so'));
  fs.writeFileSync(path.join(conf, 'janus.jcfg'), `general: {
  configs_folder = "${conf}"
  plugins_folder = "${plugins}"
  transports_folder = "${transports}"
  events_folder = "${empty}"
  loggers_folder = "${empty}"
  debug_level = 3
  session_timeout = 120
  event_loops = ${eventLoops}
  protected_folders = []
}
certificates: {
}
media: {
  ipv6 = false
  rtp_port_range = "40000-60000"
}
nat: {
  nice_debug = false
  full_trickle = true
  ice_lite = false
  ice_tcp = false
  ignore_mdns = true
  ice_enforce_list = "lo"
}
plugins: {
}
transports: {
}
events: {
  broadcast = false
}
`);
  fs.writeFileSync(path.join(conf, 'janus.transport.websockets.jcfg'), `general: {
  json = "plain"
  ws = true
  ws_port = ${wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`);
  fs.writeFileSync(path.join(conf, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\n');
  return conf;
}

// opts: cpu (taskset list: Janus and every thread it starts stay there), eventLoops, label
export async function startJanus(h, { cpu, eventLoops = 0, label = 'janus' } = {}) {
  if (!fs.existsSync(janusBin())) throw new Error(`${janusBin()} missing: scripts/deps.sh bench installs the janus package`);
  if (!fs.existsSync(shimPath())) throw new Error(`${shimPath()} missing: make build/tests/bench/janus_lo_shim.so`);
  const dir = path.join(h.dir, `janus-${Date.now()}`);
  const wsPort = await freePort();
  const conf = writeConfig(dir, { wsPort, eventLoops });
  const args = ['-F', conf, '-C', path.join(conf, 'janus.jcfg'), '-o', '-L', path.join(dir, 'janus.log')];
  const file = cpu ? 'taskset' : janusBin();
  const argv = cpu ? ['-c', cpu, janusBin(), ...args] : args;
  const rec = await h.start(label, file, argv, { env: { LD_PRELOAD: shimPath() } });
  const wsUrl = `ws://127.0.0.1:${wsPort}/`;
  await eventually(() => new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, 'janus-protocol');
    ws.once('open', () => { ws.close(); resolve(true); });
    ws.once('error', () => resolve(false));
  }), { timeoutMs: 30000, what: `Janus WebSocket on ${wsUrl}` });
  return { rec, pid: rec.proc.pid, wsUrl, dir, eventLoops };
}

// One Janus API session over one WebSocket: requests by transaction, plugin events to a listener.
class JanusSession {
  constructor(url) {
    this.ws = new WebSocket(url, 'janus-protocol');
    this.pending = new Map();
    this.events = [];
    this.onEvent = () => {};
    this.n = 0;
    this.ws.on('message', (data) => this._message(JSON.parse(data.toString())));
    this.opened = new Promise((resolve, reject) => { this.ws.once('open', resolve); this.ws.once('error', reject); });
  }

  _message(m) {
    const p = m.transaction && this.pending.get(m.transaction);
    // A plugin message is acked first; its answer comes as an event with the same transaction.
    if (p && m.janus === 'ack' && p.async) return;
    if (p) {
      this.pending.delete(m.transaction);
      clearTimeout(p.timer);
      if (m.janus === 'error' || m.plugindata?.data?.error) p.reject(new Error(`janus: ${JSON.stringify(m.error || m.plugindata.data)}`));
      else p.resolve(m);
      return;
    }
    this.onEvent(m);
  }

  request(body, { async = false, timeoutMs = 20000 } = {}) {
    const transaction = `t${++this.n}`;
    const msg = { ...body, transaction };
    if (this.id && !msg.session_id) msg.session_id = this.id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(transaction); reject(new Error(`janus: no answer to ${JSON.stringify(body).slice(0, 200)}`)); }, timeoutMs);
      this.pending.set(transaction, { resolve, reject, async, timer });
      this.ws.send(JSON.stringify(msg));
    });
  }

  async create() {
    await this.opened;
    this.id = (await this.request({ janus: 'create' })).data.id;
    this.keepalive = setInterval(() => this.ws.send(JSON.stringify({ janus: 'keepalive', session_id: this.id, transaction: 'ka' })), 20000);
  }

  async attach() { return (await this.request({ janus: 'attach', plugin: 'janus.plugin.videoroom' })).data.id; }
  message(handle, body, jsep) { return this.request({ janus: 'message', handle_id: handle, body, ...(jsep ? { jsep } : {}) }, { async: true }); }
  trickle(handle, candidate) { this.ws.send(JSON.stringify({ janus: 'trickle', session_id: this.id, handle_id: handle, candidate, transaction: `c${++this.n}` })); }
  close() { clearInterval(this.keepalive); this.ws.close(); }
}

// Sets up one room on Janus for `peer` (an sfu_peer process with --subscribers-answer): peer connections
// 0..publishers-1 publish; receivers[j] = { k: peer connection, feeds: [publisher indexes] }.
// Resolves when every publisher is configured and every receiver has answered and started.
export async function janusRoom(j, { peer, publishers, receivers, substream = 2, roomId = 1234 }) {
  const s = new JanusSession(j.wsUrl);
  await s.create();
  const created = await s.request({ janus: 'message', handle_id: await s.attach(), body: {
    request: 'create', room: roomId, publishers: Math.max(publishers, 1), audiocodec: 'opus', videocodec: 'vp8',
    bitrate: 0, fir_freq: 0, record: false, audiolevel_event: false, notify_joining: false, permanent: false,
  } });
  if (created.plugindata?.data?.videoroom !== 'created') throw new Error(`janus: room not created: ${JSON.stringify(created)}`);

  const states = new Map(); // k → { handle, errors, queued candidates, jsepSent }
  const state = (k) => { if (!states.has(k)) states.set(k, { k, handle: 0, errors: [], queue: [], ready: false }); return states.get(k); };
  const flush = (st) => { for (const c of st.queue) s.trickle(st.handle, c); st.queue = []; };
  const candidate = (m) => (m.candidate ? { sdpMid: '0', sdpMLineIndex: 0, candidate: m.candidate } : { completed: true });
  s.onEvent = (m) => {
    if (m.janus === 'hangup' || m.janus === 'detached') for (const st of states.values()) if (st.handle === m.sender) st.errors.push(`${m.janus}: ${m.reason || ''}`);
  };
  peer.on((m) => {
    if (m.op === 'cand') {
      const st = state(m.k);
      if (st.ready) s.trickle(st.handle, candidate(m));
      else st.queue.push(candidate(m));
    } else if (m.op === 'fail') state(m.k).errors.push(m.reason);
  });

  // Publishers: join, then configure with the offer sfu_peer wrote at start; apply Janus's answer.
  const offers = new Map();
  peer.on((m) => { if (m.op === 'offer') offers.set(m.k, m.sdp); });
  await Promise.all(Array.from({ length: publishers }, async (_, k) => {
    const st = state(k);
    st.handle = await s.attach();
    await s.message(st.handle, { request: 'join', ptype: 'publisher', room: roomId, id: k + 1, display: `p${k}` });
    await eventually(() => offers.has(k), { what: `sfu_peer offer of publisher ${k}` });
    const ev = await s.message(st.handle, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: offers.get(k) });
    if (!ev.jsep || ev.jsep.type !== 'answer') throw new Error(`janus: no answer for publisher ${k}: ${JSON.stringify(ev)}`);
    peer.answer(k, ev.jsep.sdp);
    st.ready = true;
    flush(st);
  }));

  // A feed can be subscribed to once its peer connection is up (Janus: "No such feed" before).
  await Promise.all(Array.from({ length: publishers }, (_, k) => peer.next((m) => m.op === 'up' && m.k === k, 30000)));

  // Receivers: one subscriber handle each, every feed in one join; Janus offers, sfu_peer answers.
  const join = async (handle, feeds) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await s.message(handle, { request: 'join', ptype: 'subscriber', room: roomId, streams: feeds.map((f) => ({ feed: f + 1 })) });
      } catch (e) {
        // Janus marks a publisher started a little after its DTLS completes: retry, bounded.
        if (!/"error_code":428/.test(e.message) || attempt >= 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await Promise.all(receivers.map(async ({ k, feeds }) => {
    const st = state(k);
    st.handle = await s.attach();
    const ev = await join(st.handle, feeds);
    if (!ev.jsep || ev.jsep.type !== 'offer') throw new Error(`janus: no offer for receiver ${k}: ${JSON.stringify(ev)}`);
    const answered = peer.next((m) => m.op === 'answer' && m.k === k, 20000);
    peer.offer(k, ev.jsep.sdp);
    const a = await answered;
    await s.message(st.handle, { request: 'start' }, { type: 'answer', sdp: a.sdp });
    st.ready = true;
    flush(st);
    // One layer for every video stream of this subscription (the settings without "mid" apply to all).
    await s.message(st.handle, { request: 'configure', substream, temporal: 2 });
  }));
  return { states: [...states.values()], session: s, close: () => s.close() };
}

export function janusVersion() {
  try { return execFileSync(janusBin(), ['--version'], { encoding: 'utf8' }).split('\n')[0].trim(); } catch { return 'unknown'; }
}
