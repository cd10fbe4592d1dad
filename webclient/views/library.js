// views/library.js — #/circle/<cid>/library: the circle's library of good practice (library.* requests,
// PROTOCOL.md). Search by words, filter by tag chips, newest or most useful first, "more" by cursor; mark
// an item useful; publish one of my clips or documents, or a link; add a document (PDF, OpenDocument,
// Office) by uploading it here; withdraw my own (a moderator may withdraw any: the server decides and says
// so). Clips open in the player (#/media/<id>), which checks access itself; a document is downloaded through
// a short-lived URL from media.get (the server checks access again and sends it as an attachment).
import { h, field, fill, formatTime, userZone } from '../dom.js';
import { formatDuration, formatBytes, uploadClip } from './media.js';

// What the file picker offers; the server decides by content whatever is chosen.
const DOCUMENT_TYPES = '.pdf,.odt,.odp,.ods,.docx,.pptx,.xlsx,application/pdf,application/vnd.oasis.opendocument.text,'
  + 'application/vnd.oasis.opendocument.presentation,application/vnd.oasis.opendocument.spreadsheet,'
  + 'application/vnd.openxmlformats-officedocument.wordprocessingml.document,'
  + 'application/vnd.openxmlformats-officedocument.presentationml.presentation,'
  + 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

// Fetches a fresh file URL for media id and lets the browser download it (the answer is an attachment).
async function download(conn, id) {
  const { media } = await conn.request('media.get', { media: id });
  const a = h('a', { href: media.url, download: '', hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

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
    const doc = it.kind === 'file';
    const format = doc ? (it.format || 'file').toUpperCase() : '';
    let link;
    if (it.kind === 'link') link = h('a', { href: it.url, class: 'library-title', rel: 'noopener noreferrer', target: '_blank' }, it.title);
    else if (doc) link = h('span', { class: 'library-title' }, it.title);
    else link = h('a', { href: `#/media/${it.media}`, class: 'library-title' }, it.title);
    let get = null;
    if (doc) {
      get = h('button', { type: 'button', class: 'small', 'aria-label': `Download ${format}: ${it.title} (${formatBytes(it.bytes)})` }, `Download ${format}`);
      get.addEventListener('click', async () => {
        try {
          await download(conn, it.media);
          ctx.announce(`Downloading ${it.title}`);
        } catch (e) { ctx.showError(e); }
      });
    }
    let kindText = `clip ${formatDuration(it.duration_ms)}`;
    if (it.kind === 'link') kindText = 'link';
    else if (doc) kindText = `${format} document, ${formatBytes(it.bytes)}`;
    const facts = [kindText, it.subject, it.phase, formatTime(it.created_at, tz)].filter(Boolean).join(' · ');
    return h('li', { class: 'card library-item' }, link, h('p', { class: 'muted' }, facts),
      it.description ? h('p', {}, it.description) : null,
      it.tags.length ? h('p', { class: 'muted' }, it.tags.map((t) => `#${t}`).join(' ')) : null,
      h('div', { class: 'actions' }, get, useful, mine ? withdraw : null));
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
      listStatus.textContent = list.children.length ? '' : 'Nothing here yet. Add a file, or publish a clip or a link below.';
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
    for (const m of r.media.filter((x) => x.owner === conn.user?.id && (x.kind === 'clip' || x.kind === 'file'))) {
      const label = m.kind === 'clip' ? `My clip: ${m.title || 'Untitled clip'}` : `My document: ${m.title} (${(m.meta?.format || '').toUpperCase()})`;
      what.input.append(h('option', { value: m.id }, label));
    }
  }).catch(() => { /* publishing a link still works */ });

  // ---- add a file: upload a document, then publish it here ----
  // (labels differ from the publish form's so that each names one control)
  const docFile = field('Document (PDF, OpenDocument or Office)', 'input', { type: 'file', name: 'document', accept: DOCUMENT_TYPES, required: true });
  const docName = field('Name of the document', 'input', { name: 'doc-title', maxlength: 200, required: true, placeholder: 'e.g. Year 9 fractions plan' });
  const docAbout = field('What it is for', 'textarea', { name: 'doc-description', maxlength: 4000, rows: 3 });
  const docSubject = field('Document subject', 'input', { name: 'doc-subject', maxlength: 100, placeholder: 'e.g. Mathematics' });
  const docPhase = field('Document phase', 'input', { name: 'doc-phase', maxlength: 100, placeholder: 'e.g. secondary' });
  const docTags = field('Document tags, separated by commas', 'input', { name: 'doc-tags', maxlength: 300, placeholder: 'e.g. plans, ks3' });
  const docProgress = h('progress', { max: 100, value: 0, 'aria-label': 'Document upload progress' });
  const docProgressText = h('span', { class: 'muted', 'aria-hidden': 'true' }, '');
  const docProgressWrap = h('div', { class: 'upload-progress', hidden: true }, docProgress, ' ', docProgressText);
  const docStatus = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const docError = h('p', { class: 'form-error', role: 'alert' });
  const docSubmit = h('button', { type: 'submit' }, 'Upload and add');
  const docForm = h('form', { class: 'card library-add-file', 'aria-labelledby': 'library-add-file-title' },
    h('h2', { id: 'library-add-file-title' }, 'Add a file'),
    h('p', { class: 'muted' }, 'Lesson plans, slides and worksheets: PDF, OpenDocument (odt, odp, ods) or Office (docx, pptx, xlsx). Members of this circle can download it.'),
    docFile.wrap, docName.wrap, docAbout.wrap, docSubject.wrap, docPhase.wrap, docTags.wrap, docProgressWrap, docError, docStatus,
    h('div', { class: 'actions' }, docSubmit));
  docFile.input.addEventListener('change', () => {
    const f = docFile.input.files[0];
    if (f && !docName.input.value) docName.input.value = f.name.replace(/\.[^.]+$/, '').slice(0, 200);
  });
  docForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = docFile.input.files[0];
    docError.textContent = '';
    docStatus.textContent = '';
    if (!f) { docError.textContent = 'Choose a document first.'; return; }
    const name = docName.input.value.trim() || f.name;
    docSubmit.disabled = true;
    docProgressWrap.hidden = false;
    docProgress.value = 0;
    docStatus.textContent = `Uploading ${f.name}…`;
    try {
      const media = await uploadClip(conn.token, f, name, (sent, total) => {
        const pct = total ? Math.floor((sent / total) * 100) : 100;
        docProgress.value = pct;
        docProgressText.textContent = `${pct}% of ${formatBytes(total)}`;
      }, { kind: 'file' });
      const r = await conn.request('library.publish', { circle, media: media.id, title: name,
        description: docAbout.input.value.trim(), subject: docSubject.input.value.trim(), phase: docPhase.input.value.trim(),
        tags: parseTags(docTags.input.value) });
      docStatus.textContent = `Added “${r.item.title}” to the library.`;
      ctx.announce(`Added ${r.item.title}`);
      docForm.reset();
      docProgressWrap.hidden = true;
      load();
    } catch (e) {
      docError.textContent = e.field ? `${e.field}: ${e.message}` : (e.message && e.code !== 'internal' ? e.message : ctx.describeError(e));
      docStatus.textContent = '';
      docProgressWrap.hidden = true;
    } finally {
      docSubmit.disabled = false;
    }
  });

  const onEvent = () => { if (alive) load(); };
  for (const t of ['library.published', 'library.withdrawn']) conn.addEventListener(t, onEvent);

  root.append(h('section', { class: 'library' },
    h('h1', {}, 'Library'),
    h('p', {}, h('a', { href: `#/circle/${encodeURIComponent(circle)}` }, 'Back to the circle')),
    searchForm, chips,
    h('h2', { id: 'library-items-title' }, 'Resources'), listStatus, list, more, docForm, pubForm));
  load();
  return () => {
    alive = false;
    for (const t of ['library.published', 'library.withdrawn']) conn.removeEventListener(t, onEvent);
  };
}
