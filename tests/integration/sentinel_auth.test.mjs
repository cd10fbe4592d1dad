// sentinel_auth.test.mjs — Sentinels protected with requirepass (issue 12): a node given their password
// (redis-sentinel-password-file) finds the master through them and serves requests; a node with a wrong
// password says so in its log (WRONGPASS, never the password) and keeps /healthz at 503 instead of hanging.
// One master and one Sentinel (quorum 1) on loopback: no failover here (sentinel.test.mjs does that).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Harness, eventually, freePort } from '../lib/harness.mjs';
import { startNode, httpGet, connect, registerUser, uniqueName } from '../lib/client.mjs';
import { redisReady } from '../lib/community.mjs';

const MASTER = 'staffroom';
const PASSWORD = 'sentinel-secret-7f3a';
let h, sentinelPort;

function sentinelCommand() {
  try {
    execFileSync('sh', ['-c', 'command -v redis-sentinel'], { stdio: 'ignore' });
    return { file: 'redis-sentinel', extra: [] };
  } catch {
    return { file: 'redis-server', extra: ['--sentinel'] };
  }
}

before(async () => {
  h = new Harness('sentinel-auth');
  const master = await h.redis();
  sentinelPort = await freePort();
  const dir = path.join(h.dir, 'sentinel');
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, [`port ${sentinelPort}`, 'bind 127.0.0.1', 'protected-mode no', `dir ${dir}`,
    `requirepass ${PASSWORD}`, `sentinel monitor ${MASTER} 127.0.0.1 ${master.port} 1`, ''].join('\n'));
  const { file, extra } = sentinelCommand();
  await h.start('sentinel', file, [conf, ...extra], { ready: /Sentinel ID is/ });
});
after(async () => { await h?.close(); });

function secretFile(name, text) {
  const p = path.join(h.dir, name);
  fs.writeFileSync(p, `${text}\n`, { mode: 0o600 });
  return p;
}

const sentinelArgs = (passwordFile) => ['--redis-sentinel', `127.0.0.1:${sentinelPort}`, '--redis-master-name', MASTER,
  '--redis-sentinel-password-file', passwordFile];

test('with the Sentinels\' password the node finds the master and serves requests', async () => {
  // redis-port names nothing: the master can only be learnt from the Sentinel
  const node = await redisReady(await startNode(h, { redisPort: await freePort(), label: 'signal-ok',
    args: sentinelArgs(secretFile('sentinel.pass', PASSWORD)) }));
  const c = await connect(node.wsUrl);
  try {
    const name = uniqueName('sa');
    const res = await registerUser(c, name);
    assert.equal(res.user.name, name);
  } finally {
    c.close();
  }
});

test('a wrong Sentinel password: logged without the password, /healthz 503, no master reached', async () => {
  const node = await startNode(h, { redisPort: await freePort(), label: 'signal-wrong',
    args: sentinelArgs(secretFile('wrong.pass', 'not-the-password')) });
  await eventually(() => /a Sentinel answers: .*(WRONGPASS|NOAUTH|invalid password)/i.test(node.proc.output),
    { what: 'the refused AUTH in the log', timeoutMs: 10000 });
  assert.equal((await httpGet(`${node.httpUrl}/healthz`)).status, 503);
  assert.ok(!node.proc.output.includes('not-the-password'), 'the password never reaches the log');
});
