#!/usr/bin/env node
// fake-signal.mjs — a development stand-in for staffroom-signal, written from signalling/PROTOCOL.md,
// so the web client and its browser tests can be built before (or while) the C server is written.
// Never used by `make test` unless STAFFROOM_E2E_FAKE=1 is set. State lives in memory and, so that a
// restart can be tested, in a JSON file (--state-file). No real security: passwords are stored as given.
//
//   node fake-signal.mjs --listen-port P --web-root DIR --state-file F
//   node fake-signal.mjs --create-admin NAME --state-file F    (password on stdin)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return acc;
}, []));
const stateFile = args['state-file'];
let S = { users: {}, names: {}, sessions: {}, circles: {}, order: [], channels: {}, logs: {}, seq: 0 };
if (stateFile && fs.existsSync(stateFile)) S = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
let savedAt = 0;
const save = () => { if (stateFile) { fs.writeFileSync(stateFile, JSON.stringify(S)); savedAt = fs.statSync(stateFile).mtimeMs; } };
// --create-admin writes the file from another process: pick that up.
const reloadIfChanged = () => {
  if (stateFile && fs.existsSync(stateFile) && fs.statSync(stateFile).mtimeMs > savedAt) {
    S = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    savedAt = fs.statSync(stateFile).mtimeMs;
  }
};
const rid = () => crypto.randomBytes(16).toString('hex');

class PErr extends Error { constructor(code, message, field) { super(message); this.code = code; this.field = field; } }
const need = (c, code, msg) => { if (!c) throw new PErr(code, msg); };

function makeUser(name, password, extra = {}) {
  need(typeof name === 'string' && /^[A-Za-z0-9_.-]{3,32}$/.test(name), 'bad_request', 'name');
  need(typeof password === 'string' && password.length >= 8 && password.length <= 256, 'bad_request', 'password');
  need(!S.names[name.toLowerCase()], 'conflict', 'user name taken');
  const id = rid();
  S.users[id] = { id, name, display_name: extra.display_name || name, school: '', subjects: [], tz: 'UTC', bio: '', admin: Boolean(extra.admin), password, circles: {} };
  S.names[name.toLowerCase()] = id;
  save();
  return S.users[id];
}

if (args['create-admin']) {
  const pw = fs.readFileSync(0, 'utf8').trim();
  makeUser(args['create-admin'], pw, { admin: true });
  console.error(`admin ${args['create-admin']} created`);
  process.exit(0);
}

const pub = (u) => { const { password, circles, ...rest } = u; return rest; };
const brief = (u) => ({ id: u.id, name: u.name, display_name: u.display_name });
const conns = new Set();
const presence = new Map(); // uid -> status of its (single combined) devices

function statusOf(uid) {
  const mine = [...conns].filter((c) => c.uid === uid);
  if (!mine.length) return 'offline';
  return mine[mine.length - 1].status || 'online';
}
function circleView(c, uid) {
  const members = Object.keys(c.members);
  const online = members.filter((m) => statusOf(m) !== 'offline');
  return {
    id: c.id, name: c.name, subject: c.subject, phase: c.phase, description: c.description, moderated: c.moderated,
    members: members.length, online: online.length,
    experts_online: online.filter((m) => c.members[m] === 'expert' || c.members[m] === 'mentor').length,
    my_status: c.members[uid] ? 'member' : c.pending[uid] ? 'pending' : 'none', my_role: c.members[uid] || null,
  };
}
const send = (c, obj) => { if (c.ws.readyState === 1) c.ws.send(JSON.stringify(obj)); };
const toUser = (uid, ev) => { for (const c of conns) if (c.uid === uid) send(c, ev); };
const toCircle = (cid, ev, except) => {
  const circ = S.circles[cid];
  for (const c of conns) if (c.uid && circ.members[c.uid] && c !== except) send(c, ev);
};
function presenceChanged(uid, before) {
  const now = statusOf(uid);
  if (now === before) return;
  const peers = new Set();
  for (const c of Object.values(S.circles)) if (c.members[uid]) for (const m of Object.keys(c.members)) peers.add(m);
  for (const c of conns) if (c.uid && peers.has(c.uid)) send(c, { type: 'presence', user: uid, status: now });
}
function circleOf(id, uid, { member = false, moderator = false } = {}) {
  const c = S.circles[id];
  need(c, 'not_found', 'no such circle');
  if (member) need(c.members[uid] || S.users[uid].admin, 'forbidden', 'not a member');
  if (moderator) need(c.members[uid] === 'moderator' || S.users[uid].admin, 'forbidden', 'moderators only');
  return c;
}
function channelOf(id, uid) {
  const ch = S.channels[id];
  need(ch, 'not_found', 'no such channel');
  circleOf(ch.circle, uid, { member: true });
  return ch;
}
const msgView = (m, ch) => ({ id: m.id, channel: ch, user: brief(S.users[m.user]), text: m.text, ts: m.ts, edited: Boolean(m.edited) });
const cmp = (a, b) => { const [x, y] = a.split('-').map(Number); const [p, q] = b.split('-').map(Number); return x - p || y - q; };
function addChannel(cid, name, topic = '') {
  const id = rid();
  S.channels[id] = { id, circle: cid, name, topic };
  S.circles[cid].channels.push(id);
  S.logs[id] = [];
  return S.channels[id];
}

const handlers = {
  ping: () => ({ pong: true, ts: Date.now() }),
  'auth.register': (c, r) => {
    const u = makeUser(r.name, r.password, { display_name: r.display_name });
    const token = rid(); S.sessions[token] = u.id; save();
    c.uid = u.id; c.status = 'online';
    return { user: pub(u), token };
  },
  'auth.login': (c, r) => {
    const u = S.users[S.names[String(r.name || '').toLowerCase()]];
    need(u && u.password === r.password, 'unauthorized', 'wrong name or password');
    const token = rid(); S.sessions[token] = u.id; save();
    const before = statusOf(u.id); c.uid = u.id; c.status = 'online'; presenceChanged(u.id, before);
    return { user: pub(u), token, expires_at: Date.now() + 30 * 864e5 };
  },
  'auth.resume': (c, r) => {
    const uid = S.sessions[r.token];
    need(uid, 'unauthorized', 'unknown or expired token');
    const before = statusOf(uid); c.uid = uid; c.status = 'online'; presenceChanged(uid, before);
    return { user: pub(S.users[uid]), expires_at: Date.now() + 30 * 864e5 };
  },
  'auth.logout': (c, r) => {
    for (const [t, u] of Object.entries(S.sessions)) if (u === c.uid) delete S.sessions[t];
    save(); const uid = c.uid; const before = statusOf(uid); c.uid = null; presenceChanged(uid, before);
    return {};
  },
  'profile.get': (c, r) => { const u = S.users[r.user || c.uid]; need(u, 'not_found', 'no such user'); return { user: pub(u) }; },
  'profile.update': (c, r) => {
    const u = S.users[c.uid];
    for (const k of ['display_name', 'school', 'tz', 'bio']) if (typeof r[k] === 'string') u[k] = r[k];
    if (Array.isArray(r.subjects)) u.subjects = r.subjects.map(String);
    save(); return { user: pub(u) };
  },
  'presence.set': (c, r) => {
    need(['online', 'away', 'busy'].includes(r.status), 'bad_request', 'status');
    const before = statusOf(c.uid); c.status = r.status; presenceChanged(c.uid, before); return {};
  },
  'circle.create': (c, r) => {
    need(S.users[c.uid].admin, 'forbidden', 'admins only');
    need(typeof r.name === 'string' && r.name.length, 'bad_request', 'name');
    need(['primary', 'secondary', 'further'].includes(r.phase), 'bad_request', 'phase');
    const id = rid();
    S.circles[id] = { id, name: r.name, subject: r.subject, phase: r.phase, description: r.description || '', moderated: Boolean(r.moderated), members: { [c.uid]: 'moderator' }, pending: {}, channels: [] };
    S.order.push(id); const channels = [addChannel(id, 'general'), addChannel(id, 'help')]; save();
    toUser(c.uid, { type: 'circle.membership', circle: id, user: c.uid, status: 'member', role: 'moderator' });
    return { circle: circleView(S.circles[id], c.uid), channels };
  },
  'circle.list': (c, r) => {
    const q = (r.q || '').toLowerCase();
    const all = S.order.map((id) => S.circles[id]).filter((x) => (!q || `${x.name} ${x.subject} ${x.description}`.toLowerCase().includes(q))
      && (!r.subject || x.subject.toLowerCase() === String(r.subject).toLowerCase()) && (!r.phase || x.phase === r.phase));
    const start = Number(r.cursor || 0); const limit = r.limit || 20;
    return { circles: all.slice(start, start + limit).map((x) => circleView(x, c.uid)), next_cursor: start + limit < all.length ? String(start + limit) : null };
  },
  'circle.get': (c, r) => ({ circle: circleView(circleOf(r.circle, c.uid), c.uid) }),
  'circle.join': (c, r) => {
    const x = circleOf(r.circle, c.uid);
    need(!x.members[c.uid] && !x.pending[c.uid], 'conflict', 'already a member or pending');
    if (x.moderated) {
      x.pending[c.uid] = Date.now(); save();
      toUser(c.uid, { type: 'circle.membership', circle: x.id, user: c.uid, status: 'pending', role: null });
      for (const [m, role] of Object.entries(x.members)) if (role === 'moderator') toUser(m, { type: 'circle.join_request', circle: x.id, user: brief(S.users[c.uid]), requested_at: x.pending[c.uid] });
      return { status: 'pending' };
    }
    x.members[c.uid] = 'member'; save();
    toUser(c.uid, { type: 'circle.membership', circle: x.id, user: c.uid, status: 'member', role: 'member' });
    toCircle(x.id, { type: 'circle.member_joined', circle: x.id, user: brief(S.users[c.uid]), role: 'member' });
    return { status: 'member' };
  },
  'circle.leave': (c, r) => {
    const x = circleOf(r.circle, c.uid); need(x.members[c.uid] || x.pending[c.uid], 'not_found', 'not a member');
    if (x.pending[c.uid]) { delete x.pending[c.uid]; save(); toUser(c.uid, { type: 'circle.membership', circle: x.id, user: c.uid, status: 'none', role: null }); return {}; }
    toCircle(x.id, { type: 'circle.member_left', circle: x.id, user: brief(S.users[c.uid]), role: x.members[c.uid] });
    delete x.members[c.uid]; save();
    toUser(c.uid, { type: 'circle.membership', circle: x.id, user: c.uid, status: 'none', role: null });
    return {};
  },
  'circle.pending': (c, r) => {
    const x = circleOf(r.circle, c.uid, { moderator: true });
    return { requests: Object.entries(x.pending).map(([u, t]) => ({ user: brief(S.users[u]), requested_at: t })) };
  },
  'circle.approve': (c, r) => {
    const x = circleOf(r.circle, c.uid, { moderator: true }); need(x.pending[r.user], 'not_found', 'no such request');
    delete x.pending[r.user]; x.members[r.user] = 'member'; save();
    toUser(r.user, { type: 'circle.membership', circle: x.id, user: r.user, status: 'member', role: 'member' });
    toCircle(x.id, { type: 'circle.member_joined', circle: x.id, user: brief(S.users[r.user]), role: 'member' });
    return {};
  },
  'circle.reject': (c, r) => {
    const x = circleOf(r.circle, c.uid, { moderator: true }); need(x.pending[r.user], 'not_found', 'no such request');
    delete x.pending[r.user]; save();
    toUser(r.user, { type: 'circle.membership', circle: x.id, user: r.user, status: 'none', role: null });
    return {};
  },
  'circle.members': (c, r) => {
    const x = circleOf(r.circle, c.uid, { member: true });
    return { members: Object.entries(x.members).map(([u, role]) => ({ user: brief(S.users[u]), role, presence: statusOf(u) })) };
  },
  'channel.create': (c, r) => {
    const x = circleOf(r.circle, c.uid, { moderator: true });
    need(!x.channels.some((id) => S.channels[id].name === r.name), 'conflict', 'channel name taken');
    const ch = addChannel(x.id, r.name, r.topic); save();
    toCircle(x.id, { type: 'channel.created', channel: ch }); return { channel: ch };
  },
  'channel.list': (c, r) => ({ channels: circleOf(r.circle, c.uid, { member: true }).channels.map((id) => S.channels[id]) }),
  'chat.send': (c, r) => {
    const ch = channelOf(r.channel, c.uid);
    need(typeof r.text === 'string' && r.text.length >= 1 && r.text.length <= 4000, 'bad_request', 'text');
    const m = { id: `${Date.now()}-${S.seq++}`, user: c.uid, text: r.text, ts: Date.now() };
    S.logs[ch.id].push(m); save();
    const message = msgView(m, ch.id);
    toCircle(ch.circle, { type: 'chat.message', circle: ch.circle, message });
    return { message };
  },
  'chat.history': (c, r) => {
    const ch = channelOf(r.channel, c.uid); const limit = r.limit || 50;
    let log = S.logs[ch.id].filter((m) => !m.deleted);
    if (r.after) { log = log.filter((m) => cmp(m.id, r.after) > 0); const page = log.slice(0, limit); return { messages: page.map((m) => msgView(m, ch.id)), has_more: log.length > limit }; }
    if (r.before) log = log.filter((m) => cmp(m.id, r.before) < 0);
    return { messages: log.slice(-limit).map((m) => msgView(m, ch.id)), has_more: log.length > limit };
  },
  'chat.edit': (c, r) => {
    const ch = channelOf(r.channel, c.uid); const m = S.logs[ch.id].find((x) => x.id === r.message && !x.deleted);
    need(m, 'not_found', 'no such message'); need(m.user === c.uid, 'forbidden', 'not your message');
    m.text = r.text; m.edited = true; save();
    const message = msgView(m, ch.id); toCircle(ch.circle, { type: 'chat.updated', circle: ch.circle, message }); return { message };
  },
  'chat.delete': (c, r) => {
    const ch = channelOf(r.channel, c.uid); const m = S.logs[ch.id].find((x) => x.id === r.message && !x.deleted);
    need(m, 'not_found', 'no such message');
    const x = S.circles[ch.circle];
    need(m.user === c.uid || x.members[c.uid] === 'moderator' || S.users[c.uid].admin, 'forbidden', 'not your message');
    m.deleted = true; save(); toCircle(ch.circle, { type: 'chat.deleted', circle: ch.circle, channel: ch.id, message: m.id }); return {};
  },
  'chat.typing': (c, r) => {
    const ch = channelOf(r.channel, c.uid);
    toCircle(ch.circle, { type: 'chat.typing', circle: ch.circle, channel: ch.id, user: brief(S.users[c.uid]) });
    return {};
  },
};
const PUBLIC = new Set(['ping', 'auth.register', 'auth.login', 'auth.resume']);

const root = path.resolve(args['web-root'] || '.');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/healthz') { res.end('ok\n'); return; }
  const file = path.join(root, path.normalize(url.pathname === '/' ? '/index.html' : url.pathname));
  if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); res.end('not found'); return; }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
const wss = new WebSocketServer({ server, path: '/ws', handleProtocols: (p) => (p.has('staffroom.v1') ? 'staffroom.v1' : false) });
wss.on('connection', (ws) => {
  // Like staffroom-signal: a WebSocket without the subprotocol is refused.
  if (ws.protocol !== 'staffroom.v1') { ws.close(1002, 'subprotocol staffroom.v1 required'); return; }
  const c = { ws, uid: null, status: 'online' };
  conns.add(c);
  ws.on('message', (data) => {
    let r; try { r = JSON.parse(data); } catch { send(c, { type: 'error', id: null, code: 'bad_request', message: 'invalid JSON' }); return; }
    const id = r.id ?? null;
    try {
      reloadIfChanged();
      const fn = handlers[r.type];
      if (!fn) throw new PErr('bad_request', 'unknown type', 'type');
      if (!PUBLIC.has(r.type) && !c.uid) throw new PErr('unauthorized', 'not signed in');
      send(c, { type: 'ok', id, ...fn(c, r) });
    } catch (e) {
      if (!(e instanceof PErr)) console.error(e);
      send(c, { type: 'error', id, code: e.code || 'internal', message: e.message, ...(e.field ? { field: e.field } : {}) });
    }
  });
  ws.on('close', () => { const uid = c.uid; const before = uid && statusOf(uid); conns.delete(c); if (uid) presenceChanged(uid, before); });
});
server.listen(Number(args['listen-port'] || 8080), '127.0.0.1', () => console.error(`staffroom-signal listening on (fake) 127.0.0.1:${server.address().port}`));
const stop = () => { for (const c of conns) c.ws.terminate(); server.close(() => process.exit(0)); server.closeAllConnections(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
