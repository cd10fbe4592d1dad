// views/search.js — search the chat of every circle the user is a member of (chat.search): a search box with
// an optional circle filter, results with the highlighted snippet, circle and channel, author and time, and
// "More results" (the cursor). A result opens the channel on that message, in context
// (#/circle/<cid>/<channel>/<message id>: chat.js loads the history around it). The query is kept in the
// hash (#/search/<query>) so Back returns to the results.
import { h, fill, field, formatTime, userZone, avatar } from '../dom.js';

// The snippet's matches come between « and » (PROTOCOL.md): text nodes with <mark> around the matches —
// the text itself never becomes HTML.
export function snippetNodes(snippet) {
  const out = [];
  const re = /«([^»]*)»/g;
  let last = 0;
  let m;
  while ((m = re.exec(snippet))) {
    if (m.index > last) out.push(snippet.slice(last, m.index));
    out.push(h('mark', {}, m[1]));
    last = m.index + m[0].length;
  }
  if (last < snippet.length) out.push(snippet.slice(last));
  return out;
}

export function mountSearch(el, ctx, { query = '' } = {}) {
  const { conn } = ctx;
  let alive = true;
  let cursor = null;
  let current = null; // the fields of the search shown
  const circles = new Map(); // id -> circle (mine)
  const channels = new Map(); // circle id -> Promise<Map(channel id -> channel)>

  const q = field('Search messages', 'input', { type: 'search', name: 'query', maxlength: 200, value: query,
    placeholder: 'words, "a phrase", -not, photosynth*', autocomplete: 'off' });
  const scope = field('In', 'select', { name: 'circle' }, [{ value: '', label: 'All my circles' }]);
  const submit = h('button', { type: 'submit' }, 'Search');
  const form = h('form', { class: 'search-form', role: 'search', 'aria-label': 'Search the chat' }, q.wrap, scope.wrap, submit);
  const status = h('p', { class: 'muted search-status', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('ol', { class: 'search-results', 'aria-label': 'Results' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More results');
  fill(el, h('h1', {}, 'Search'), form, error, status, list, more);

  const channelsOf = (cid) => {
    if (!channels.has(cid)) {
      channels.set(cid, conn.request('channel.list', { circle: cid })
        .then((r) => new Map(r.channels.map((c) => [c.id, c])))
        .catch(() => new Map()));
    }
    return channels.get(cid);
  };

  async function loadCircles() {
    try {
      const res = await conn.request('circle.list', { mine: true, limit: 100 });
      if (!alive) return;
      for (const c of res.circles) {
        circles.set(c.id, c);
        scope.input.append(h('option', { value: c.id }, c.name));
      }
    } catch { /* the filter is optional: "All my circles" still works */ }
  }

  async function row(r) {
    const m = r.message;
    const chans = await channelsOf(r.circle);
    const ch = chans.get(m.channel);
    const where = `${circles.get(r.circle)?.name || 'A circle'} › #${ch?.name || 'channel'}`;
    const who = m.user?.display_name || m.user?.name || 'someone';
    const href = `#/circle/${encodeURIComponent(r.circle)}/${encodeURIComponent(m.channel)}/${encodeURIComponent(m.id)}`;
    return h('li', { class: 'search-result card', dataset: { id: m.id } },
      h('a', { class: 'result-link', href },
        h('span', { class: 'result-where' }, where)),
      h('p', { class: 'result-meta' }, avatar(m.user, { size: 's' }), h('strong', {}, who), ' · ',
        h('time', { datetime: new Date(m.ts).toISOString() }, formatTime(m.ts, userZone(conn.user)))),
      h('p', { class: 'result-snippet' }, ...snippetNodes(r.snippet || m.text || '')));
  }

  async function run(fields, append) {
    submit.disabled = true;
    more.disabled = true;
    error.textContent = '';
    if (!append) status.textContent = 'Searching…';
    try {
      const res = await conn.request('chat.search', { ...fields, limit: 20, ...(append && cursor ? { cursor } : {}) });
      if (!alive) return;
      const rows = await Promise.all(res.results.map(row));
      if (!alive) return;
      if (append) list.append(...rows);
      else list.replaceChildren(...rows);
      cursor = res.cursor || null;
      more.hidden = !cursor;
      const n = list.children.length;
      status.textContent = n === 0 ? 'No messages found.' : `${n} result${n === 1 ? '' : 's'}${cursor ? ' so far' : ''}.`;
    } catch (err) {
      if (!alive) return;
      status.textContent = '';
      error.textContent = `Search failed: ${ctx.describeError(err)}`;
    } finally {
      submit.disabled = false;
      more.disabled = false;
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = q.input.value.trim();
    if (!text) { error.textContent = 'Type what to look for.'; q.input.focus(); return; }
    current = { query: text, ...(scope.input.value ? { circle: scope.input.value } : {}) };
    cursor = null;
    history.replaceState(null, '', `#/search/${encodeURIComponent(text)}`);
    run(current, false);
  });
  more.addEventListener('click', () => { if (current) run(current, true); });

  loadCircles().then(() => {
    if (alive && query) form.requestSubmit();
  });
  q.input.focus();

  return () => { alive = false; };
}
