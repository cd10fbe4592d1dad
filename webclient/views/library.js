// views/library.js — #/circle/<cid>/library: the circle's library of good practice (library.* requests,
// PROTOCOL.md). Search by words, filter by tag chips, newest or most useful first, "more" by cursor; mark
// an item useful; publish one of my clips or a link; withdraw my own (a moderator may withdraw any: the
// server decides and says so). Clips open in the player (#/media/<id>), which checks access itself.
import { h, field, fill, formatTime, userZone } from '../dom.js';
import { formatDuration } from './media.js';

// "Questioning, KS3 behaviour" → ['questioning', 'ks3', 'behaviour'] (the server's tag rule: a-z 0-9 -).
export function parseTags(text) {
  return [...new Set(String(text).toLowerCase().split(/[\s,]+/).map((t) => t.replace(/[^a-z0-9-]/g, '')).filter(Boolean))].slice(0, 8);
}

export function mountLibrary(root, ctx, { circle }) {
  const { conn } = ctx;
  const tz = userZone(conn.user);
  let alive = true;
  let sort = 'newest';
  let cursor = null;
  const chosen = new Set(); // tag chips switched on

  // ---- search ----
  const query = field('Search the library', 'input', { type: 'search', name: 'query', maxlength: 200, placeholder: 'e.g. hinge questions' });
  const sortSel = field('Order', 'select', { name: 'sort' }, [{ value: 'newest', label: 'Newest first' }, { value: 'useful', label: 'Most useful first' }]);
  const searchForm = h('form', { class: 'library-search', role: 'search', 'aria-label': 'Library search' },
    query.wrap, sortSel.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')));
  const chips = h('div', { class: 'tag-chips', role: 'group', 'aria-label': 'Filter by tag' });
  const list = h('ul', { class: 'library-list', 'aria-labelledby': 'library-items-title' });
  const listStatus = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' }, 'Loading…');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more');

  function renderChips(items) {
    const tags = new Set(chosen);
    for (const it of items) for (const t of it.tags) tags.add(t);
    fill(chips, [...tags].sort().map((t) => {
      const b = h('button', { type: 'button', class: 'chip small secondary', 'aria-pressed': chosen.has(t) ? 'true' : 'false' }, `#${t}`);
      b.addEventListener('click', () => { if (chosen.has(t)) chosen.delete(t); else chosen.add(t); load(); });
      return b;
    }));
  }

  function item(it) {
    const mine = it.author === conn.user?.id;
    const useful = h('button', { type: 'button', class: 'small secondary', 'aria-pressed': it.marked ? 'true' : 'false',
      'aria-label': `Useful · ${it.useful}: ${it.title}` }, `Useful · ${it.useful}`);
    useful.addEventListener('click', async () => {
      try {
        const r = await conn.request('library.useful', { item: it.id, useful: !it.marked });
        it.marked = r.marked;
        it.useful = r.useful;
        useful.setAttribute('aria-pressed', it.marked ? 'true' : 'false');
        useful.setAttribute('aria-label', `Useful · ${it.useful}: ${it.title}`);
        useful.textContent = `Useful · ${it.useful}`;
      } catch (e) { ctx.showError(e); }
    });
    const withdraw = h('button', { type: 'button', class: 'small danger', 'aria-label': `Withdraw ${it.title}` }, 'Withdraw');
    withdraw.addEventListener('click', async () => {
      if (!window.confirm(`Withdraw “${it.title}” from the library?`)) return;
      try {
        await conn.request('library.withdraw', { item: it.id });
        ctx.announce(`Withdrew ${it.title}`);
        load();
      } catch (e) { ctx.showError(e); }
    });
    const link = it.kind === 'link'
      ? h('a', { href: it.url, class: 'library-title', rel: 'noopener noreferrer', target: '_blank' }, it.title)
      : h('a', { href: `#/media/${it.media}`, class: 'library-title' }, it.title);
    const facts = [it.kind === 'link' ? 'link' : `clip ${formatDuration(it.duration_ms)}`, it.subject, it.phase, formatTime(it.created_at, tz)]
      .filter(Boolean).join(' · ');
    return h('li', { class: 'card library-item' }, link, h('p', { class: 'muted' }, facts),
      it.description ? h('p', {}, it.description) : null,
      it.tags.length ? h('p', { class: 'muted' }, it.tags.map((t) => `#${t}`).join(' ')) : null,
      h('div', { class: 'actions' }, useful, mine ? withdraw : null));
  }

  async function load(append = false) {
    if (!append) cursor = null;
    const fields = { circle, sort, query: query.input.value.trim(), tags: [...chosen] };
    if (cursor) fields.cursor = cursor;
    try {
      const r = await conn.request('library.list', fields);
      if (!alive) return;
      if (append) list.append(...r.items.map(item));
      else fill(list, r.items.map(item));
      cursor = r.cursor || null;
      more.hidden = !cursor;
      if (!append) renderChips(r.items);
      listStatus.textContent = list.children.length ? '' : 'Nothing here yet. Publish a clip or a link below.';
    } catch (e) {
      if (alive) listStatus.textContent = ctx.describeError(e);
    }
  }
  searchForm.addEventListener('submit', (ev) => { ev.preventDefault(); sort = sortSel.input.value; load(); });
  sortSel.input.addEventListener('change', () => { sort = sortSel.input.value; load(); });
  more.addEventListener('click', () => load(true));

  // ---- publish ----
  const what = field('What to publish', 'select', { name: 'what' }, [{ value: '', label: 'A link' }]);
  const url = field('Link (https://…)', 'input', { type: 'url', name: 'url', maxlength: 2000 });
  const title = field('Title', 'input', { name: 'title', maxlength: 200, required: true });
  const description = field('Description', 'textarea', { name: 'description', maxlength: 4000, rows: 3 });
  const subject = field('Subject', 'input', { name: 'subject', maxlength: 100, placeholder: 'e.g. Mathematics' });
  const phase = field('Phase', 'input', { name: 'phase', maxlength: 100, placeholder: 'e.g. secondary' });
  const tags = field('Tags (separated by commas)', 'input', { name: 'tags', maxlength: 300, placeholder: 'e.g. questioning, ks3' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const pubForm = h('form', { class: 'card library-publish', 'aria-labelledby': 'library-publish-title' },
    h('h2', { id: 'library-publish-title' }, 'Publish to the library'),
    what.wrap, url.wrap, title.wrap, description.wrap, subject.wrap, phase.wrap, tags.wrap, error,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Publish')));
  what.input.addEventListener('change', () => { url.wrap.hidden = Boolean(what.input.value); });
  pubForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const fields = { circle, title: title.input.value.trim(), description: description.input.value.trim(),
      subject: subject.input.value.trim(), phase: phase.input.value.trim(), tags: parseTags(tags.input.value) };
    if (what.input.value) fields.media = what.input.value;
    else fields.url = url.input.value.trim();
    try {
      const r = await conn.request('library.publish', fields);
      ctx.announce(`Published ${r.item.title}`);
      pubForm.reset();
      url.wrap.hidden = false;
      load();
    } catch (e) {
      error.textContent = e.field ? `${e.field}: ${e.message}` : ctx.describeError(e);
    }
  });
  conn.request('media.list', {}).then((r) => {
    if (!alive) return;
    for (const m of r.media.filter((x) => x.owner === conn.user?.id && x.kind === 'clip'))
      what.input.append(h('option', { value: m.id }, `My clip: ${m.title || 'Untitled clip'}`));
  }).catch(() => { /* publishing a link still works */ });

  const onEvent = () => { if (alive) load(); };
  for (const t of ['library.published', 'library.withdrawn']) conn.addEventListener(t, onEvent);

  root.append(h('section', { class: 'library' },
    h('h1', {}, 'Library'),
    h('p', {}, h('a', { href: `#/circle/${encodeURIComponent(circle)}` }, 'Back to the circle')),
    searchForm, chips,
    h('h2', { id: 'library-items-title' }, 'Resources'), listStatus, list, more, pubForm));
  load();
  return () => {
    alive = false;
    for (const t of ['library.published', 'library.withdrawn']) conn.removeEventListener(t, onEvent);
  };
}
