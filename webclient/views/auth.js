// views/auth.js — sign in and sign up (a new account takes the browser's time zone).
import { h, field } from '../dom.js';

export function mountAuth(root, ctx, { mode }) {
  const signup = mode === 'signup';
  const error = h('p', { class: 'form-error', role: 'alert' });
  const name = field('User name', 'input', {
    name: 'name', autocomplete: 'username', required: true, minlength: signup ? 3 : undefined, maxlength: 32,
    pattern: signup ? '[A-Za-z0-9_.\\-]{3,32}' : undefined,
    'aria-describedby': signup ? 'name-hint' : undefined,
  });
  const display = signup ? field('Display name (shown to others)', 'input', { name: 'display_name', autocomplete: 'name', maxlength: 64 }) : null;
  const password = field('Password', 'input', {
    name: 'password', type: 'password', required: true, autocomplete: signup ? 'new-password' : 'current-password',
    minlength: signup ? 8 : undefined, maxlength: 256,
  });
  const submit = h('button', { type: 'submit' }, signup ? 'Create account' : 'Sign in');

  const form = h('form', { class: 'card auth-form', 'aria-labelledby': 'auth-title' },
    name.wrap,
    signup ? h('p', { id: 'name-hint', class: 'hint' }, '3–32 letters, digits, dots, dashes or underscores.') : null,
    display?.wrap,
    password.wrap,
    signup ? h('p', { class: 'hint' }, 'At least 8 characters.') : null,
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      if (signup) {
        const fields = { name: name.input.value.trim(), password: password.input.value };
        const dn = display.input.value.trim();
        if (dn) fields.display_name = dn;
        await ctx.conn.register(fields);
        // The browser's time zone becomes the profile's (editable there), so every time shown is local.
        const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
        if (tz && tz !== ctx.conn.user?.tz) {
          try {
            ctx.conn.user = (await ctx.conn.request('profile.update', { tz })).user;
          } catch { /* the profile page still offers it; times fall back to the browser's zone */ }
        }
      } else {
        await ctx.conn.login(name.input.value.trim(), password.input.value);
      }
      ctx.signedIn();
    } catch (err) {
      error.textContent = ctx.describeError(err, signup
        ? { conflict: 'That user name is already taken — please choose another.' }
        : { unauthorized: 'Wrong user name or password.', suspended: 'This account is suspended. Please contact an administrator.' });
      submit.disabled = false;
      password.input.focus();
    }
  });

  root.append(
    h('section', { class: 'auth' },
      h('h1', { id: 'auth-title' }, signup ? 'Create your Staffroom account' : 'Sign in to Staffroom'),
      h('p', { class: 'lead' }, 'Teachers from different schools, helping each other live.'),
      form,
      signup
        ? h('p', {}, 'Already have an account? ', h('a', { href: '#/signin' }, 'Sign in'))
        : h('p', {}, 'New here? ', h('a', { href: '#/signup' }, 'Create an account'))));
  name.input.focus();
  return () => {};
}
