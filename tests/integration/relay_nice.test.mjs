// relay_nice.test.mjs — two libnice ICE agents (tests/integration/relay_nice.c) reach each other only
// through staffroom-relay, with TURN over UDP and over TCP; all messages must arrive, pair relay/relay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Harness, bin } from '../lib/harness.mjs';
import { startRelay, stopRelayChecked } from '../lib/relay.mjs';

const h = new Harness('relay-nice');
let relayP;
const relay = () => (relayP ||= startRelay(h, { allowLoopback: true }));
after(() => h.close());

function runNice(args, timeoutMs = 30000) {
  return new Promise((resolve) => {
    const p = spawn(bin('tests/integration/relay_nice'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', (e) => { out += String(e); });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

for (const transport of ['udp', 'tcp']) {
  test(`libnice agents connect relay/relay through the relay with TURN over ${transport.toUpperCase()}`, { timeout: 40000 }, async () => {
    const r = await relay();
    const { username, password } = r.creds(`nice-${transport}`);
    const res = await runNice([String(r.port), username, password, transport, '500']);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /relay_nice: OK/, res.out);
    assert.equal(r.rec.exited, null, `relay died:\n${r.rec.output.slice(-3000)}`);
  });
}

test('the relay exits 0 on SIGTERM afterwards (sanitizers and leak check clean)', { timeout: 30000 }, async () => {
  const why = await stopRelayChecked(h, await relay());
  assert.equal(why, null, why);
});
