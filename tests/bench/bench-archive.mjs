// bench-archive.mjs — figures for the PostgreSQL chat archive (make bench-archive; not pass/fail):
// BENCH_MESSAGES messages (default 1,000,000) in BENCH_CHANNELS channels (default 200), written straight
// into the channels' Redis streams (redis-cli --pipe) while PostgreSQL is stopped, then PostgreSQL started:
//   - archiver throughput: messages copied per second while it catches up (target ≥ 10,000/s),
//   - Redis memory of one channel's stream before and after trimming to archive-keep,
//   - chat.history p50/p95 for pages that cross the boundary between the stream and the archive,
//   - chat.search p50/p95 over the whole archive (target p95 ≤ 50 ms): a frequent word (in ~1 message in 4),
//     a phrase, a prefix query, a prefix nobody wrote, a middle-frequency word (~1 in 500), and a frequent
//     word by one author.
// Each figure is printed to stderr as soon as it is measured; the whole set as JSON on stdout at the end.
// Everything on 127.0.0.1, private Redis and PostgreSQL in build/test-run/ (harness.mjs), bounded in count
// and time. STAFFROOM_BUILD picks the binary (the Makefile passes the optimised build/).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually, freePort, ROOT, bin } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, createCircle, joined, SIGNIN, startReadyStack } from '../lib/community.mjs';

const N = Number(process.env.BENCH_MESSAGES || 1000000);
const CHANNELS = Number(process.env.BENCH_CHANNELS || 200);
const KEEP = Number(process.env.BENCH_KEEP || 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES || 200);
// Rounds of the search figures over the same archive (loading 1M messages takes minutes; the figures of one
// round swing with the machine's load): each round is printed, then the median of each figure over them.
const RUNS = Math.min(Math.max(Number(process.env.BENCH_RUNS || 1), 1), 20);
// Another build's staffroom-signal to compare with (a directory, like STAFFROOM_BUILD): the searches then go
// to two more nodes on the same Redis and PostgreSQL, one of each build, neither archiving, interleaved round
// by round and kind by kind (which goes first alternates), so both see the same data, caches and load.
// Printed as <figure>@compare.
const COMPARE = process.env.BENCH_COMPARE_BUILD || '';
const WORDS = ('p-value confidence interval hypothesis sampling distribution variance regression rubric ' +
  'assessment feedback curriculum fractions algebra geometry photosynthesis enzyme ecosystem sonnet essay ' +
  'grammar vocabulary phonics lab safety fieldtrip parents homework detention timetable').split(' ');
// Middle-frequency words: one message in 50 gets one of these ten.
const MID = 'kangaroo quokka wombat dingo platypus echidna koala wallaby bilby numbat'.split(' ');

const h = new Harness('bench-archive');
const out = {};
const note = (k, v) => { out[k] = v; console.error(`${k}: ${JSON.stringify(v)}`); };
try {
  const pg = await h.postgres();
  const stack = await startReadyStack(h, { args: [...SIGNIN, '--log-level', 'warn', '--postgres-conninfo-file',
    pg.conninfoFile, '--archive-keep', String(KEEP), '--archive-interval', '20', '--archive-batch', '5000',
    '--postgres-retry-max', '200',
    // the samples below are back-to-back reads by one user: lift the per-user request limit above them
    '--request-rate', '1000000', '--request-burst', '100000',
    // the clients stay quiet for minutes while the archiver catches up (longer on a loaded machine)
    '--ping-interval', '60', '--ping-timeout', '900'] });
  const admin = await newAdmin(stack);
  const { circle } = await createCircle(admin);
  const alice = await joined(stack, circle.id, 'alice');
  const chids = [];
  for (let i = 0; i < CHANNELS; i++) chids.push((await admin.client.ok('channel.create', { circle: circle.id, name: `bench-${i}` })).channel.id);
  await h.postgresStop(pg);

  // Writes the messages as XADD lines (inline commands) for redis-cli --pipe, in chunks.
  const file = path.join(h.dir, 'xadd.txt');
  const fd = fs.openSync(file, 'w');
  // mulberry32: every word equally likely in every stretch of the stream (a plain LCG's low bits cycle,
  // which made some "frequent" words rare among the newest messages)
  let rnd = 12345;
  const next = () => {
    rnd = (rnd + 0x6D2B79F5) | 0;
    let t = Math.imul(rnd ^ (rnd >>> 15), 1 | rnd);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  for (let i = 0; i < N; i += 10000) {
    let chunk = '';
    for (let j = i; j < Math.min(N, i + 10000); j++) {
      let text = Array.from({ length: 8 }, () => WORDS[next() % WORDS.length]).join(' ');
      if (next() % 50 === 0) text += ` ${MID[next() % MID.length]}`;
      chunk += `XADD channel:${chids[j % CHANNELS]}:log * user ${alice.user.id} text "${text} ${j}"\n`;
    }
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  execFileSync('sh', ['-c', `redis-cli -p ${stack.redisPort} --pipe < ${file} > /dev/null`]);
  const sampleKey = `channel:${chids[0]}:log`;
  out.stream_bytes_before = Number(await stack.redisCmd('MEMORY', 'USAGE', sampleKey, 'SAMPLES', '0'));
  out.stream_len_before = Number(await stack.redisCmd('XLEN', sampleKey));

  await h.postgresStart(pg);
  const t0 = Date.now();
  const count = () => Number(h.psql(pg, 'SELECT count(*) FROM messages').trim());
  await eventually(async () => count() === N && Number(await stack.redisCmd('XLEN', sampleKey)) <= KEEP,
    { timeoutMs: 1800000, everyMs: 500, what: 'archive caught up' });
  const secs = (Date.now() - t0) / 1000;
  note('stream_bytes_before', out.stream_bytes_before);
  note('stream_len_before', out.stream_len_before);
  note('archived', N);
  note('archiver_seconds', secs);
  note('archiver_messages_per_s', Math.round(N / secs));
  note('stream_bytes_after', Number(await stack.redisCmd('MEMORY', 'USAGE', sampleKey, 'SAMPLES', '0')));
  note('stream_len_after', Number(await stack.redisCmd('XLEN', sampleKey)));
  h.psql(pg, 'VACUUM ANALYZE messages'); // as autovacuum would soon after a bulk load

  // p50/p95 of SAMPLES calls; a call that fails (e.g. unavailable: the statement ran past postgres-timeout)
  // is counted, and its time is counted too (it is what the user waited).
  const lat = async (fn) => {
    const a = [];
    let failed = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const s = process.hrtime.bigint();
      try { await fn(i); } catch { failed++; }
      a.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    a.sort((x, y) => x - y);
    return { p50_ms: +a[Math.floor(SAMPLES * 0.5)].toFixed(2), p95_ms: +a[Math.floor(SAMPLES * 0.95)].toFixed(2), failed };
  };
  // Pages of 100 ending 50 messages into the stream: half from the archive, half from the stream.
  const bounds = [];
  for (const chid of chids.slice(0, 20)) {
    const page = (await alice.client.ok('chat.history', { channel: chid, limit: 50 })).messages;
    bounds.push([chid, page[0].id]);
  }
  note('history_across_boundary', await lat(async (i) => {
    const [chid, before] = bounds[i % bounds.length];
    const r = await alice.client.ok('chat.history', { channel: chid, limit: 100, before: bounds[i % bounds.length][1] });
    if (r.messages.length !== 100) throw new Error(`short page in ${chid} before ${before}`);
  }));
  note('loadavg_before_search', fs.readFileSync('/proc/loadavg', 'utf8').trim());
  const q = (fields) => alice.client.ok('chat.search', { limit: 20, ...fields });
  let cmp = null, mine = q;
  if (COMPARE) {
    // Both builds on nodes of their own that do not archive (node 0 holds the archive lock and runs a round
    // every 20 ms on its one PostgreSQL connection, which searches would queue behind).
    const extra = stack.nodes[0].args.slice(stack.nodes[0].args.indexOf('--node-id') + 2);
    extra[extra.indexOf('--archive-interval') + 1] = '3600000';
    const nodeOf = async (label, dir) => {
      const port = await freePort();
      await h.start(label, path.join(dir, 'staffroom-signal'), ['--listen-address', '127.0.0.1', '--listen-port',
        String(port), '--redis-host', '127.0.0.1', '--redis-port', String(stack.redisPort), '--web-root',
        path.join(ROOT, 'webclient'), '--node-id', label, ...extra], { ready: /staffroom-signal listening on/ });
      const m = await joined(stack, circle.id, label, `ws://127.0.0.1:${port}/ws`);
      return (fields) => m.client.ok('chat.search', { limit: 20, ...fields });
    };
    mine = await nodeOf('this', path.dirname(bin('staffroom-signal')));
    cmp = await nodeOf('compare', COMPARE);
  }
  const kinds = {
    search_frequent_word: (f) => (i) => f({ query: WORDS[i % WORDS.length] }),
    search_phrase: (f) => (i) => f({ query: `"${WORDS[i % WORDS.length]} ${WORDS[(i * 7 + 3) % WORDS.length]}"` }),
    search_prefix: (f) => (i) => f({ query: `${WORDS[i % WORDS.length].slice(0, 4)}*` }),
    search_prefix_of_nothing: (f) => (i) => f({ query: `zq${WORDS[i % WORDS.length].slice(0, 3)}*` }),
    search_middle_word: (f) => (i) => f({ query: MID[i % MID.length] }),
    search_frequent_word_by_author: (f) => (i) => f({ query: WORDS[i % WORDS.length], author: alice.user.id }),
    // a phrase of a frequent and a middle-frequency word (about 1 message in 15,000: the middle word ends the
    // text), and one that never occurs (a middle word is never followed by a frequent one)
    search_rare_phrase: (f) => (i) => f({ query: `"${WORDS[i % WORDS.length]} ${MID[i % MID.length]}"` }),
    search_phrase_of_nothing: (f) => (i) => f({ query: `"${MID[i % MID.length]} ${WORDS[i % WORDS.length]}"` }),
  };
  const rounds = {};
  const measure = async (name, fn) => {
    const r = await lat(fn);
    (rounds[name] ||= []).push(r);
    note(RUNS > 1 ? `${name}#${rounds[name].length}` : name, r);
  };
  for (let run = 0; run < RUNS; run++) {
    for (const [name, fn] of Object.entries(kinds)) {
      if (!cmp) { await measure(name, fn(q)); continue; }
      // which node goes first alternates, so neither always finds the other's pages cached
      const pair = [[name, fn(mine)], [`${name}@compare`, fn(cmp)]];
      for (const [n, f] of run % 2 ? pair.reverse() : pair) await measure(n, f);
    }
  }
  if (RUNS > 1) {
    const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
    for (const [name, rs] of Object.entries(rounds)) {
      note(name, { p50_ms: median(rs.map((r) => r.p50_ms)), p95_ms: median(rs.map((r) => r.p95_ms)),
        p95_min_ms: Math.min(...rs.map((r) => r.p95_ms)), p95_max_ms: Math.max(...rs.map((r) => r.p95_ms)),
        failed: rs.reduce((n, r) => n + r.failed, 0), runs: RUNS });
    }
  }
  note('loadavg', fs.readFileSync('/proc/loadavg', 'utf8').trim());
  out.node_log_tail = nodeLog(stack.nodes[0]).split('\n').filter((l) => /warn|error/.test(l)).slice(-3);
  console.log(JSON.stringify({ messages: N, channels: CHANNELS, keep: KEEP, ...out }, null, 2));
} finally {
  await h.close();
}
