// bench-upload.mjs — lesson clip upload throughput (upload.h) on loopback: one signed-in user uploads a
// SIZE_MIB file in CHUNK_MIB chunks (PUT with Content-Range, as the web client does), RUNS times against an
// optimised staffroom-signal with its own Redis and PostgreSQL; prints MiB/s per run and the median with its
// spread, and the machine's load. The payload is random bytes (the probe refuses it at once, so the figure is
// the transfer and the writes to disk, not libavformat); then the probe time of a real VP8/Opus clip.
//   make bench-upload   (SIZE_MIB=512 CHUNK_MIB=8 RUNS=3)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Harness, eventually, SCHEMA_VERSION } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newMember, SIGNIN, startReadyStack } from '../lib/community.mjs';

const SIZE = Number(process.env.SIZE_MIB || 512) * 1024 * 1024;
const CHUNK = Number(process.env.CHUNK_MIB || 8) * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 3);

const h = new Harness('bench-upload');
// Made first: execFileSync blocks this process, and a kept-alive connection the server closes meanwhile
// would be reused before the close is noticed.
const clip = path.join(h.dir, 'clip.webm');
execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine',
  '-t', '60', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2M', '-c:a', 'libopus', clip]);
const pg = await h.postgres();
const stack = await startReadyStack(h, { args: [...SIGNIN, '--postgres-conninfo-file', pg.conninfoFile,
  '--media-dir', path.join(h.dir, 'media'), '--upload-max-bytes', String(SIZE * 2), '--user-quota-bytes', String(SIZE * 8),
  '--log-level', 'warn'] });
await eventually(() => new RegExp(`schema version ${SCHEMA_VERSION}\\b`).test(nodeLog(stack.nodes[0])) || true, { timeoutMs: 30000 });
await eventually(async () => (await fetch(`${stack.httpUrl}/healthz`)).ok, { timeoutMs: 30000 });
const user = await newMember(stack, 'bench');
const auth = { authorization: `Bearer ${user.token}` };
const base = stack.httpUrl;
const payload = crypto.randomBytes(SIZE);

async function upload(bytes) {
  const made = await fetch(`${base}/media/uploads`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'bench', size: bytes.length }) });
  if (made.status !== 201) throw new Error(`create: ${made.status} ${await made.text()}`);
  const { id } = await made.json();
  let last;
  for (let off = 0; off < bytes.length; off += CHUNK) {
    const end = Math.min(off + CHUNK, bytes.length);
    try {
      last = await fetch(`${base}/media/uploads/${id}`, { method: 'PUT', body: bytes.subarray(off, end),
        headers: { ...auth, 'content-range': `bytes ${off}-${end - 1}/${bytes.length}` } });
    } catch (e) { throw new Error(`chunk at ${off} of ${bytes.length}: ${e.cause?.message || e.message}`); }
    const body = await last.json();
    if (end < bytes.length && last.status !== 200) throw new Error(`chunk at ${off}: ${last.status} ${JSON.stringify(body)}`);
    if (end === bytes.length) return { status: last.status, body };
  }
  return null;
}

// Waits until PostgreSQL is up (the first upload answers 503 until then).
await eventually(async () => (await fetch(`${base}/media/uploads`, { method: 'POST', headers: auth, body: '{"title":"x","size":1}' })).status === 201,
  { timeoutMs: 30000, what: 'uploads accepted' });

const rates = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = process.hrtime.bigint();
  const r = await upload(payload);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 415) throw new Error(`expected the random payload refused as not_video, got ${r.status}`);
  rates.push(SIZE / 1024 / 1024 / s);
  console.log(`run ${i + 1}: ${(SIZE / 1024 / 1024).toFixed(0)} MiB in ${s.toFixed(2)} s = ${rates[i].toFixed(1)} MiB/s`);
}
const sorted = [...rates].sort((a, b) => a - b);
if (RUNS) console.log(`upload throughput: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} MiB/s (min ${sorted[0].toFixed(1)}, max ${sorted[sorted.length - 1].toFixed(1)}), ${RUNS} runs, ${CHUNK / 1024 / 1024} MiB chunks; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

// The probe of a real clip: the last chunk's answer time minus a plain chunk's.
const bytes = fs.readFileSync(clip);
const t0 = process.hrtime.bigint();
const r = await upload(bytes);
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`a 60 s VP8/Opus clip of ${(bytes.length / 1024 / 1024).toFixed(1)} MiB: uploaded and probed (${r.status}, ${r.body.media?.duration_ms} ms) in ${s.toFixed(2)} s`);
await h.close();
