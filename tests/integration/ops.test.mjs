// ops.test.mjs — operating staffroom-signal: /healthz, /metrics, static files, --help, --version,
// --check-config, --create-admin, the Redis password file, and a clean exit 0 on SIGTERM (under ASan
// with leak detection, so a leak at exit fails this test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, bin } from '../lib/harness.mjs';
import { startStack, startNode, connect, registerUser, uniqueName, httpGet, redisCommand } from '../lib/client.mjs';

let h, stack, webRoot;
before(async () => {
  h = new Harness('ops');
  webRoot = path.join(h.dir, 'web');
  fs.mkdirSync(webRoot);
  fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>Staffroom test page</title>');
  fs.writeFileSync(path.join(webRoot, 'app.js'), 'export const answer = 42;\n');
  stack = await startStack(h, { args: ['--web-root', webRoot, '--login-rate', '100000', '--login-burst', '100000'] });
});
after(async () => { await h.close(); });

// Runs staffroom-signal to completion: resolves with {code, out} (stdout and stderr together).
function run(args, stdin) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin('staffroom-signal'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.stdin.on('error', () => {}); // the program may exit before reading stdin (EPIPE)
    p.on('exit', (code) => resolve({ code, out }));
    if (stdin !== undefined) p.stdin.end(stdin); else p.stdin.end();
  });
}

test('/healthz is 200 with a JSON body while Redis is up', async () => {
  const r = await httpGet(`${stack.httpUrl}/healthz`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  const body = JSON.parse(r.body);
  assert.equal(body.status, 'ok');
  assert.equal(body.redis, true);
  assert.equal(body.node, 'signal0');
});

test('/metrics counts connections, requests by type and result, Redis and events', async () => {
  const c = await connect(stack.wsUrl);
  await c.request('ping');
  await c.request('profile.get', {}); // unauthorized
  const m = await httpGet(`${stack.httpUrl}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /text\/plain/);
  assert.match(m.body, /^staffroom_connections [1-9]/m);
  assert.match(m.body, /^staffroom_redis_up 1$/m);
  assert.match(m.body, /^staffroom_requests_total\{type="ping",result="ok"\} [1-9]/m);
  assert.match(m.body, /^staffroom_requests_total\{type="profile.get",result="unauthorized"\} [1-9]/m);
  assert.match(m.body, /^# TYPE staffroom_events_delivered_total counter$/m);
  await c.close();
});

test('the web client\'s files are served, index.html at /', async () => {
  const root = await httpGet(`${stack.httpUrl}/`);
  assert.equal(root.status, 200);
  assert.match(root.body, /Staffroom test page/);
  const js = await httpGet(`${stack.httpUrl}/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.body, /answer = 42/);
  assert.equal((await httpGet(`${stack.httpUrl}/no-such-file.txt`)).status, 404);
  assert.equal((await httpGet(`${stack.httpUrl}/../../etc/passwd`)).status === 200 &&
    (await httpGet(`${stack.httpUrl}/../../etc/passwd`)).body.includes('root:'), false);
});

test('--help lists every key; --version prints the version; unknown options are refused', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  for (const key of ['listen-port', 'max-frame-bytes', 'presence-ttl', 'redis-password-file', 'token-lifetime', 'turn-urls'])
    assert.ok(help.out.includes(`--${key}`), key);
  const v = await run(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^staffroom-signal \d+\.\d+\.\d+/);
  const bad = await run(['--no-such-flag']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /no-such-flag/);
});

test('--check-config accepts the shipped config and names file, line and key of an error', async () => {
  const shipped = path.join(process.env.STAFFROOM_ROOT || path.resolve('..'), 'config/staffroom-signal.conf');
  const ok = await run(['--check-config', '--config', shipped]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /^listen-port 8080$/m);
  assert.match(ok.out, /configuration OK/);
  const over = await run(['--check-config', '--config', shipped, '--listen-port', '9999']);
  assert.match(over.out, /^listen-port 9999$/m);
  const badFile = path.join(h.dir, 'bad.conf');
  fs.writeFileSync(badFile, '# fine\nlisten-port 8080\npresence-ttl forever\n');
  const bad = await run(['--check-config', '--config', badFile]);
  assert.equal(bad.code, 2);
  assert.ok(bad.out.includes(`${badFile}:3:`), bad.out);
  assert.match(bad.out, /presence-ttl/);
  const missing = await run(['--check-config', '--redis-password-file', path.join(h.dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.out, /redis-password-file/);
});

test('--create-admin makes an admin from a password on stdin; a taken name exits 3', async () => {
  const name = uniqueName('boss');
  const password = `admin-${Date.now()}-pass`;
  const args = ['--redis-host', '127.0.0.1', '--redis-port', String(stack.redisPort), '--create-admin', name];
  const r = await run(args, `${password}\n`);
  assert.equal(r.code, 0, r.out);
  assert.ok(!r.out.includes(password));
  const c = await connect(stack.wsUrl);
  const login = await c.request('auth.login', { name, password }, 30000);
  assert.equal(login.type, 'ok', JSON.stringify(login));
  assert.equal(login.user.admin, true);
  await c.close();
  const again = await run(args, `${password}\n`);
  assert.equal(again.code, 3, again.out);
  const short = await run(['--redis-port', String(stack.redisPort), '--create-admin', uniqueName('b')], 'short\n');
  assert.equal(short.code, 1);
  const none = await run(['--redis-port', String(stack.redisPort), '--create-admin', uniqueName('b')], '');
  assert.equal(none.code, 1);
  const badName = await run(['--redis-port', String(stack.redisPort), '--create-admin', 'no spaces allowed'], 'password 123\n');
  assert.equal(badName.code, 1);
});

test('a Redis password is read from redis-password-file; a wrong one keeps the node unhealthy', async () => {
  const redis = await h.redis();
  const pass = 'redis-secret-' + Date.now();
  assert.equal(await redisCommand(redis.port, ['CONFIG', 'SET', 'requirepass', pass]), 'OK');
  const good = path.join(h.dir, 'redis.pass');
  const wrong = path.join(h.dir, 'wrong.pass');
  fs.writeFileSync(good, `${pass}\n`);
  fs.writeFileSync(wrong, 'not-the-password\n');
  const n1 = await startNode(h, { redisPort: redis.port, label: 'authed', args: ['--redis-password-file', good] });
  const n2 = await startNode(h, { redisPort: redis.port, label: 'wrongpass', args: ['--redis-password-file', wrong] });
  const { eventually } = await import('../lib/harness.mjs');
  await eventually(async () => (await httpGet(`${n1.httpUrl}/healthz`)).status === 200, { what: 'authenticated node healthy' });
  const c = await connect(n1.wsUrl);
  assert.equal((await registerUser(c, uniqueName('pw'))).user.admin, false);
  await c.close();
  assert.equal((await httpGet(`${n2.httpUrl}/healthz`)).status, 503);
  const log = fs.readFileSync(n2.proc.logPath, 'utf8') + fs.readFileSync(n1.proc.logPath, 'utf8');
  assert.ok(!log.includes(pass), 'the password is never logged');
  await h.stop(n1.proc); await h.stop(n2.proc);
});

test('SIGTERM closes connections, frees everything and exits 0', async () => {
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'term' });
  const c = await connect(node.wsUrl);
  const reg = await registerUser(c, uniqueName('term'));
  assert.equal(await stack.redisCmd('HLEN', `presence:user:${reg.user.id}`), 1);
  const d = await connect(node.wsUrl);
  const res = await h.stop(node.proc, 'SIGTERM');
  assert.deepEqual(res, { code: 0, signal: null }, fs.readFileSync(node.proc.logPath, 'utf8'));
  assert.equal((await c.waitClose()).code, 1001); // "going away"
  assert.equal((await d.waitClose()).code, 1001);
  const log = fs.readFileSync(node.proc.logPath, 'utf8');
  assert.match(log, /shutting down \(2 connections\)/);
  assert.doesNotMatch(log, /LeakSanitizer|AddressSanitizer/);
  // what was queued for Redis at shutdown was flushed: the closed device left presence
  assert.equal(await stack.redisCmd('HLEN', `presence:user:${reg.user.id}`), 0);
});
