// relay_clients.test.mjs — staffroom-relay driven by clients nobody on this project wrote (Debian's
// coturn utilities), plus its metrics endpoint and command line.
// RELAY_IMPL=coturn runs the same cases against Debian's turnserver (metrics and CLI cases skip).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Harness, freeUdpTcpPort } from '../lib/harness.mjs';
import { startRelay, isCoturn, RELAY_BIN, stopRelayChecked } from '../lib/relay.mjs';
import { TurnClient } from '../lib/turnclient.mjs';

const h = new Harness('relay-clients');
let relayP;
// One relay (loopback peers allowed) shared by the client cases; started on first use.
const relay = () => (relayP ||= startRelay(h, { allowLoopback: true, metrics: !isCoturn }));
after(() => h.close());

// Runs a program to completion; resolves { code, signal, out } (stdout+stderr).
function run(file, args, timeoutMs = 20000) {
  return new Promise((resolve) => {
    const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

test('turnutils_stunclient Binding reports mapped address 127.0.0.1', { timeout: 20000 }, async () => {
  const r = await relay();
  const res = await run('turnutils_stunclient', ['-p', String(r.port), '127.0.0.1'], 10000);
  assert.equal(res.code, 0, res.out);
  assert.match(res.out, /UDP reflexive addr: 127\.0\.0\.1:\d+/, res.out);
});

// turnutils_uclient: 5 sessions (-c: no RTCP allocation), 100 messages each of 120 bytes, every 5 ms,
// through the relay to an echo peer and back. Its summary lines are parsed.
async function uclient(tcp) {
  const r = await relay();
  const peerPort = await freeUdpTcpPort();
  await h.start(`peer-${peerPort}`, 'turnutils_peer', ['-L', '127.0.0.1', '-p', String(peerPort)]);
  await new Promise((res) => setTimeout(res, 200));
  const args = [...(tcp ? ['-t'] : []), '-c', '-m', '5', '-n', '100', '-l', '120', '-z', '5', '-e', '127.0.0.1',
    '-r', String(peerPort), '-X', '-g', '-u', `uclient-${tcp ? 'tcp' : 'udp'}`, '-W', r.secret, '-p', String(r.port), '127.0.0.1'];
  const res = await run('turnutils_uclient', args, 25000);
  const tot = res.out.match(/tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$/m);
  const lost = res.out.match(/Total lost packets (\d+)/);
  assert.ok(tot && lost, `uclient printed no totals (exit ${res.code ?? res.signal}):\n${res.out.slice(-3000)}`);
  const [sent, recv] = [Number(tot[1]), Number(tot[2])];
  assert.equal(sent, 500, res.out.slice(-2000));
  assert.equal(Number(lost[1]), 0, `lost packets:\n${res.out.slice(-2000)}`);
  assert.equal(recv, sent, `received ${recv} of ${sent}`);
}

test('turnutils_uclient over UDP, REST secret, echo peer: no loss', { timeout: 40000 }, () => uclient(false));
test('turnutils_uclient over TCP, REST secret, echo peer: no loss', { timeout: 40000 }, () => uclient(true));

test('metrics: GET /metrics shows allocation and packet counters > 0 after relaying', { timeout: 20000, skip: isCoturn && 'coturn has no metrics here' }, async () => {
  const r = await relay();
  const c = new TurnClient({ port: r.port, ...r.creds('metrics') });
  await c.connect();
  try {
    const a = await c.allocate();
    assert.equal(a.cls, 'success', a.error?.reason);
    // A plain UDP socket of ours is the peer: ChannelData goes client -> relay -> peer, and the
    // peer's answers come back peer -> relayed address -> client.
    const peer = dgram.createSocket('udp4');
    await new Promise((res) => peer.bind(0, '127.0.0.1', res));
    const pp = { address: '127.0.0.1', port: peer.address().port };
    const got = new Promise((res) => peer.once('message', (m, ri) => res(ri)));
    assert.equal((await c.channelBind(0x4001, pp)).cls, 'success');
    for (let i = 0; i < 20; i++) c.sendChannelData(0x4001, Buffer.from(`ping ${i}`));
    const ri = await got;
    for (let i = 0; i < 20; i++) peer.send(Buffer.from(`pong ${i}`), ri.port, ri.address);
    await c.nextChannelData(3000);
    peer.close();
    const text = await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text();
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
      const m = l.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
      return m ? { name: m[1], value: Number(m[3]) } : null;
    }).filter(Boolean);
    const pos = (re) => samples.filter((s) => re.test(s.name) && s.value > 0);
    assert.ok(pos(/alloc/i).length > 0, `no allocation metric > 0 in:\n${text}`);
    assert.ok(pos(/packet|pkts/i).length > 0, `no packet metric > 0 in:\n${text}`);
  } finally { c.close(); }
});

// Raw bytes to a TCP port; resolves with whatever came back before the close (or 1 s).
function rawTcp(port, data, { endAfterMs = 50 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('connect', () => { for (const d of [].concat(data)) s.write(d); setTimeout(() => s.end(), endAfterMs); });
    const t = setTimeout(() => s.destroy(), 1000);
    s.on('close', () => { clearTimeout(t); resolve(got); });
  });
}

test('metrics: unknown paths get 404, garbage and oversized requests do not break the endpoint', { timeout: 20000, skip: isCoturn && 'coturn has no metrics here' }, async () => {
  const r = await relay();
  const nope = await rawTcp(r.metricsPort, 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(nope, /^HTTP\/1\.[01] 404/, nope.slice(0, 200));
  await rawTcp(r.metricsPort, 'GARBAGE\r\n\r\n');
  await rawTcp(r.metricsPort, '\x00\xff\x00\xff'.repeat(1000));
  await rawTcp(r.metricsPort, `GET /metrics HTTP/1.1\r\nX: ${'a'.repeat(200000)}\r\n\r\n`);
  await rawTcp(r.metricsPort, 'GET /metr', { endAfterMs: 10 });
  await Promise.all(Array.from({ length: 50 }, () => rawTcp(r.metricsPort, 'GET /metrics HTTP/1.0\r\n\r\n')));
  const res = await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /alloc/i);
  assert.equal(r.rec.exited, null, `relay died:\n${r.rec.output.slice(-3000)}`);
});

test('TCP: 200 idle client connections, then a Binding over TCP and UDP still works', { timeout: 20000 }, async () => {
  const r = await relay();
  const socks = await Promise.all(Array.from({ length: 200 }, () => new Promise((resolve) => {
    const s = net.connect(r.port, '127.0.0.1');
    s.on('error', () => resolve(s));
    s.on('connect', () => resolve(s));
  })));
  try {
    for (const transport of ['tcp', 'udp']) {
      const c = new TurnClient({ port: r.port, transport });
      await c.connect();
      const b = await c.binding();
      c.close();
      assert.equal(b.cls, 'success');
    }
  } finally { socks.forEach((s) => s.destroy()); }
  assert.equal(r.rec.exited, null, `relay died:\n${r.rec.output.slice(-3000)}`);
});

// ---- command line (staffroom-relay only) ----
const cliSkip = isCoturn && 'staffroom-relay command line';

test('--check-config on a bad file exits non-zero naming file:line:key', { timeout: 15000, skip: cliSkip }, async () => {
  const f = path.join(h.dir, 'bad.conf');
  fs.writeFileSync(f, '# staffroom-relay test config\nrealm staffroom\nlisten-port notaport\n');
  const res = await run(RELAY_BIN, ['--config', f, '--check-config'], 10000);
  assert.notEqual(res.code, 0, res.out);
  assert.ok(res.out.includes(`${f}:3`), `no "${f}:3" in: ${res.out}`);
  assert.match(res.out, /listen-port/, res.out);
});

test('--check-config on an unknown key exits non-zero naming file:line:key', { timeout: 15000, skip: cliSkip }, async () => {
  const f = path.join(h.dir, 'unknown.conf');
  fs.writeFileSync(f, 'realm staffroom\n\nno-such-key 1\n');
  const res = await run(RELAY_BIN, ['--config', f, '--check-config'], 10000);
  assert.notEqual(res.code, 0, res.out);
  assert.ok(res.out.includes(`${f}:3`), `no "${f}:3" in: ${res.out}`);
  assert.match(res.out, /no-such-key/, res.out);
});

test('--check-config on a good file exits 0', { timeout: 15000, skip: cliSkip }, async () => {
  const f = path.join(h.dir, 'good.conf');
  const s = path.join(h.dir, 'good-secret');
  fs.writeFileSync(s, 'abc\n');
  fs.writeFileSync(f, `# comment\nlisten 127.0.0.1\nlisten-port 3478\nrealm staffroom\nauth-secret-file ${s}\nuser-quota 4\n`);
  const res = await run(RELAY_BIN, ['--config', f, '--check-config'], 10000);
  assert.equal(res.code, 0, res.out);
});

const SHIPPED_CONF = path.join(process.env.STAFFROOM_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..'), 'config/staffroom-relay.conf');
// Every key of the shipped file must parse; its secret file is the operator's to set, so a flag gives one.
test('--check-config accepts the shipped config/staffroom-relay.conf (with a secret file given)', { timeout: 15000, skip: (cliSkip || (!fs.existsSync(SHIPPED_CONF) && 'no config/staffroom-relay.conf in this tree')) }, async () => {
  const s = path.join(h.dir, 'shipped-secret');
  fs.writeFileSync(s, 'abc\n');
  const res = await run(RELAY_BIN, ['--config', SHIPPED_CONF, '--auth-secret-file', s, '--check-config'], 10000);
  assert.equal(res.code, 0, res.out);
});

test('--help exits 0 and lists the keys', { timeout: 15000, skip: cliSkip }, async () => {
  const res = await run(RELAY_BIN, ['--help'], 10000);
  assert.equal(res.code, 0, res.out);
  for (const k of ['listen-port', 'auth-secret-file', 'allow-loopback-peers', 'user-quota']) assert.match(res.out, new RegExp(k), k);
});

test('--version exits 0', { timeout: 15000, skip: cliSkip }, async () => {
  const res = await run(RELAY_BIN, ['--version'], 10000);
  assert.equal(res.code, 0, res.out);
  assert.ok(res.out.trim().length > 0, 'prints nothing');
});

test('the relay exits 0 on SIGTERM afterwards (sanitizers and leak check clean)', { timeout: 30000 }, async () => {
  const why = await stopRelayChecked(h, await relay());
  assert.equal(why, null, why);
});
