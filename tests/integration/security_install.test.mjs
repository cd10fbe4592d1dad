// security_install.test.mjs — deployment as operators expect it (issue 12): `make install` honours PREFIX
// and DESTDIR and installs the programs, the web client, the reference configurations, the systemd units
// (sandboxed: DynamicUser, ProtectSystem=strict, only the capabilities each program needs) and the nginx
// site; `systemd-analyze verify` accepts the units without a single warning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { Harness, ROOT, BUILD } from '../lib/harness.mjs';

const SAN = path.basename(BUILD) === 'asan' ? '1' : '0';
let h;
before(() => { h = new Harness('install'); });
after(async () => { await h.close(); });

function makeInstall(vars) {
  const args = ['-C', ROOT, '--no-print-directory', `SAN=${SAN}`, 'install', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  const r = spawnSync('make', args, { encoding: 'utf8', timeout: 600000 });
  assert.equal(r.status, 0, `make install failed:\n${r.stdout}\n${r.stderr}`);
}

const unitField = (text, key) => text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

test('make install DESTDIR=… PREFIX=/usr installs the expected files, with the installed paths in the units', () => {
  const dest = path.join(h.dir, 'stage');
  makeInstall({ DESTDIR: dest, PREFIX: '/usr' });
  const expected = [
    'usr/bin/staffroom-signal', 'usr/bin/staffroom-relay',
    'usr/share/staffroom/webclient/index.html', 'usr/share/staffroom/webclient/app.js',
    'usr/share/staffroom/webclient/style.css', 'usr/share/staffroom/webclient/views/schedule.js',
    'etc/staffroom/staffroom-signal.conf', 'etc/staffroom/staffroom-relay.conf',
    'usr/lib/systemd/system/staffroom-signal@.service', 'usr/lib/systemd/system/staffroom-relay.service',
    'usr/share/staffroom/nginx/staffroom.conf', 'usr/share/doc/staffroom/README.md',
  ];
  for (const f of expected) assert.ok(fs.existsSync(path.join(dest, f)), `${f} installed`);
  for (const b of ['staffroom-signal', 'staffroom-relay']) {
    const st = fs.statSync(path.join(dest, 'usr/bin', b));
    assert.ok(st.mode & 0o111, `${b} is executable`);
  }
  // Every file of the web client is there.
  const web = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? web(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const src = web(path.join(ROOT, 'webclient')).map((f) => path.relative(path.join(ROOT, 'webclient'), f)).sort();
  const got = web(path.join(dest, 'usr/share/staffroom/webclient')).map((f) => path.relative(path.join(dest, 'usr/share/staffroom/webclient'), f)).sort();
  assert.deepEqual(got, src);
  // Nothing outside PREFIX and SYSCONFDIR.
  assert.deepEqual(fs.readdirSync(dest).sort(), ['etc', 'usr']);

  const signal = fs.readFileSync(path.join(dest, 'usr/lib/systemd/system/staffroom-signal@.service'), 'utf8');
  const relay = fs.readFileSync(path.join(dest, 'usr/lib/systemd/system/staffroom-relay.service'), 'utf8');
  assert.match(unitField(signal, 'ExecStart')[0], /^\/usr\/bin\/staffroom-signal --config \/etc\/staffroom\/staffroom-signal\.conf/);
  assert.match(signal, /--web-root \/usr\/share\/staffroom\/webclient/);
  assert.match(unitField(relay, 'ExecStart')[0], /^\/usr\/bin\/staffroom-relay --config \/etc\/staffroom\/staffroom-relay\.conf/);
  for (const u of [signal, relay]) {
    assert.ok(!u.includes('@'.concat('BINDIR@')) && !/@[A-Z]+@/.test(u), 'every placeholder filled in');
    assert.deepEqual(unitField(u, 'DynamicUser'), ['yes']);
    assert.deepEqual(unitField(u, 'ProtectSystem'), ['strict']);
    assert.deepEqual(unitField(u, 'NoNewPrivileges'), ['yes']);
  }
  // Capabilities: none for the signalling node; binding a low port (turns: on 443) for the relay, only.
  assert.deepEqual(unitField(signal, 'CapabilityBoundingSet'), ['']);
  assert.deepEqual(unitField(signal, 'AmbientCapabilities'), ['']);
  assert.deepEqual(unitField(relay, 'CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(unitField(relay, 'AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);

  // The nginx site proxies the WebSocket (upgrade) and passes the client's address.
  const site = fs.readFileSync(path.join(dest, 'usr/share/staffroom/nginx/staffroom.conf'), 'utf8');
  for (const re of [/location = \/ws/, /proxy_set_header Upgrade \$http_upgrade/, /proxy_set_header X-Real-IP \$remote_addr/, /listen 443 ssl/, /upstream staffroom_signal/])
    assert.match(site, re);

  // The installed program accepts the installed configuration.
  const out = execFileSync(path.join(dest, 'usr/bin/staffroom-signal'), ['--check-config', '--config', path.join(dest, 'etc/staffroom/staffroom-signal.conf')], { encoding: 'utf8' });
  assert.match(out, /configuration OK/);

  // Installing again keeps an operator's edited configuration (the new reference goes to .dist).
  fs.appendFileSync(path.join(dest, 'etc/staffroom/staffroom-signal.conf'), '\n# edited by the operator\n');
  makeInstall({ DESTDIR: dest, PREFIX: '/usr' });
  assert.match(fs.readFileSync(path.join(dest, 'etc/staffroom/staffroom-signal.conf'), 'utf8'), /edited by the operator/);
  assert.ok(fs.existsSync(path.join(dest, 'etc/staffroom/staffroom-signal.conf.dist')));
});

test('systemd-analyze verify accepts the installed units, without a warning', (t) => {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
    t.skip('systemd-analyze is not installed (Debian: apt-get install systemd) — the units were not verified');
    return;
  }
  // Installed under a prefix that exists here, so that verify finds the programs the units start.
  const prefix = path.join(h.dir, 'root');
  makeInstall({ PREFIX: path.join(prefix, 'usr'), SYSCONFDIR: path.join(prefix, 'etc') });
  const units = path.join(prefix, 'usr/lib/systemd/system');
  const dir = path.join(h.dir, 'verify');
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.join(units, 'staffroom-signal@.service'), path.join(dir, 'staffroom-signal@8081.service'));
  fs.copyFileSync(path.join(units, 'staffroom-relay.service'), path.join(dir, 'staffroom-relay.service'));
  const r = spawnSync('systemd-analyze', ['verify', './staffroom-signal@8081.service', './staffroom-relay.service'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no warning at all');
  // And the sandbox is a tight one by systemd's own measure (0 best, 10 worst; "OK" is below 2).
  for (const u of ['staffroom-signal@8081.service', 'staffroom-relay.service']) {
    const s = spawnSync('systemd-analyze', ['security', '--offline=true', `./${u}`], { cwd: dir, encoding: 'utf8' });
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(s.stdout);
    assert.ok(m, s.stdout + s.stderr);
    console.log(`# ${u}: systemd exposure ${m[1]}`);
    assert.ok(Number(m[1]) < 2.0, `${u} exposure ${m[1]}`);
  }
});
