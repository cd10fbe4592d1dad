// relay.mjs — starts a TURN relay for a test on free loopback ports, with a temp secret file.
//
// The relay under test is staffroom-relay ($STAFFROOM_BUILD/staffroom-relay). With RELAY_IMPL=coturn
// the same tests run against Debian's coturn (`turnserver`) instead: that is how the tests
// themselves were proven before staffroom-relay existed. Contract options are mapped onto coturn
// flags; staffroom-relay's default-denied peer ranges are given to coturn as --denied-peer-ip.
// RELAY_EVENT_LOOP=epoll|io_uring runs staffroom-relay with that event-loop (its default otherwise), so the
// relay tests can be run on each path.
//
//   const relay = await startRelay(h, { allowLoopback: true });
//   relay.port, relay.secret, relay.creds('alice'), relay.metricsPort, relay.impl, relay.rec
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bin, freePort, freeUdpTcpPort } from './harness.mjs';
import { restCredentials } from './turnclient.mjs';

export const IMPL = process.env.RELAY_IMPL || 'staffroom';
export const isCoturn = IMPL === 'coturn';
export const RELAY_BIN = isCoturn ? 'turnserver' : bin('staffroom-relay');
export const REALM = 'staffroom';
const EVENT_LOOP = process.env.RELAY_EVENT_LOOP || '';

// The peer ranges staffroom-relay denies by default (its contract), as CIDRs.
export const DENIED_V4 = ['0.0.0.0/8', '127.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '169.254.0.0/16',
  '172.16.0.0/12', '192.168.0.0/16', '192.0.0.0/24', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4'];
export const DENIED_V6 = ['::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

// coturn takes ranges as "first-last".
function cidrRange(cidr) {
  const [ip, bitsS] = cidr.split('/');
  const bits = Number(bitsS);
  if (ip.includes(':')) {
    const words = expand6(ip);
    const lo = [...words]; const hi = [...words];
    for (let i = 0; i < 8; i++) {
      const keep = Math.max(0, Math.min(16, bits - i * 16));
      const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
      lo[i] = words[i] & mask; hi[i] = (words[i] & mask) | (~mask & 0xffff);
    }
    return `${lo.map((w) => w.toString(16)).join(':')}-${hi.map((w) => w.toString(16)).join(':')}`;
  }
  const n = ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  const size = 2 ** (32 - bits);
  const lo = n - (n % size); const hi = lo + size - 1;
  const s = (v) => [24, 16, 8, 0].map((sh) => Math.floor(v / 2 ** sh) % 256).join('.');
  return `${s(lo)}-${s(hi)}`;
}
function expand6(ip) {
  const [h, r] = ip.split('::');
  const hw = h ? h.split(':') : []; const rw = r ? r.split(':') : [];
  const all = r === undefined ? hw : [...hw, ...new Array(8 - hw.length - rw.length).fill('0'), ...rw];
  return all.map((x) => parseInt(x, 16));
}

// A self-signed certificate for 127.0.0.1 in dir (openssl CLI); returns { cert, key } paths.
export function testCertificate(dir) {
  const cert = path.join(dir, 'relay-cert.pem');
  const key = path.join(dir, 'relay-key.pem');
  if (!fs.existsSync(cert)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  }
  return { cert, key };
}

// opts: allowLoopback (false), nonceLifetime, userQuota, totalQuota, metrics (false), relayV6 (false),
//       tls (false: adds a TLS listener, relay.tlsPort), allowPeer / denyPeer (CIDR lists),
//       bandwidthLimit (bytes/s), relayPorts ([min, max]), noAuth (false: no credentials at all),
//       args (extra raw flags), label
export async function startRelay(h, opts = {}) {
  const { allowLoopback = false, nonceLifetime, userQuota, totalQuota, metrics = false, relayV6 = false,
    tls = false, allowPeer = [], denyPeer = [], bandwidthLimit, relayPorts, noAuth = false, args = [], label = 'relay' } = opts;
  const port = await freeUdpTcpPort();
  const tlsPort = tls ? await freePort() : 0;
  const cert = tls ? testCertificate(h.dir) : null;
  const secret = crypto.randomBytes(16).toString('hex');
  const secret2 = crypto.randomBytes(16).toString('hex');
  const secretFile = path.join(h.dir, `${label}-secret`);
  fs.writeFileSync(secretFile, `${secret}\n${secret2}\n`, { mode: 0o600 });
  const metricsPort = metrics ? await freePort() : 0;
  let argv;
  let startOpts;
  if (isCoturn) {
    argv = ['-n', '--log-file=stdout', '--no-cli', ...(tls ? [`--tls-listening-port=${tlsPort}`, `--cert=${cert.cert}`,
      `--pkey=${cert.key}`] : ['--no-tls']), '--no-dtls', '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1', `--listening-port=${port}`,
      ...(noAuth ? ['--no-auth'] : ['--use-auth-secret', `--static-auth-secret=${secret}`]), `--realm=${REALM}`, '--no-multicast-peers'];
    if (relayV6) argv.push('--listening-ip=::1', '--relay-ip=::1');
    if (allowLoopback) argv.push('--allow-loopback-peers');
    for (const c of allowPeer) argv.push(`--allowed-peer-ip=${cidrRange(c)}`);
    for (const c of [...denyPeer, ...DENIED_V4, ...DENIED_V6]) {
      if (allowLoopback && (c.startsWith('127.') || c === '::1/128')) continue;
      if (c === '::/128') continue; // coturn then refuses every IPv4 peer (its range check)
      argv.push(`--denied-peer-ip=${cidrRange(c)}`);
    }
    if (nonceLifetime) argv.push(`--stale-nonce=${nonceLifetime}`);
    if (userQuota) argv.push(`--user-quota=${userQuota}`);
    if (totalQuota) argv.push(`--total-quota=${totalQuota}`);
    if (bandwidthLimit) argv.push(`--max-bps=${bandwidthLimit}`);
    if (relayPorts) argv.push(`--min-port=${relayPorts[0]}`, `--max-port=${relayPorts[1]}`);
    startOpts = { port };
  } else {
    argv = ['--listen', '127.0.0.1', '--listen-port', String(port), '--relay-address', '127.0.0.1',
      '--realm', REALM, ...(noAuth ? ['--no-auth', 'yes'] : ['--auth-secret-file', secretFile]),
      '--allow-loopback-peers', allowLoopback ? 'yes' : 'no'];
    if (relayV6) argv.push('--listen', '::1', '--relay-address-v6', '::1');
    if (nonceLifetime) argv.push('--nonce-lifetime', String(nonceLifetime));
    if (userQuota) argv.push('--user-quota', String(userQuota));
    if (totalQuota) argv.push('--total-quota', String(totalQuota));
    if (bandwidthLimit) argv.push('--bandwidth-limit', String(bandwidthLimit));
    if (relayPorts) argv.push('--relay-port-min', String(relayPorts[0]), '--relay-port-max', String(relayPorts[1]));
    if (tls) argv.push('--tls-listen-port', String(tlsPort), '--tls-cert-file', cert.cert, '--tls-key-file', cert.key);
    for (const c of allowPeer) argv.push('--allow-peer', c);
    for (const c of denyPeer) argv.push('--deny-peer', c);
    if (metrics) argv.push('--metrics-address', '127.0.0.1', '--metrics-port', String(metricsPort));
    if (EVENT_LOOP) argv.push('--event-loop', EVENT_LOOP);
    startOpts = { ready: /staffroom-relay listening/ };
  }
  argv.push(...args);
  const rec = await h.start(label, RELAY_BIN, argv, startOpts);
  if (isCoturn) await new Promise((r) => setTimeout(r, 300)); // UDP listeners come up with TCP's
  return {
    impl: IMPL, port, tlsPort, secret, secret2, secretFile, metricsPort, rec, argv,
    creds: (user = 'alice', ttl = 3600, s = secret) => restCredentials(s, user, ttl),
  };
}

// Stops a relay with SIGTERM and returns a reason string if the stop was not clean (exit status
// not 0, or a sanitizer report in its output), or null. coturn's exit status is not checked.
export async function stopRelayChecked(h, relay) {
  const res = await h.stop(relay.rec, 'SIGTERM', 20000);
  const log = relay.rec.output;
  if (/AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:/.test(log)) return `sanitizer report:\n${log.slice(-4000)}`;
  if (!isCoturn && (res.code !== 0 || res.signal)) return `exit ${res.code ?? res.signal} on SIGTERM:\n${log.slice(-4000)}`;
  return null;
}
