// relay_security.test.mjs — staffroom-relay's refusals, seen from outside with tests/lib/turnclient.mjs:
// denied peer ranges and their bypass spellings (403), credentials (401), stale nonces (438),
// quotas (486), and malformed input (dropped or 400, never a crash; clean exit on SIGTERM).
// RELAY_IMPL=coturn runs the same cases against Debian's turnserver given the same deny list.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { Harness } from '../lib/harness.mjs';
import { startRelay, stopRelayChecked, isCoturn, DENIED_V4, DENIED_V6 } from '../lib/relay.mjs';
import {
  TurnClient, METHOD, CLASS, ATTR, encodeMessage, encodeChannelData, parseMessage, attr,
  checkIntegrity, restCredentials,
} from '../lib/turnclient.mjs';

const h = new Harness('relay-security');
after(() => h.close());

// Relays are started on first use so a filtered run (--test-name-pattern) starts only what it needs.
const lazy = (f) => { let p; return () => (p ||= f()); };
const mainRelay = lazy(() => startRelay(h, { label: 'main', relayV6: true }));
const nonceRelay = lazy(() => startRelay(h, { label: 'nonce', nonceLifetime: 1 }));
const quotaRelay = lazy(() => startRelay(h, { label: 'quota', userQuota: 2 }));
const fuzzRelay = lazy(() => startRelay(h, { label: 'fuzz' }));
const totalRelay = lazy(() => startRelay(h, { label: 'total', totalQuota: 3 }));
const allowRelay = lazy(() => startRelay(h, { label: 'allow', allowPeer: ['10.0.0.0/8'] }));
const denyRelay = lazy(() => startRelay(h, { label: 'deny', denyPeer: ['203.0.113.0/24'] }));
const noAuthRelay = lazy(() => startRelay(h, { label: 'noauth', noAuth: true }));
const loadRelay = lazy(() => startRelay(h, { label: 'load', allowLoopback: true }));
const bwRelay = lazy(() => startRelay(h, { label: 'bandwidth', allowLoopback: true, bandwidthLimit: 20000 }));
// Four relay ports above the kernel's ephemeral range (32768-60999), so nothing else takes them.
const PORT_BASE = 61000 + 4 * Math.floor(Math.random() * 1000);
const portsRelay = lazy(() => startRelay(h, { label: 'ports', relayPorts: [PORT_BASE, PORT_BASE + 3] }));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const T = { timeout: 20000 };

// A connected client with credentials for `user` (by default a user of its own: allocations outlive
// the test that made them, and a relay's per-user quota must not leak between tests).
let userSeq = 0;
async function client(relay, { user = `sec${userSeq++}`, transport = 'udp', ttl = 3600, creds, ...rest } = {}) {
  const c = new TurnClient({ port: relay.port, transport, ...(creds || relay.creds(user, ttl)), ...rest });
  await c.connect();
  return c;
}
async function withClient(relay, opts, fn) {
  const c = await client(relay, opts);
  try { return await fn(c); } finally { c.close(); }
}
function explain(r) {
  return r.cls === 'error' ? `${r.error?.code} ${r.error?.reason}` : r.cls;
}

// ------------------------------------------------------------------------------------------------
// Denied peers (RFC 8656 §21.1: a relay must not be an open door into private networks)

// Addresses inside a CIDR worth probing: first, second, middle-ish and last.
function probes(cidr) {
  const [ip, bitsS] = cidr.split('/');
  const bits = Number(bitsS);
  if (ip.includes(':')) {
    if (bits === 128) return [ip];
    const base = ip.replace(/::$/, '');
    const first = base.split(':')[0];
    const hi = (parseInt(first, 16) | ((1 << (16 - Math.min(16, bits))) - 1)).toString(16);
    return [`${base}::1`, `${first}::abcd:1`, `${hi}:ffff:ffff:ffff:ffff:ffff:ffff:ffff`];
  }
  const n = ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  const size = 2 ** (32 - bits);
  const s = (v) => [24, 16, 8, 0].map((sh) => Math.floor(v / 2 ** sh) % 256).join('.');
  return [s(n + 1), s(n + Math.floor(size / 2) + 3), s(n + size - 1)];
}

async function expectDenied(family, peers) {
  const r = await mainRelay();
  await withClient(r, {}, async (c) => {
    const a = await c.allocate({ family });
    assert.equal(a.cls, 'success', `Allocate ${family}: ${explain(a)}`);
    const bad = [];
    for (const address of peers) {
      const res = await c.createPermission({ address, port: 4000 });
      if (res.cls !== 'error' || res.error.code !== 403) bad.push(`${address} -> ${explain(res)}`);
      const cb = await c.channelBind(0x4000 + (bad.length & 0xff), { address, port: 4000 });
      if (cb.cls !== 'error' || cb.error.code !== 403) bad.push(`ChannelBind ${address} -> ${explain(cb)}`);
    }
    assert.deepEqual(bad, [], 'peers not refused with 403');
  });
}

test('control: public peers are permitted (IPv4 and IPv6 allocations)', T, async () => {
  const r = await mainRelay();
  await withClient(r, {}, async (c) => {
    assert.equal((await c.allocate()).cls, 'success');
    const res = await c.createPermission({ address: '203.0.113.7', port: 5000 });
    assert.equal(res.cls, 'success', explain(res));
    assert.equal(checkIntegrity(res, c.key), true, 'success response without valid MESSAGE-INTEGRITY');
  });
  await withClient(r, {}, async (c) => {
    const a = await c.allocate({ family: 'IPv6' });
    assert.equal(a.cls, 'success', explain(a));
    assert.equal(a.relayed.family, 'IPv6');
    const res = await c.createPermission({ address: '2001:db8::7', port: 5000 });
    assert.equal(res.cls, 'success', explain(res));
  });
});

test('denied IPv4 ranges (loopback peers off) -> 403', T, () =>
  expectDenied('IPv4', DENIED_V4.flatMap(probes)));
test('denied IPv6 ranges -> 403', T, () => expectDenied('IPv6', DENIED_V6.flatMap(probes)));

for (const [form, family, address] of [
  ['0.0.0.0', 'IPv4', '0.0.0.0'],
  ['[::]', 'IPv6', '::'],
  ['[::1]', 'IPv6', '::1'],
  ['::ffff:127.0.0.1 (IPv4-mapped loopback)', 'IPv6', '::ffff:127.0.0.1'],
  ['::ffff:10.0.0.1 (IPv4-mapped private)', 'IPv6', '::ffff:10.0.0.1'],
  ['::127.0.0.1 (IPv4-compatible loopback)', 'IPv6', '::127.0.0.1'],
  ['64:ff9b::7f00:1 (NAT64 of 127.0.0.1)', 'IPv6', '64:ff9b::7f00:1'],
]) {
  test(`bypass form ${form} -> 403`, T, async () => {
    await expectDenied(family, [address]);
    if (family === 'IPv6') { // on an IPv4 allocation the same peer must not pass either (403 or 443)
      const r = await mainRelay();
      await withClient(r, {}, async (c) => {
        assert.equal((await c.allocate()).cls, 'success');
        const res = await c.createPermission({ address, port: 4000 });
        assert.ok(res.cls === 'error' && [403, 443].includes(res.error.code), `IPv4 allocation: ${explain(res)}`);
      });
    }
  });
}

async function permissionCodes(relay, peers) {
  return withClient(relay, {}, async (c) => {
    assert.equal((await c.allocate()).cls, 'success');
    const out = {};
    for (const address of peers) {
      const r = await c.createPermission({ address, port: 1 });
      out[address] = r.cls === 'success' ? 'ok' : r.error?.code;
    }
    return out;
  });
}

test('--allow-peer 10.0.0.0/8 opens that default-denied range and only it', T, async () => {
  const got = await permissionCodes(await allowRelay(), ['10.1.2.3', '192.168.1.1', '127.0.0.1', '203.0.113.5']);
  assert.deepEqual(got, { '10.1.2.3': 'ok', '192.168.1.1': 403, '127.0.0.1': 403, '203.0.113.5': 'ok' });
});

test('--deny-peer 203.0.113.0/24 closes that public range and only it', T, async () => {
  const got = await permissionCodes(await denyRelay(), ['203.0.113.7', '198.51.100.7']);
  assert.deepEqual(got, { '203.0.113.7': 403, '198.51.100.7': 'ok' });
});

// ------------------------------------------------------------------------------------------------
// Credentials (RFC 8489 §9.2 long-term mechanism, coturn REST form)

test('no credentials -> 401 with REALM and NONCE', T, async () => {
  const r = await mainRelay();
  await withClient(r, {}, async (c) => {
    const res = await c.request(METHOD.ALLOCATE, [attr.requestedTransport()], { auth: false });
    assert.equal(res.cls, 'error');
    assert.equal(res.error.code, 401);
    assert.equal(res.get(ATTR.REALM)?.toString(), 'staffroom');
    assert.ok(res.get(ATTR.NONCE)?.length > 0, 'no NONCE');
  });
});

test('correct REST credentials -> Allocate succeeds, response integrity valid', T, async () => {
  const r = await mainRelay();
  await withClient(r, {}, async (c) => {
    const a = await c.allocate();
    assert.equal(a.cls, 'success', explain(a));
    assert.equal(a.relayed.address, '127.0.0.1');
    assert.equal(checkIntegrity(a, c.key), true);
    assert.equal(a.mapped?.address, '127.0.0.1');
    assert.ok(a.lifetime > 0);
  });
});

test('any line of the secret file verifies (second secret)', { ...T, skip: isCoturn && 'coturn takes one secret here' }, async () => {
  const r = await mainRelay();
  await withClient(r, { creds: r.creds('bob', 3600, r.secret2) }, async (c) => {
    const a = await c.allocate();
    assert.equal(a.cls, 'success', explain(a));
  });
});

test('SIGHUP reloads the secret file: a new secret verifies, a removed one no longer does', { ...T, skip: isCoturn && 'coturn takes its secret on the command line' }, async () => {
  const r = await startRelay(h, { label: 'reload' });
  try {
    const fresh = 'rotated-secret-' + Date.now();
    fs.writeFileSync(r.secretFile, `${fresh}\n`);
    r.rec.proc.kill('SIGHUP');
    let got;
    for (let i = 0; i < 40; i++) { // the reload is asynchronous: allow it a moment
      await sleep(50);
      got = await withClient(r, { creds: restCredentials(fresh, `reload${i}`, 3600) }, (c) => c.allocate());
      if (got.cls === 'success') break;
    }
    assert.equal(got.cls, 'success', `new secret after SIGHUP: ${explain(got)}`);
    const old = await withClient(r, { creds: r.creds('reload-old') }, (c) => c.allocate());
    assert.equal(old.error?.code, 401, `removed secret after SIGHUP: ${explain(old)}`);
  } finally {
    const why = await stopRelayChecked(h, r);
    assert.equal(why, null, why);
  }
});

test('wrong password -> 401', T, async () => {
  const r = await mainRelay();
  const { username } = r.creds('mallory');
  await withClient(r, { creds: { username, password: 'not-the-password' } }, async (c) => {
    const a = await c.allocate();
    assert.equal(a.cls, 'error', 'allocated with a wrong password');
    assert.equal(a.error.code, 401);
  });
});

test('username signed with another secret -> 401', T, async () => {
  const r = await mainRelay();
  await withClient(r, { creds: restCredentials('some-other-secret', 'mallory', 3600) }, async (c) => {
    const a = await c.allocate();
    assert.equal(a.error?.code, 401, explain(a));
  });
});

test('expired username -> 401', T, async () => {
  const r = await mainRelay();
  await withClient(r, { ttl: -60 }, async (c) => {
    const a = await c.allocate();
    assert.equal(a.error?.code, 401, explain(a));
  });
});

test('username expiring after Allocate -> Refresh and CreatePermission refused with 401', { timeout: 20000 }, async () => {
  const r = await mainRelay();
  const now = Math.floor(Date.now() / 1000);
  const creds = restCredentials(r.secret, 'shortlived', 2, now);
  await withClient(r, { creds }, async (c) => {
    const a = await c.allocate();
    assert.equal(a.cls, 'success', explain(a));
    const ok = await c.createPermission({ address: '203.0.113.9', port: 1 });
    assert.equal(ok.cls, 'success', explain(ok));
    // Wait until the expiry time (now + 2) is strictly in the past, on the wall clock.
    await sleep((now + 3) * 1000 - Date.now() + 300);
    const ref = await c.refresh(600);
    assert.equal(ref.error?.code, 401, `Refresh with an expired username: ${explain(ref)}`);
    const perm = await c.createPermission({ address: '203.0.113.9', port: 1 });
    assert.equal(perm.error?.code, 401, `CreatePermission with an expired username: ${explain(perm)}`);
  });
});

test('--no-auth yes: Allocate and CreatePermission without any credentials; the deny list still applies', T, async () => {
  const r = await noAuthRelay();
  await withClient(r, { creds: { username: undefined, password: undefined } }, async (c) => {
    const a = await c.request(METHOD.ALLOCATE, [attr.requestedTransport()], { auth: false });
    assert.equal(a.cls, 'success', explain(a));
    const p = await c.request(METHOD.CREATE_PERMISSION, [{ type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.4', port: 1 } }], { auth: false });
    assert.equal(p.cls, 'success', explain(p));
    const d = await c.request(METHOD.CREATE_PERMISSION, [{ type: ATTR.XOR_PEER_ADDRESS, peer: { address: '10.0.0.1', port: 1 } }], { auth: false });
    assert.equal(d.error?.code, 403, explain(d));
  });
});

test('stale nonce -> 438 with a fresh NONCE, retry succeeds', { timeout: 20000 }, async () => {
  const r = await nonceRelay();
  await withClient(r, {}, async (c) => {
    const a = await c.allocate();
    assert.equal(a.cls, 'success', explain(a));
    const old = Buffer.from(c.nonce);
    await sleep(2500); // --nonce-lifetime 1: the nonce must have aged out
    const res = await c.refresh(600, { retryStale: false });
    assert.equal(res.error?.code, 438, `Refresh with a stale nonce: ${explain(res)}`);
    const fresh = res.get(ATTR.NONCE);
    assert.ok(fresh && !fresh.equals(old), '438 without a new NONCE');
    const again = await c.refresh(600);
    assert.equal(again.cls, 'success', explain(again));
  });
});

test('over quota (--user-quota 2) -> 486; freeing one allocation admits another', T, async () => {
  const r = await quotaRelay();
  const creds = r.creds('quota');
  const cs = [];
  try {
    for (let i = 0; i < 3; i++) cs.push(await client(r, { creds }));
    assert.equal((await cs[0].allocate()).cls, 'success');
    assert.equal((await cs[1].allocate()).cls, 'success');
    const third = await cs[2].allocate();
    assert.equal(third.error?.code, 486, explain(third));
    const del = await cs[0].refresh(0);
    assert.equal(del.cls, 'success', `Refresh lifetime 0: ${explain(del)}`);
    // The freed slot may be returned asynchronously: allow a moment.
    let fourth;
    for (let i = 0; i < 20; i++) {
      fourth = await cs[2].allocate();
      if (fourth.cls === 'success') break;
      await sleep(100);
    }
    assert.equal(fourth.cls, 'success', `after freeing one: ${explain(fourth)}`);
    // Another user is not counted against this one's quota.
    const other = await client(r, { user: 'someone-else' });
    cs.push(other);
    assert.equal((await other.allocate()).cls, 'success');
  } finally { cs.forEach((c) => c.close()); }
});

test('total quota (--total-quota 3) -> 486 across different users', T, async () => {
  const r = await totalRelay();
  const cs = [];
  try {
    for (let i = 0; i < 4; i++) cs.push(await client(r, { user: `user${i}` }));
    for (let i = 0; i < 3; i++) assert.equal((await cs[i].allocate()).cls, 'success', `allocation ${i}`);
    const fourth = await cs[3].allocate();
    assert.equal(fourth.error?.code, 486, explain(fourth));
  } finally { cs.forEach((c) => c.close()); }
});

test('closing a TCP connection frees its allocation (user quota admits a new one)', T, async () => {
  const r = await quotaRelay();
  const creds = r.creds('tcpquota');
  const cs = [];
  try {
    for (let i = 0; i < 3; i++) cs.push(await client(r, { creds, transport: 'tcp' }));
    assert.equal((await cs[0].allocate()).cls, 'success');
    assert.equal((await cs[1].allocate()).cls, 'success');
    assert.equal((await cs[2].allocate()).error?.code, 486);
    cs[0].close();
    let again;
    for (let i = 0; i < 30; i++) {
      await sleep(100);
      again = await cs[2].allocate();
      if (again.cls === 'success') break;
    }
    assert.equal(again.cls, 'success', `after closing a TCP connection: ${explain(again)}`);
  } finally { cs.forEach((c) => c.close()); }
});

// ------------------------------------------------------------------------------------------------
// Malformed input: dropped or answered 400, and the relay keeps serving and exits cleanly.

// Deterministic PRNG so a failing case can be replayed (seed printed in the assertion message).
function prng(seed) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const SEED = Number(process.env.RELAY_FUZZ_SEED || 20260601);
// RELAY_FUZZ_ROUNDS=N repeats the UDP set with seeds SEED..SEED+N-1 (for a longer hunt by hand).
const ROUNDS = Number(process.env.RELAY_FUZZ_ROUNDS || 1);

// Hand-written malformed packets. `key` is a valid long-term key for authenticated variants.
function malformedSet(c, seed = SEED) {
  const key = c.key;
  const binding = encodeMessage({ method: METHOD.BINDING });
  const set = [];
  const add = (name, buf) => set.push({ name, buf });
  add('empty', Buffer.alloc(0));
  add('one byte', Buffer.from([0]));
  add('truncated header', binding.subarray(0, 10));
  add('header only, length says 8', (() => { const b = Buffer.from(binding.subarray(0, 20)); b.writeUInt16BE(8, 2); return b; })());
  add('length not a multiple of 4', (() => { const b = Buffer.concat([binding, Buffer.alloc(2)]); b.writeUInt16BE(binding.length - 20 + 2, 2); return b; })());
  add('message length 0xfffc', (() => { const b = Buffer.from(binding); b.writeUInt16BE(0xfffc, 2); return b; })());
  add('bad magic cookie', (() => { const b = Buffer.from(binding); b.writeUInt32BE(0x2112a443, 4); return b; })());
  add('attribute length overflow', (() => {
    const b = Buffer.alloc(28); b.writeUInt16BE(0x0001, 0); b.writeUInt16BE(8, 2); b.writeUInt32BE(0x2112a442, 4);
    b.writeUInt16BE(ATTR.SOFTWARE, 20); b.writeUInt16BE(0xfff0, 22); return b;
  })());
  add('attribute length one past end', (() => {
    const b = Buffer.alloc(28); b.writeUInt16BE(0x0003, 0); b.writeUInt16BE(8, 2); b.writeUInt32BE(0x2112a442, 4);
    b.writeUInt16BE(ATTR.REQUESTED_TRANSPORT, 20); b.writeUInt16BE(5, 22); return b;
  })());
  add('bad FINGERPRINT', (() => { const b = Buffer.from(binding); b[b.length - 1] ^= 0xff; return b; })());
  add('MESSAGE-INTEGRITY of 10 bytes', encodeMessage({ method: METHOD.ALLOCATE, attrs: [attr.requestedTransport(),
    { type: ATTR.USERNAME, value: Buffer.from(c.username) }, { type: ATTR.REALM, value: Buffer.from('staffroom') },
    { type: ATTR.NONCE, value: c.nonce }, { type: ATTR.MESSAGE_INTEGRITY, value: Buffer.alloc(10) }] }, { fingerprint: false }));
  add('USERNAME of 600 bytes', encodeMessage({ method: METHOD.ALLOCATE, attrs: [attr.requestedTransport(),
    { type: ATTR.USERNAME, value: Buffer.alloc(600, 0x41) }, { type: ATTR.REALM, value: Buffer.from('staffroom') },
    { type: ATTR.NONCE, value: c.nonce }] }, { key }));
  add('USERNAME "9999999999999999999999:x"', encodeMessage({ method: METHOD.ALLOCATE, attrs: [attr.requestedTransport(),
    { type: ATTR.USERNAME, value: Buffer.from('9999999999999999999999:x') }, { type: ATTR.REALM, value: Buffer.from('staffroom') },
    { type: ATTR.NONCE, value: c.nonce }] }, { key }));
  add('USERNAME without colon', encodeMessage({ method: METHOD.ALLOCATE, attrs: [attr.requestedTransport(),
    { type: ATTR.USERNAME, value: Buffer.from('nocolon') }, { type: ATTR.REALM, value: Buffer.from('staffroom') },
    { type: ATTR.NONCE, value: c.nonce }] }, { key }));
  const authed = (method, attrs) => encodeMessage({ method, attrs: [...attrs,
    { type: ATTR.USERNAME, value: Buffer.from(c.username) }, { type: ATTR.REALM, value: Buffer.from(c.realm) },
    { type: ATTR.NONCE, value: c.nonce }] }, { key });
  add('XOR-PEER-ADDRESS family 3', authed(METHOD.CREATE_PERMISSION, [{ type: ATTR.XOR_PEER_ADDRESS, value: Buffer.from([0, 3, 1, 2, 1, 2, 3, 4]) }]));
  add('XOR-PEER-ADDRESS of 2 bytes', authed(METHOD.CREATE_PERMISSION, [{ type: ATTR.XOR_PEER_ADDRESS, value: Buffer.from([0, 1]) }]));
  add('XOR-PEER-ADDRESS IPv6 family with 4 address bytes', authed(METHOD.CREATE_PERMISSION, [{ type: ATTR.XOR_PEER_ADDRESS, value: Buffer.from([0, 2, 1, 2, 1, 2, 3, 4]) }]));
  add('CreatePermission without peer', authed(METHOD.CREATE_PERMISSION, []));
  add('ChannelBind channel 0x3fff', authed(METHOD.CHANNEL_BIND, [attr.channel(0x3fff), { type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }]));
  add('ChannelBind channel 0x5000', authed(METHOD.CHANNEL_BIND, [attr.channel(0x5000), { type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }]));
  add('ChannelBind CHANNEL-NUMBER of 2 bytes', authed(METHOD.CHANNEL_BIND, [{ type: ATTR.CHANNEL_NUMBER, value: Buffer.from([0x40, 0]) }, { type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }]));
  add('Refresh LIFETIME of 1 byte', authed(METHOD.REFRESH, [{ type: ATTR.LIFETIME, value: Buffer.from([1]) }]));
  add('Allocate REQUESTED-TRANSPORT of 0 bytes', authed(METHOD.ALLOCATE, [{ type: ATTR.REQUESTED_TRANSPORT, value: Buffer.alloc(0) }]));
  add('Send indication without DATA', encodeMessage({ method: METHOD.SEND, cls: CLASS.indication, attrs: [{ type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }] }));
  add('Send indication without peer', encodeMessage({ method: METHOD.SEND, cls: CLASS.indication, attrs: [attr.data(Buffer.from('x'))] }));
  add('unknown method 0xfff', encodeMessage({ method: 0xfff }));
  add('success response sent to relay', encodeMessage({ method: METHOD.BINDING, cls: CLASS.success }));
  add('ChannelData to unbound channel', encodeChannelData(0x4123, Buffer.from('hello')));
  add('ChannelData length beyond packet', (() => { const b = encodeChannelData(0x4001, Buffer.from('abcd')); b.writeUInt16BE(1000, 2); return b; })());
  add('ChannelData header only', Buffer.from([0x40, 0x01]));
  add('ChannelData channel 0x7fff', encodeChannelData(0x7fff, Buffer.from('x')));
  add('ChannelData 0 bytes', encodeChannelData(0x4002, Buffer.alloc(0)));
  add('1500 zero bytes', Buffer.alloc(1500));
  add('9000 bytes 0xff', Buffer.alloc(9000, 0xff));
  const rnd = prng(seed);
  for (let i = 0; i < 40; i++) {
    const n = 1 + Math.floor(rnd() * 700);
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) b[j] = Math.floor(rnd() * 256);
    if (i % 2 === 0 && n >= 8) { b[0] &= 0x3f; b.writeUInt32BE(0x2112a442, 4 % n); } // looks like STUN
    if (i % 4 === 1) b[0] = 0x40 | (b[0] & 0x0f); // looks like ChannelData
    add(`random ${n} bytes #${i} (seed ${seed})`, b);
  }
  // Valid requests with a few bytes flipped: reach deeper into the parser than pure noise.
  const valid = [
    encodeMessage({ method: METHOD.BINDING }),
    authed(METHOD.ALLOCATE, [attr.requestedTransport(), attr.lifetime(60), attr.dontFragment()]),
    authed(METHOD.CREATE_PERMISSION, [{ type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }]),
    authed(METHOD.CHANNEL_BIND, [attr.channel(0x4005), { type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }]),
    authed(METHOD.REFRESH, [attr.lifetime(600)]),
    encodeMessage({ method: METHOD.SEND, cls: CLASS.indication, attrs: [{ type: ATTR.XOR_PEER_ADDRESS, peer: { address: '203.0.113.1', port: 1 } }, attr.data(Buffer.from('payload'))] }),
  ];
  for (let i = 0; i < 240; i++) {
    const b = Buffer.from(valid[i % valid.length]);
    const flips = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    add(`mutated valid request #${i} (seed ${seed})`, i % 7 === 3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b);
  }
  return set;
}

// Codes a relay may answer to the packets above: 400 for bad requests, and since a mutation can turn
// one valid request into another (or break its credentials), any 4xx. Never 5xx, never a crash.
const ACCEPTABLE = { has: (code) => code >= 400 && code <= 499 };

async function bindingStillWorks(r, transport) {
  await withClient(r, { transport }, async (c) => {
    const b = await c.binding();
    assert.equal(b.cls, 'success', `Binding after malformed input: ${explain(b)}`);
    assert.equal(b.mapped?.address, '127.0.0.1');
  });
}

test('malformed and truncated packets over UDP are dropped or answered 400; relay keeps serving', { timeout: 60000 + ROUNDS * 2000 }, async () => {
  const r = await fuzzRelay();
  await withClient(r, {}, async (c) => {
    assert.equal((await c.allocate()).cls, 'success'); // gives realm, nonce, key; and an allocation to poke at
    const answers = [];
    c.sock.on('message', (m) => answers.push(m));
    for (let round = 0; round < ROUNDS; round++) {
      const set = malformedSet(c, SEED + round);
      for (let i = 0; i < set.length; i++) {
        c.sendRaw(set[i].buf);
        if (i % 20 === 19) await sleep(5); // no flood: we test parsing, not buffers
      }
      if (r.rec.exited) break;
    }
    await sleep(500);
    const bad = [];
    for (const m of answers) {
      const p = parseMessage(m);
      // An RFC 3489 Binding (no magic cookie) may get an RFC 3489 answer (RFC 8489 §12 compatibility).
      if (!p && m.length >= 20 && m.readUInt16BE(0) === 0x0101) continue;
      if (!p) { bad.push(`unparseable answer ${m.subarray(0, 16).toString('hex')}`); continue; }
      if (p.cls === 'success' || p.cls === 'indication' || p.cls === 'request') continue; // mutations can be valid
      if (!ACCEPTABLE.has(p.error?.code)) bad.push(`${p.methodName} ${p.cls} ${p.error?.code} ${p.error?.reason}`);
    }
    assert.deepEqual(bad, []);
    // The original client's allocation is still alive and its own Binding works.
    const b = await c.binding();
    assert.equal(b.cls, 'success', explain(b));
  });
  await bindingStillWorks(r, 'udp');
  assert.equal(r.rec.exited, null, `relay died: ${r.rec.output.slice(-3000)}`);
});

test('malformed and truncated frames over TCP are dropped or answered 400; relay keeps serving', { timeout: 60000 }, async () => {
  const r = await fuzzRelay();
  const c0 = await client(r, { transport: 'tcp' });
  assert.equal((await c0.allocate()).cls, 'success');
  const set = malformedSet(c0).filter((x, i) => i < 40 || i % 5 === 0);
  c0.close();
  // Each malformed frame on its own connection (a relay may close a stream after garbage); then
  // half a frame and a hang-up, and a frame announcing more than it sends.
  const bad = [];
  const one = (buf, { end = true } = {}) => new Promise((resolve) => {
    const s = net.connect(r.port, '127.0.0.1');
    let got = Buffer.alloc(0);
    s.on('data', (d) => { got = Buffer.concat([got, d]); });
    s.on('error', () => {});
    s.on('connect', () => { s.write(buf); if (end) setTimeout(() => s.end(), 30); });
    s.on('close', () => resolve(got));
    setTimeout(() => { s.destroy(); }, 400);
  });
  for (let i = 0; i < set.length; i += 8) {
    const outs = await Promise.all(set.slice(i, i + 8).map((x) => one(x.buf)));
    for (const got of outs) {
      let off = 0;
      while (off + 20 <= got.length) {
        const p = parseMessage(got.subarray(off));
        if (!p) break;
        off += p.raw.length;
        if (p.cls === 'error' && !ACCEPTABLE.has(p.error?.code)) bad.push(`${p.methodName} ${p.error?.code} ${p.error?.reason}`);
      }
    }
  }
  // Announce 65532 bytes of STUN and send 100; announce a 65535-byte ChannelData and hang up.
  const big = Buffer.alloc(120); big.writeUInt16BE(0x0001, 0); big.writeUInt16BE(65532, 2); big.writeUInt32BE(0x2112a442, 4);
  await one(big);
  await one(Buffer.from([0x40, 0x00, 0xff, 0xff, 1, 2, 3]));
  await one(Buffer.from([0x00, 0x01, 0x00]), { end: false });
  // Many valid small Bindings in one write (pipelining), then a split one.
  const pipe = Buffer.concat(Array.from({ length: 50 }, () => encodeMessage({ method: METHOD.BINDING })));
  const answers = await one(pipe);
  let n = 0; for (let off = 0; off + 20 <= answers.length; n++) { const p = parseMessage(answers.subarray(off)); if (!p) break; off += p.raw.length; }
  assert.equal(n, 50, `pipelined Bindings over TCP: ${n} of 50 answered`);
  assert.deepEqual(bad, []);
  await bindingStillWorks(r, 'tcp');
  await bindingStillWorks(r, 'udp');
  assert.equal(r.rec.exited, null, `relay died: ${r.rec.output.slice(-3000)}`);
});

// ------------------------------------------------------------------------------------------------
// Resource limits under hostile or careless clients

const rssKb = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);

test('a TCP client that stops reading while its peer floods does not grow the relay without bound', { timeout: 60000 }, async () => {
  const r = await loadRelay();
  const c = await client(r, { transport: 'tcp' });
  const p = dgram.createSocket('udp4');
  try {
    assert.equal((await c.allocate()).cls, 'success');
    await new Promise((res) => p.bind(0, '127.0.0.1', res));
    assert.equal((await c.channelBind(0x4000, { address: '127.0.0.1', port: p.address().port })).cls, 'success');
    c.sock.pause(); // the client reads nothing from now on
    const before = rssKb(r.rec.proc.pid);
    const buf = Buffer.alloc(1200, 7);
    for (let i = 0; i < 100000; i++) { // 120 MB offered to a client that does not read
      p.send(buf, c.relayed.port, '127.0.0.1');
      if (i % 200 === 199) await new Promise((res) => setImmediate(res));
    }
    await sleep(1000);
    const grown = rssKb(r.rec.proc.pid) - before;
    assert.ok(grown < 64 * 1024, `relay RSS grew by ${grown} KB for a client that does not read`);
    await bindingStillWorks(r, 'udp');
  } finally { c.close(); p.close(); }
  assert.equal(r.rec.exited, null, `relay died: ${r.rec.output.slice(-3000)}`);
});

test('allocation churn under traffic: 40 clients allocate, relay, delete, 15 times each', { timeout: 60000 }, async () => {
  const r = await loadRelay();
  const peer = dgram.createSocket('udp4');
  await new Promise((res) => peer.bind(0, '127.0.0.1', res));
  peer.on('message', (m, ri) => peer.send(m, ri.port, ri.address)); // echo
  const pa = { address: '127.0.0.1', port: peer.address().port };
  let echoed = 0;
  const worker = async (k) => {
    for (let round = 0; round < 15; round++) {
      const c = await client(r, { transport: k % 4 === 0 ? 'tcp' : 'udp' });
      try {
        const a = await c.allocate();
        if (a.cls !== 'success') throw new Error(`Allocate: ${explain(a)}`);
        const cb = await c.channelBind(0x4000 + round, pa);
        if (cb.cls !== 'success') throw new Error(`ChannelBind: ${explain(cb)}`);
        // One packet every 50 ms until the echo is back: 40 clients' bursts at once would overflow the
        // single echo socket of this test, and that loss would not be the relay's.
        const echo = c.nextChannelData(3000);
        let i = 0;
        const tick = setInterval(() => c.sendChannelData(0x4000 + round, Buffer.from(`k${k} r${round} i${i++}`)), 50);
        c.sendChannelData(0x4000 + round, Buffer.from(`k${k} r${round} first`));
        try { await echo; } finally { clearInterval(tick); }
        echoed++;
        // Delete while echoes are still in flight, sometimes by Refresh 0, sometimes by just leaving (TCP close).
        if (round % 3 !== 2 || c.transport === 'udp') {
          const d = await c.refresh(0);
          if (d.cls !== 'success') throw new Error(`Refresh 0: ${explain(d)}`);
        }
      } finally { c.close(); }
    }
  };
  try {
    await Promise.all(Array.from({ length: 40 }, (_, k) => worker(k)));
  } finally { peer.close(); }
  assert.equal(echoed, 600);
  await bindingStillWorks(r, 'udp');
  assert.equal(r.rec.exited, null, `relay died: ${r.rec.output.slice(-3000)}`);
});

// Sends 200 x 1000 bytes through a channel of a new allocation on r in about half a second; returns the
// bytes that reached the peer.
async function burstThrough(r) {
  const c = await client(r);
  const p = dgram.createSocket('udp4');
  let bytes = 0;
  p.on('message', (m) => { bytes += m.length; });
  try {
    await new Promise((res) => p.bind(0, '127.0.0.1', res));
    assert.equal((await c.allocate()).cls, 'success');
    assert.equal((await c.channelBind(0x4000, { address: '127.0.0.1', port: p.address().port })).cls, 'success');
    for (let i = 0; i < 200; i++) {
      c.sendChannelData(0x4000, Buffer.alloc(1000, i & 0xff));
      if (i % 10 === 9) await sleep(25);
    }
    await sleep(500);
  } finally { c.close(); p.close(); }
  return bytes;
}

test('--bandwidth-limit 20000 (bytes/s): a client sending 200 kB in half a second gets far less through', { timeout: 20000 }, async () => {
  const bytes = await burstThrough(await bwRelay());
  // 20 kB/s over ~0.5-1 s, plus whatever burst the limiter allows: well under half of what was sent.
  assert.ok(bytes > 0, 'nothing got through at all');
  assert.ok(bytes <= 100000, `${bytes} of 200000 bytes got through a 20000 bytes/s limit`);
});

test('SIGHUP reads bandwidth-limit again: a broken file changes nothing, a lifted limit lets the burst through', { timeout: 20000, skip: isCoturn && 'coturn has no such reload' }, async () => {
  const conf = `${h.dir}/bw-reload.conf`;
  fs.writeFileSync(conf, 'bandwidth-limit 20000\n');
  const r = await startRelay(h, { label: 'bw-reload', allowLoopback: true, args: ['--config', conf] });
  try {
    const said = async (re) => { for (let i = 0; i < 40 && !re.test(r.rec.output); i++) await sleep(50); return re.test(r.rec.output); };
    fs.writeFileSync(conf, 'bandwidth-limit banana\n');
    r.rec.proc.kill('SIGHUP');
    assert.ok(await said(/SIGHUP: the configuration was not read again \(bandwidth-limit unchanged\)/), r.rec.output.slice(-2000));
    assert.ok(await burstThrough(r) <= 100000, 'the limit still holds after a broken file');
    fs.writeFileSync(conf, 'bandwidth-limit 0\n');
    r.rec.proc.kill('SIGHUP');
    assert.ok(await said(/SIGHUP: bandwidth-limit 0 bytes\/s per allocation and direction \(unlimited\)/), r.rec.output.slice(-2000));
    const bytes = await burstThrough(r);
    assert.ok(bytes >= 190000, `${bytes} of 200000 bytes got through once the limit was lifted`);
  } finally {
    const why = await stopRelayChecked(h, r);
    assert.equal(why, null, why);
  }
});

test('relay ports stay in --relay-port-min..max; when all are taken Allocate -> 508; a freed port is reused', { timeout: 20000 }, async () => {
  const r = await portsRelay();
  const cs = [];
  try {
    let refused;
    for (let i = 0; i < 8 && !refused; i++) {
      const c = await client(r);
      cs.push(c);
      const a = await c.allocate();
      if (a.cls === 'success') {
        assert.ok(a.relayed.port >= PORT_BASE && a.relayed.port <= PORT_BASE + 3, `relayed port ${a.relayed.port} outside ${PORT_BASE}-${PORT_BASE + 3}`);
      } else refused = a;
    }
    assert.ok(refused, 'more than 4 allocations on 4 relay ports');
    assert.equal(refused.error?.code, 508, explain(refused));
    const granted = cs.filter((c) => c.relayed);
    assert.ok(granted.length >= 1 && granted.length <= 4, `${granted.length} allocations granted`);
    assert.equal((await granted[0].refresh(0)).cls, 'success');
    const again = await cs[cs.length - 1].allocate();
    assert.equal(again.cls, 'success', `after freeing a port: ${explain(again)}`);
  } finally { cs.forEach((c) => c.close()); }
});

test('after malformed input the relay exits 0 on SIGTERM (sanitizers and leak check clean)', { timeout: 30000, skip: isCoturn && 'coturn exit status is not ours' }, async () => {
  const why = await stopRelayChecked(h, await fuzzRelay());
  assert.equal(why, null, why);
});

test('every other relay of this file exits 0 on SIGTERM (sanitizers and leak check clean)', { timeout: 30000 }, async () => {
  const whys = [];
  for (const [name, start] of Object.entries({ mainRelay, nonceRelay, quotaRelay, totalRelay, allowRelay, denyRelay, loadRelay, bwRelay, portsRelay, noAuthRelay })) {
    const r = await start().catch(() => null); // a relay that never started is another test's failure
    if (!r) continue;
    const why = await stopRelayChecked(h, r);
    if (why) whys.push(`${name}: ${why}`);
  }
  assert.deepEqual(whys, []);
});

