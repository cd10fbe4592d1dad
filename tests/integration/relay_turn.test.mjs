// relay_turn.test.mjs — every TURN request type of staffroom-relay, happy path and error paths,
// over UDP and TCP, with tests/lib/turnclient.mjs as the client and plain sockets of this test as peers.
// One relay, loopback peers allowed, IPv6 relay address ::1. RELAY_IMPL=coturn runs the same against coturn.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Harness } from '../lib/harness.mjs';
import { startRelay, stopRelayChecked } from '../lib/relay.mjs';
import { TurnClient, METHOD, ATTR, attr, checkIntegrity } from '../lib/turnclient.mjs';

const h = new Harness('relay-turn');
let relayP;
const relay = () => (relayP ||= startRelay(h, { allowLoopback: true, relayV6: true, tls: true }));
const cleanups = [];
after(async () => { cleanups.forEach((f) => f()); await h.close(); });

const T = { timeout: 20000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const explain = (r) => (r.cls === 'error' ? `${r.error?.code} ${r.error?.reason}` : r.cls);

// Each client is a user of its own: allocations outlive their test, a per-user quota must not leak.
let userSeq = 0;
async function client(opts = {}) {
  const r = await relay();
  const port = opts.transport === 'tls' ? r.tlsPort : r.port;
  const c = new TurnClient({ port, ...r.creds(opts.user || `turn${userSeq++}`), ...opts });
  await c.connect();
  cleanups.push(() => c.close());
  return c;
}

// A UDP peer socket on loopback that records what it receives.
async function peer(family = 'IPv4') {
  const s = dgram.createSocket(family === 'IPv6' ? 'udp6' : 'udp4');
  await new Promise((res) => s.bind(0, family === 'IPv6' ? '::1' : '127.0.0.1', res));
  const got = [];
  const waiters = [];
  s.on('message', (data, rinfo) => { got.push({ data, rinfo }); waiters.splice(0).forEach((f) => f()); });
  cleanups.push(() => { try { s.close(); } catch { /* closed */ } });
  return {
    sock: s,
    addr: { address: family === 'IPv6' ? '::1' : '127.0.0.1', port: s.address().port },
    next(timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const look = () => { if (got.length) { clearTimeout(t); resolve(got.shift()); } else waiters.push(look); };
        const t = setTimeout(() => reject(new Error('peer received nothing')), timeoutMs);
        look();
      });
    },
    send(buf, to) { s.send(buf, to.port, to.address); },
    received: got,
  };
}

async function allocated(opts) {
  const c = await client(opts);
  const a = await c.allocate(opts?.allocate);
  assert.equal(a.cls, 'success', `Allocate: ${explain(a)}`);
  return c;
}

for (const transport of ['udp', 'tcp', 'tls']) {
  const U = transport.toUpperCase();

  test(`${U}: Binding answers XOR-MAPPED-ADDRESS = the client's own address`, T, async () => {
    const c = await client({ transport });
    const b = await c.binding();
    assert.equal(b.cls, 'success', explain(b));
    assert.deepEqual(b.mapped, { family: 'IPv4', address: '127.0.0.1', port: c.localPort });
  });

  test(`${U}: Allocate gives a relayed 127.0.0.1 address, a lifetime and the mapped address`, T, async () => {
    const c = await client({ transport });
    const a = await c.allocate();
    assert.equal(a.cls, 'success', explain(a));
    assert.equal(a.relayed.address, '127.0.0.1');
    assert.ok(a.relayed.port > 0);
    assert.ok(a.lifetime > 0 && a.lifetime <= 3600, `lifetime ${a.lifetime}`);
    assert.deepEqual(a.mapped, { family: 'IPv4', address: '127.0.0.1', port: c.localPort });
    assert.equal(checkIntegrity(a, c.key), true);
  });

  test(`${U}: Send indication reaches the peer from the relayed address; the peer's answer comes back as a Data indication`, T, async () => {
    const c = await allocated({ transport });
    const p = await peer();
    assert.equal((await c.createPermission(p.addr)).cls, 'success');
    c.sendIndication(p.addr, Buffer.from('hello peer'));
    const m = await p.next();
    assert.equal(m.data.toString(), 'hello peer');
    assert.equal(m.rinfo.port, c.relayed.port);
    p.send(Buffer.from('hello client'), c.relayed);
    const d = await c.nextData();
    assert.equal(d.data.toString(), 'hello client');
    assert.deepEqual({ address: d.peer.address, port: d.peer.port }, p.addr);
  });

  test(`${U}: ChannelBind then ChannelData both ways`, T, async () => {
    const c = await allocated({ transport });
    const p = await peer();
    const cb = await c.channelBind(0x4abc, p.addr);
    assert.equal(cb.cls, 'success', explain(cb));
    for (const n of [0, 1, 3, 5, 100, 1200]) { // odd lengths exercise TCP padding
      const out = Buffer.alloc(n, n & 0xff);
      c.sendChannelData(0x4abc, out);
      const m = await p.next();
      assert.ok(m.data.equals(out), `peer got ${m.data.length} bytes, sent ${n}`);
      p.send(Buffer.alloc(n, (n + 1) & 0xff), c.relayed);
      const back = await c.nextChannelData();
      assert.equal(back.channel, 0x4abc);
      assert.ok(back.data.equals(Buffer.alloc(n, (n + 1) & 0xff)), `client got ${back.data.length} bytes, peer sent ${n}`);
    }
  });

  test(`${U}: a peer without permission is not relayed; after CreatePermission it is`, T, async () => {
    const c = await allocated({ transport });
    const p = await peer();
    p.send(Buffer.from('unsolicited'), c.relayed);
    await assert.rejects(c.nextData(400), /timed out/, 'data from a peer without permission was relayed');
    c.sendIndication(p.addr, Buffer.from('no permission yet'));
    await assert.rejects(p.next(300), /nothing/, 'Send without permission reached the peer');
    assert.equal((await c.createPermission(p.addr)).cls, 'success');
    p.send(Buffer.from('now allowed'), c.relayed);
    assert.equal((await c.nextData()).data.toString(), 'now allowed');
  });
}

test('second Allocate on the same 5-tuple -> 437', T, async () => {
  const c = await allocated();
  const again = await c.allocate();
  assert.equal(again.error?.code, 437, explain(again));
});

test('Refresh sets the lifetime; lifetime 0 deletes the allocation, then requests get 437', T, async () => {
  const c = await allocated();
  // RFC 8656 §7.3: a proposal below the default lifetime (600 s) gets the default.
  const r1 = await c.refresh(120);
  assert.equal(r1.cls, 'success', explain(r1));
  assert.equal(r1.lifetime, 600, `lifetime ${r1.lifetime}`);
  const big = await c.refresh(100000);
  assert.equal(big.cls, 'success', explain(big));
  assert.ok(big.lifetime < 100000, `lifetime not capped: ${big.lifetime}`);
  const del = await c.refresh(0);
  assert.equal(del.cls, 'success', explain(del));
  const p = await c.createPermission({ address: '127.0.0.1', port: 1 });
  assert.equal(p.error?.code, 437, `CreatePermission after deletion: ${explain(p)}`);
  const r2 = await c.refresh(600);
  assert.equal(r2.error?.code, 437, `Refresh after deletion: ${explain(r2)}`);
});

test('requests before Allocate -> 437', T, async () => {
  const c = await client();
  const b = await c.binding(); // learn nothing; then an authenticated CreatePermission with no allocation
  assert.equal(b.cls, 'success');
  const p = await c.createPermission({ address: '127.0.0.1', port: 1 });
  assert.equal(p.error?.code, 437, explain(p));
});

test('ChannelBind: rebinding the same pair refreshes; a bound channel to another peer or a bound peer to another channel -> 400', T, async () => {
  const c = await allocated();
  const p1 = await peer();
  const p2 = await peer();
  assert.equal((await c.channelBind(0x4001, p1.addr)).cls, 'success');
  assert.equal((await c.channelBind(0x4001, p1.addr)).cls, 'success', 'refreshing a binding');
  const other = await c.channelBind(0x4001, p2.addr);
  assert.equal(other.error?.code, 400, `channel to another peer: ${explain(other)}`);
  const twice = await c.channelBind(0x4002, p1.addr);
  assert.equal(twice.error?.code, 400, `peer to another channel: ${explain(twice)}`);
});

// RFC 8656 §12 narrowed channel numbers to 0x4000-0x4FFF, but libwebrtc (Chrome) still picks them at
// random in RFC 5766's 0x4000-0x7FFF, so staffroom-relay deliberately accepts the wider range (relay/turn/stun.h).
test('ChannelBind outside 0x4000-0x7FFF -> 400; 0x5000-0x7FFF accepted as browsers use them', T, async () => {
  const c = await allocated();
  for (const ch of [0x3fff, 0x8000, 0xffff]) {
    const r = await c.channelBind(ch, (await peer()).addr);
    assert.equal(r.error?.code, 400, `channel 0x${ch.toString(16)}: ${explain(r)}`);
  }
  if (process.env.RELAY_IMPL === 'coturn') return;
  for (const ch of [0x5000, 0x7fff]) {
    const r = await c.channelBind(ch, (await peer()).addr);
    assert.equal(r.cls, 'success', `channel 0x${ch.toString(16)}: ${explain(r)}`);
  }
});

test('Allocate asking for an SCTP relay -> 442; for a TCP relay over UDP -> 442 (or 400 from RFC 6062 relays)', T, async () => {
  const c = await client();
  const r = await c.allocate({ transport: 132 });
  assert.equal(r.error?.code, 442, explain(r));
  const t = await c.allocate({ transport: 6 });
  assert.ok([442, 400].includes(t.error?.code), explain(t));
});

test('Allocate without REQUESTED-TRANSPORT -> 400', T, async () => {
  const c = await client();
  const r = await c.request(METHOD.ALLOCATE, [attr.lifetime(600)]);
  assert.equal(r.error?.code, 400, explain(r));
});

test('unknown comprehension-required attribute -> 420 listing it', T, async () => {
  const c = await client();
  const r = await c.request(METHOD.ALLOCATE, [attr.requestedTransport(), { type: 0x7777, value: Buffer.from([1, 2, 3, 4]) }]);
  assert.equal(r.error?.code, 420, explain(r));
  const u = r.get(ATTR.UNKNOWN_ATTRIBUTES);
  assert.ok(u && u.length >= 2 && u.readUInt16BE(0) === 0x7777, 'UNKNOWN-ATTRIBUTES missing or wrong');
});

test('unknown comprehension-optional attribute is ignored', T, async () => {
  const c = await client();
  const r = await c.request(METHOD.ALLOCATE, [attr.requestedTransport(), { type: 0xc777, value: Buffer.from([1, 2, 3, 4]) }]);
  assert.equal(r.cls, 'success', explain(r));
});

test('IPv6: Allocate with REQUESTED-ADDRESS-FAMILY IPv6 relays to a ::1 peer', T, async () => {
  const c = await allocated({ allocate: { family: 'IPv6' } });
  assert.deepEqual([c.relayed.family, c.relayed.address], ['IPv6', '::1']);
  const p = await peer('IPv6');
  assert.equal((await c.channelBind(0x4100, p.addr)).cls, 'success');
  c.sendChannelData(0x4100, Buffer.from('over six'));
  const m = await p.next();
  assert.equal(m.data.toString(), 'over six');
  p.send(Buffer.from('back over six'), c.relayed);
  assert.equal((await c.nextChannelData()).data.toString(), 'back over six');
});

test('IPv6 allocation, IPv4 peer -> 443', T, async () => {
  const c = await allocated({ allocate: { family: 'IPv6' } });
  const r = await c.createPermission({ address: '127.0.0.1', port: 1 });
  assert.equal(r.error?.code, 443, explain(r));
});

test('many ChannelData packets in a burst arrive (UDP, 200 x 500 bytes, paced)', T, async () => {
  const c = await allocated();
  const p = await peer();
  assert.equal((await c.channelBind(0x4200, p.addr)).cls, 'success');
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(500); b.writeUInt32BE(i, 0);
    c.sendChannelData(0x4200, b);
    if (i % 20 === 19) await sleep(2);
  }
  const deadline = Date.now() + 3000;
  while (p.received.length < 200 && Date.now() < deadline) await sleep(20);
  assert.equal(p.received.length, 200);
});

test('TCP: requests and ChannelData written one byte at a time are reassembled', { timeout: 30000 }, async () => {
  const c = await client({ transport: 'tcp' });
  // Send each outgoing frame byte by byte: the relay's stream parser must resume mid-header and mid-body.
  const write = c.sendRaw.bind(c);
  c.sendRaw = (buf) => { (async () => { for (const b of buf) { write(Buffer.from([b])); await sleep(1); } })(); };
  c.timeoutMs = 8000;
  const a = await c.allocate();
  assert.equal(a.cls, 'success', explain(a));
  const p = await peer();
  assert.equal((await c.channelBind(0x4321, p.addr)).cls, 'success');
  c.sendChannelData(0x4321, Buffer.from('slowly, with padding'));
  assert.equal((await p.next(5000)).data.toString(), 'slowly, with padding');
});

test('TCP: several frames in one write (STUN + ChannelData + STUN) are all handled', T, async () => {
  const c = await allocated({ transport: 'tcp' });
  const p = await peer();
  assert.equal((await c.channelBind(0x4322, p.addr)).cls, 'success');
  const { encodeChannelData, encodeMessage } = await import('../lib/turnclient.mjs');
  const frames = [encodeChannelData(0x4322, Buffer.from('one'), { padded: true }),
    encodeMessage({ method: METHOD.BINDING }), encodeChannelData(0x4322, Buffer.from('three'), { padded: true })];
  c.sendRaw(Buffer.concat(frames));
  const got = [(await p.next()).data.toString(), (await p.next()).data.toString()];
  assert.deepEqual(got, ['one', 'three']);
  const ev = await c.next((e) => e.kind === 'message');
  assert.equal(ev.msg.cls, 'success');
});

test('CreatePermission with one allowed and one denied peer -> 403 and installs neither', T, async () => {
  const c = await allocated();
  const p = await peer();
  const r = await c.createPermission([p.addr, { address: '10.0.0.1', port: 1 }]);
  assert.equal(r.error?.code, 403, explain(r));
  p.send(Buffer.from('should not pass'), c.relayed);
  await assert.rejects(c.nextData(400), /timed out/, 'a permission was installed by a refused request');
});

test('Send indication to a denied peer is dropped; the allocation keeps working', T, async () => {
  const c = await allocated();
  c.sendIndication({ address: '10.0.0.1', port: 9 }, Buffer.from('x'));
  c.sendIndication({ address: '0.0.0.0', port: 9 }, Buffer.from('x'));
  const p = await peer();
  assert.equal((await c.createPermission(p.addr)).cls, 'success');
  c.sendIndication(p.addr, Buffer.from('fine'));
  assert.equal((await p.next()).data.toString(), 'fine');
});

test('a request on an allocation with another user\'s valid credentials -> 441', T, async () => {
  const r = await relay();
  const c = await allocated();
  // Same 5-tuple, valid credentials of a different user (RFC 8656 §5: 441 Wrong Credentials).
  const { username, password } = r.creds('intruder');
  const other = new TurnClient({ port: r.port, username, password });
  other.sock = c.sock; other.transport = 'udp';
  c.sock.removeAllListeners('message');
  c.sock.on('message', (m) => other.onPacket(m));
  const res = await other.refresh(600);
  assert.equal(res.error?.code, 441, explain(res));
});

test('IPv6 listener: Binding and Allocate from ::1', T, async () => {
  const c = await client({ host: '::1' });
  const b = await c.binding();
  assert.equal(b.cls, 'success', explain(b));
  assert.deepEqual(b.mapped, { family: 'IPv6', address: '::1', port: c.localPort });
  const a = await c.allocate();
  assert.equal(a.cls, 'success', explain(a));
});

test('CreatePermission with 40 peers is answered (success or an error), not dropped', T, async () => {
  const c = await allocated();
  c.timeoutMs = 2000;
  const peers = Array.from({ length: 40 }, (_, k) => ({ address: `198.51.100.${k + 1}`, port: 1 }));
  const r = await c.createPermission(peers); // throws on no answer at all
  assert.ok(r.cls === 'success' || r.cls === 'error', r.cls);
});

test('Allocate with DONT-FRAGMENT succeeds', T, async () => {
  const c = await client();
  const a = await c.allocate({ extra: [attr.dontFragment()] });
  assert.equal(a.cls, 'success', explain(a));
});

test('Refresh with a REQUESTED-ADDRESS-FAMILY other than the allocation\'s -> 443', T, async () => {
  const c = await allocated();
  const r = await c.request(METHOD.REFRESH, [attr.lifetime(600), attr.requestedFamily('IPv6')]);
  assert.equal(r.error?.code, 443, explain(r));
});

test('TLS: 100 connections that never finish the handshake do not stop new TLS clients', { timeout: 20000 }, async () => {
  const r = await relay();
  const net = await import('node:net');
  const socks = await Promise.all(Array.from({ length: 100 }, () => new Promise((resolve) => {
    const s = net.connect(r.tlsPort, '127.0.0.1');
    s.on('error', () => resolve(s));
    s.on('connect', () => { s.write(Buffer.from('160301', 'hex')); resolve(s); });
  })));
  try {
    const c = await client({ transport: 'tls' });
    assert.equal((await c.binding()).cls, 'success');
  } finally { socks.forEach((s) => s.destroy()); }
});

test('TLS: garbage, a plain STUN request and a half handshake on the TLS port do not stop it serving', T, async () => {
  const r = await relay();
  const net = await import('node:net');
  const { encodeMessage } = await import('../lib/turnclient.mjs');
  const hello = Buffer.from('16030100c8010000c40303', 'hex'); // a ClientHello that stops after its header
  for (const junk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), encodeMessage({ method: METHOD.BINDING }), hello, Buffer.alloc(3000, 0x16)]) {
    await new Promise((resolve) => {
      const s = net.connect(r.tlsPort, '127.0.0.1');
      s.on('error', () => {});
      s.on('connect', () => { s.write(junk); setTimeout(() => s.destroy(), 100); });
      s.on('close', resolve);
    });
  }
  const c = await client({ transport: 'tls' });
  assert.equal((await c.binding()).cls, 'success');
});

test('the relay exits 0 on SIGTERM afterwards (sanitizers and leak check clean)', { timeout: 30000 }, async () => {
  const why = await stopRelayChecked(h, await relay());
  assert.equal(why, null, why);
});
