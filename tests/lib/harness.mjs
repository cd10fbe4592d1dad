// harness.mjs — real processes for integration tests: free ports, temp dirs, a private redis-server,
// the project's binaries. Every process is started on loopback, recorded, and killed by PID at the end.
//
//   const h = new Harness('chat');            // temp dir under build/test-run/
//   const redis = await h.redis();            // { port, proc }
//   const pg = await h.postgres();             // { port, conninfoFile, proc }: a private PostgreSQL 15
//   const sig = await h.start('signal', [...args], { ready: /listening/ })
//   ...
//   await h.close();                          // SIGTERM everything, wait, keep logs on failure
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';

export const ROOT = process.env.STAFFROOM_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const BUILD = process.env.STAFFROOM_BUILD || path.join(ROOT, 'build/asan');
export const bin = (name) => path.join(BUILD, name);
// The archive's migrations, in order ('001_messages.sql' → {version: 1, name: 'messages'}); the newest is what a
// node reports once migrated.
export const MIGRATIONS = fs.readdirSync(path.join(ROOT, 'signalling/sql')).filter((f) => /^\d+_.*\.sql$/.test(f)).sort()
  .map((f) => ({ version: Number(f.slice(0, f.indexOf('_'))), name: f.slice(f.indexOf('_') + 1, -4) }));
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

// A TCP port that was free a moment ago (the kernel picks it).
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// A port free for both TCP and UDP (TURN listens on both).
export async function freeUdpTcpPort(host = '127.0.0.1') {
  for (let i = 0; i < 50; i++) {
    const port = await freePort(host);
    const ok = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.on('error', () => resolve(false));
      u.bind(port, host, () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free UDP+TCP port');
}

export function waitForPort(port, host = '127.0.0.1', timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, host);
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not listening after ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

let dirCounter = 0;
export class Harness {
  constructor(name) {
    this.name = name;
    this.dir = path.join(ROOT, 'build/test-run', `${name}-${process.pid}-${dirCounter++}`);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
    this.procs = [];
  }

  // Starts a program; resolves when `ready` (a RegExp) appears on its stderr/stdout, or when
  // `port` accepts connections. The process's output goes to DIR/<label>.log.
  async start(label, file, args, { ready, port, env, timeoutMs = 15000 } = {}) {
    const logPath = path.join(this.dir, `${label}.log`);
    const log = fs.createWriteStream(logPath);
    const proc = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const rec = { label, proc, logPath, exited: null, output: '' };
    this.procs.push(rec);
    rec.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => { rec.exited = { code, signal }; resolve(rec.exited); });
      // A missing binary is an 'error' without 'exit': report it instead of crashing the runner.
      proc.on('error', (e) => { rec.output += `${e}\n`; rec.exited = { code: -1, signal: null }; resolve(rec.exited); proc.emit('exit', -1, null); });
    });
    const onData = (d) => { log.write(d); rec.output += d.toString(); if (rec.output.length > 1 << 20) rec.output = rec.output.slice(-(1 << 19)); };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    if (ready) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${label} not ready after ${timeoutMs} ms:\n${rec.output}`)), timeoutMs);
        const check = () => {
          if (ready.test(rec.output)) { clearTimeout(timer); resolve(); return true; }
          return false;
        };
        if (check()) return;
        const onMore = () => { if (check()) { proc.stdout.off('data', onMore); proc.stderr.off('data', onMore); } };
        proc.stdout.on('data', onMore);
        proc.stderr.on('data', onMore);
        proc.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`${label} exited (${code ?? sig}) before ready:\n${rec.output}`)); });
      });
    } else if (port) {
      await waitForPort(port, '127.0.0.1', timeoutMs);
    }
    return rec;
  }

  // A private redis-server on a free loopback port with its data in the temp dir.
  async redis({ port, appendonly = true } = {}) {
    port = port || await freePort();
    const dir = path.join(this.dir, `redis-${port}`);
    fs.mkdirSync(dir, { recursive: true });
    const rec = await this.start(`redis-${port}`, 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--protected-mode', 'yes',
    ], { ready: /Ready to accept connections/ });
    rec.port = port;
    return rec;
  }

  // A private PostgreSQL 15 on a free loopback port, its data in the temp dir (a copy of a cluster made
  // once per build with initdb: see pgTemplate). Trust authentication, loopback only, fsync off (a test
  // database). conninfoFile holds the connection string, as postgres-conninfo-file wants it. Stopped with
  // h.postgresStop(pg); started again on the same data and port with h.postgresStart(pg).
  async postgres({ port } = {}) {
    port = port || await freePort();
    const dir = path.join(this.dir, `pg-${port}`);
    fs.cpSync(pgTemplate(), dir, { recursive: true });
    chownPostgres(dir);
    const conninfoFile = path.join(this.dir, `pg-${port}.conninfo`);
    fs.writeFileSync(conninfoFile, `host=127.0.0.1 port=${port} dbname=postgres user=staffroom connect_timeout=5\n`, { mode: 0o600 });
    const rec = { port, dir, conninfoFile };
    return this.postgresStart(rec);
  }

  async postgresStart(pg) {
    const [file, args] = asPostgresUser(path.join(PG_BIN, 'postgres'), ['-D', pg.dir, '-p', String(pg.port),
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${pg.dir}`, '-c', 'fsync=off',
      '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'shared_buffers=16MB']);
    const rec = await this.start(`pg-${pg.port}`, file, args, { ready: /ready to accept connections/ });
    pg.rec = rec; // h.stop(pg.rec) stops it
    return pg;
  }

  // Stops a harness PostgreSQL at once (SIGINT: "fast" shutdown; SIGTERM would wait for every client to
  // disconnect first). The data stays for postgresStart.
  postgresStop(pg) { return this.stop(pg.rec, 'SIGINT'); }

  // Runs psql against a harness PostgreSQL; resolves with its output (tuples only, unaligned).
  psql(pg, sql) {
    return execFileSync(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'staffroom', '-d', 'postgres',
      '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  }

  // Sends SIGTERM (or `signal`) and waits for the exit; returns { code, signal }.
  async stop(rec, signal = 'SIGTERM', timeoutMs = 10000) {
    if (rec.exited) return rec.exited;
    rec.proc.kill(signal);
    const timer = setTimeout(() => rec.proc.kill('SIGKILL'), timeoutMs);
    const res = await rec.exitPromise;
    clearTimeout(timer);
    return res;
  }

  async close() {
    await Promise.all(this.procs.map((r) => this.stop(r)));
  }
}

// ---- PostgreSQL for tests ----
export const PG_BIN = process.env.STAFFROOM_PG_BIN || '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres'; // PostgreSQL refuses to run as root: as root, run it as Debian's postgres user

function asPostgresUser(file, args) {
  if (process.getuid && process.getuid() === 0) {
    return ['setpriv', ['--reuid', PG_USER, '--regid', PG_USER, '--clear-groups', '--', file, ...args]];
  }
  return [file, args];
}

function chownPostgres(dir) {
  if (process.getuid && process.getuid() === 0) execFileSync('chown', ['-R', `${PG_USER}:${PG_USER}`, dir]);
}

// A cluster made with initdb once per build directory (build/test-run/pg-template) and copied for each
// test: initdb costs seconds, a copy a few tens of milliseconds. Made in a temporary directory and renamed,
// so test files starting together never see half a template.
let templatePath = null;
export function pgTemplate() {
  if (templatePath) return templatePath;
  const dest = path.join(ROOT, 'build/test-run/pg-template');
  if (!fs.existsSync(path.join(dest, 'PG_VERSION'))) {
    const tmp = `${dest}.${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    chownPostgres(tmp);
    const [file, args] = asPostgresUser(path.join(PG_BIN, 'initdb'), ['-D', path.join(tmp, 'data'), '-U', 'staffroom',
      '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions']);
    execFileSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    try { fs.renameSync(path.join(tmp, 'data'), dest); } catch (e) { if (!fs.existsSync(path.join(dest, 'PG_VERSION'))) throw e; }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  templatePath = dest;
  return dest;
}

// Resolves when `fn()` returns a truthy value, polling every `everyMs`; rejects after `timeoutMs`.
export async function eventually(fn, { timeoutMs = 10000, everyMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
