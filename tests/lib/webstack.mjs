// webstack.mjs — Redis + staffroom-signal serving webclient/, for browser tests; with a restart on the same
// port (to test reconnection) and `--create-admin`.
//
//   const stack = await startWebStack(h);   // { url, port, wsUrl, signal, redis, … }
//   await stack.createAdmin('admin', 'a long password');
//   await stack.stopSignal();  await stack.startSignal();      // same port, same Redis
//
// With STAFFROOM_E2E_FAKE=1 the stand-in tests/lib/fake-signal.mjs (Node, from PROTOCOL.md) is used
// instead of the C server: for developing the client while the server is being written. Not for CI.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { bin, freePort, ROOT } from './harness.mjs';

export const FAKE = process.env.STAFFROOM_E2E_FAKE === '1';
const FAKE_JS = path.join(ROOT, 'tests/lib/fake-signal.mjs');

export async function startWebStack(h, { args = [] } = {}) {
  const redis = FAKE ? null : await h.redis();
  const port = await freePort();
  const stateFile = path.join(h.dir, 'fake-state.json');
  const common = FAKE ? ['--state-file', stateFile]
    : ['--redis-host', '127.0.0.1', '--redis-port', String(redis.port)];
  const serveArgs = [
    '--listen-address', '127.0.0.1', '--listen-port', String(port),
    '--web-root', path.join(ROOT, 'webclient'), ...(FAKE ? [] : ['--node-id', 'web1']), ...common, ...args,
  ];
  const file = FAKE ? process.execPath : bin('staffroom-signal');
  const argv = (a) => (FAKE ? [FAKE_JS, ...a] : a);
  let runs = 0;
  const stack = {
    redis, port,
    url: `http://127.0.0.1:${port}/`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    signal: null,
    async startSignal() {
      stack.signal = await h.start(`signal-${runs++}`, file, argv(serveArgs), { ready: /staffroom-signal listening on/ });
      return stack.signal;
    },
    async stopSignal(sig = 'SIGTERM') {
      const res = await h.stop(stack.signal, sig);
      return res;
    },
    // Runs `staffroom-signal --create-admin NAME` (password on stdin) against the same Redis.
    createAdmin(name, password) {
      return new Promise((resolve, reject) => {
        const p = spawn(file, argv(['--create-admin', name, ...common]), { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => { out += d; });
        p.stderr.on('data', (d) => { out += d; });
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`--create-admin exited ${code}: ${out}`))));
        p.stdin.end(`${password}\n`);
      });
    },
  };
  await stack.startSignal();
  return stack;
}
