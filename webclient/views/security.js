// views/security.js — the account's sign-in sessions and password, shown on the profile page: every
// session (device, address, last seen; "this browser" marked), ending one, signing out everywhere, and
// changing the password (the old one is asked for; every other session ends).
import { h, fill, field } from '../dom.js';

const when = (ms) => new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));

export function mountSecurity(root, ctx) {
  const { conn } = ctx;
  let alive = true;
  const list = h('ul', { class: 'session-list', 'aria-label': 'Your sessions' });
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });

  async function load() {
    try {
      const { sessions } = await conn.request('auth.sessions');
      if (!alive) return;
      fill(list, ...sessions.map((s) => h('li', { class: 'session', dataset: { session: s.session } },
        h('span', { class: 'who' }, s.device || 'Unnamed device'), ' ',
        h('span', { class: 'muted' }, `${s.address ? `from ${s.address}, ` : ''}last seen ${when(s.last_seen)}`), ' ',
        s.current ? h('span', { class: 'badge' }, 'this browser')
          : h('button', { type: 'button', class: 'link', 'aria-label': `Sign out ${s.device || 'that device'}`, onclick: () => end(s) }, 'Sign out'))));
    } catch (err) {
      if (alive) status.textContent = `Could not list your sessions: ${ctx.describeError(err)}`;
    }
  }

  async function end(s) {
    try {
      await conn.request('auth.session_end', { session: s.session });
      status.textContent = `${s.device || 'That device'} is signed out.`;
      load();
    } catch (err) { ctx.showError(err); }
  }

  const everywhere = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    if (!confirm('Sign out on every device, this one included?')) return;
    try { await conn.request('auth.logout_all'); } catch (err) { ctx.showError(err); }
  } }, 'Sign out everywhere');

  const oldPw = field('Current password', 'input', { type: 'password', name: 'old_password', autocomplete: 'current-password', required: true });
  const newPw = field('New password (8 characters or more)', 'input', { type: 'password', name: 'password', minlength: 8, maxlength: 256, autocomplete: 'new-password', required: true });
  const pwStatus = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const pwError = h('p', { class: 'form-error', role: 'alert' });
  const pwSubmit = h('button', { type: 'submit' }, 'Change password');
  const pwForm = h('form', { class: 'password-form', 'aria-label': 'Change your password' }, oldPw.wrap, newPw.wrap, pwError, pwStatus,
    h('div', { class: 'actions' }, pwSubmit));
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    pwError.textContent = '';
    pwStatus.textContent = '';
    pwSubmit.disabled = true;
    try {
      const res = await conn.request('auth.password', { old_password: oldPw.input.value, password: newPw.input.value });
      oldPw.input.value = newPw.input.value = '';
      pwStatus.textContent = `Password changed. ${res.ended ? `${res.ended} other session(s) signed out.` : ''}`;
      load();
    } catch (err) {
      pwError.textContent = err.code === 'forbidden' ? 'The current password is not right.' : ctx.describeError(err);
    } finally {
      pwSubmit.disabled = false;
    }
  });

  root.append(h('section', { class: 'card account-security', 'aria-labelledby': 'security-title' },
    h('h2', { id: 'security-title' }, 'Sign-in and security'),
    h('h3', {}, 'Where you are signed in'), list, status, h('div', { class: 'actions' }, everywhere),
    h('h3', {}, 'Password'), pwForm));
  load();
  return () => { alive = false; };
}
