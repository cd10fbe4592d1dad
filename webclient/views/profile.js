// views/profile.js — my profile: display name, school, subjects, IANA time zone, bio; this browser's
// call setting (relay-only); and the account's sessions and password (views/security.js).
import { h, field } from '../dom.js';
import { relayForced, setRelayForced } from '../rtc.js';
import { mountSecurity } from './security.js';

function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

export function mountProfile(root, ctx) {
  const { conn } = ctx;
  let alive = true;
  const u = conn.user || {};
  const browserTz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = timeZones();
  const currentTz = u.tz || browserTz || 'UTC';
  if (!zones.includes(currentTz)) zones.unshift(currentTz);

  const display = field('Display name', 'input', { name: 'display_name', maxlength: 64, value: u.display_name || '', autocomplete: 'name' });
  const school = field('School', 'input', { name: 'school', maxlength: 128, value: u.school || '', autocomplete: 'organization' });
  const subjects = field('Subjects you can help with (comma-separated)', 'input', {
    name: 'subjects', value: (u.subjects || []).join(', '), placeholder: 'e.g. Statistics, Physics',
  });
  const tz = field('Time zone', 'select', { name: 'tz' }, zones.map((z) => ({ value: z, label: z.replace(/_/g, ' '), selected: z === currentTz })));
  const bio = field('About you', 'textarea', { name: 'bio', rows: 4, maxlength: 2000, value: u.bio || '' });
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Save profile');
  const form = h('form', { class: 'card profile-form', 'aria-labelledby': 'profile-title' },
    display.wrap, school.wrap, subjects.wrap, tz.wrap, bio.wrap, error, status, h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    status.textContent = '';
    submit.disabled = true;
    try {
      const res = await conn.request('profile.update', {
        display_name: display.input.value.trim(),
        school: school.input.value.trim(),
        subjects: subjects.input.value.split(',').map((s) => s.trim()).filter(Boolean),
        tz: tz.input.value,
        bio: bio.input.value.trim(),
      });
      conn.user = res.user;
      ctx.userChanged();
      status.textContent = 'Profile saved.';
    } catch (err) {
      error.textContent = ctx.describeError(err);
    } finally {
      submit.disabled = false;
    }
  });

  // Relay-only calls: the other person never learns this network's address, at the price of a hop
  // through the relay. Kept in this browser (it is about this network, not the account).
  const relay = h('input', { type: 'checkbox', id: 'relay-only', name: 'relay-only', checked: relayForced() });
  const relayStatus = h('p', { class: 'muted', role: 'status' });
  relay.addEventListener('change', () => {
    setRelayForced(relay.checked);
    relayStatus.textContent = relay.checked ? 'Calls from this browser go through the relay.' : 'Calls connect directly when they can.';
  });
  const calls = h('section', { class: 'card call-settings', 'aria-labelledby': 'call-settings-title' },
    h('h2', { id: 'call-settings-title' }, 'Calls in this browser'),
    h('p', {}, relay, ' ', h('label', { for: 'relay-only' }, 'Always connect calls through the relay (hides your network address from the other person; may add a little delay)')),
    relayStatus);

  root.append(h('section', { class: 'profile' },
    h('h1', { id: 'profile-title' }, 'Your profile'),
    h('p', { class: 'muted' }, `Signed in as @${u.name || ''}${u.admin ? ' (administrator)' : ''}.`),
    form, calls));
  const unmountSecurity = mountSecurity(root.lastElementChild, ctx);

  // Fresh copy from the server (another device may have changed it).
  conn.request('profile.get', {}).then((res) => {
    if (!alive || !res.user) return;
    conn.user = res.user;
  }).catch(() => {});
  return () => { alive = false; unmountSecurity(); };
}
