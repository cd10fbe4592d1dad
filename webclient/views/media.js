// views/media.js — #/videos: my lesson clips and those shared with me (media.list), uploading a clip in
// chunks with a progress bar that resumes after a failure (HTTP, upload.h: the session token goes in the
// Authorization header, never a URL), and sharing a clip with named people (media.share / media.unshare).
import { h, field, fill, formatTime, userZone } from '../dom.js';

// Bytes per PUT: small enough that a broken connection loses little, large enough to keep the line busy.
export const CHUNK_BYTES = 4 * 1024 * 1024;
const RETRIES = 8;

export function formatDuration(ms) {
  const s = Math.max(0, Math.floor((ms || 0) / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export function formatBytes(n) {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}

// An HTTP error answer ({code, message}) as an Error the views can describe.
async function httpError(res) {
  let body = {};
  try { body = await res.json(); } catch { /* not JSON */ }
  const err = new Error(body.message || `HTTP ${res.status}`);
  err.code = body.code || 'internal';
  err.status = res.status;
  err.offset = body.offset;
  return err;
}

// Uploads file (a File or Blob) as a clip titled title (kind 'file': a document for a library; the server
// checks either by its content). onProgress(sent, total) after each chunk. Retries a failed chunk from the
// offset the server says it has (HEAD) — after a broken connection, a server restart or a wrong offset — up
// to RETRIES times in a row with a growing pause. Resolves with the media object.
export async function uploadClip(token, file, title, onProgress = () => {}, { chunkBytes = CHUNK_BYTES, kind = 'clip' } = {}) {
  const auth = { authorization: `Bearer ${token}` };
  const made = await fetch('/media/uploads', {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title, size: file.size, kind }),
  });
  if (made.status !== 201) throw await httpError(made);
  const { id } = await made.json();
  let offset = 0;
  let failures = 0;
  onProgress(0, file.size);
  for (;;) {
    const end = Math.min(offset + chunkBytes, file.size);
    let res = null;
    try {
      res = await fetch(`/media/uploads/${id}`, {
        method: 'PUT', headers: { ...auth, 'content-range': `bytes ${offset}-${end - 1}/${file.size}` },
        body: file.slice(offset, end),
      });
    } catch { /* the network broke: resume below */ }
    if (res && res.status === 200) {
      const body = await res.json();
      failures = 0;
      if (body.media) { onProgress(file.size, file.size); return body.media; }
      offset = body.offset;
      onProgress(offset, file.size);
      continue;
    }
    if (res && ![400, 409, 500, 502, 503, 504].includes(res.status)) throw await httpError(res);
    if (res && res.status === 400) {
      const err = await httpError(res);
      if (err.code !== 'broken_upload') throw err;
    }
    if (++failures > RETRIES) throw Object.assign(new Error('The upload keeps failing; check the connection and try again'), { code: 'unavailable' });
    await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** failures, 8000)));
    try {
      const st = await fetch(`/media/uploads/${id}`, { headers: auth });
      if (st.status === 200) offset = (await st.json()).offset;
      else if (st.status === 404) throw await httpError(st);
    } catch (e) {
      if (e.code === 'not_found') throw e;
    }
    onProgress(offset, file.size);
  }
}

export function mountMedia(root, ctx) {
  const { conn } = ctx;
  let alive = true;
  const tz = userZone(conn.user);

  // ---- upload ----
  const title = field('Title', 'input', { name: 'title', maxlength: 200, required: true, placeholder: 'e.g. Year 9 starter, questioning' });
  const file = field('Video file (WebM or MP4)', 'input', { type: 'file', name: 'file', accept: 'video/webm,video/mp4', required: true });
  const progress = h('progress', { id: 'upload-progress', max: 100, value: 0, 'aria-label': 'Upload progress' });
  const progressText = h('span', { class: 'muted', 'aria-hidden': 'true' }, '');
  const progressWrap = h('div', { class: 'upload-progress', hidden: true }, progress, ' ', progressText);
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Upload');
  const form = h('form', { class: 'card upload-form', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload a lesson clip'),
    title.wrap, file.wrap, progressWrap, error, status, h('div', { class: 'actions' }, submit));

  file.input.addEventListener('change', () => {
    const f = file.input.files[0];
    if (f && !title.input.value) title.input.value = f.name.replace(/\.[^.]+$/, '').slice(0, 200);
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = file.input.files[0];
    error.textContent = '';
    status.textContent = '';
    if (!f) { error.textContent = 'Choose a video file first.'; return; }
    submit.disabled = true;
    progressWrap.hidden = false;
    progress.value = 0;
    status.textContent = `Uploading ${f.name}…`;
    try {
      const media = await uploadClip(conn.token, f, title.input.value.trim() || f.name, (sent, total) => {
        const pct = total ? Math.floor((sent / total) * 100) : 100;
        progress.value = pct;
        progressText.textContent = `${pct}% of ${formatBytes(total)}`;
      });
      status.textContent = `Uploaded “${media.title}”. It is private until you share it.`;
      form.reset();
      progressWrap.hidden = true;
      load();
    } catch (err) {
      error.textContent = err.message && err.code !== 'internal' ? err.message : ctx.describeError(err);
      status.textContent = '';
    } finally {
      submit.disabled = false;
    }
  });

  // ---- list ----
  const list = h('ul', { class: 'media-list', 'aria-labelledby': 'clips-title' });
  const listStatus = h('p', { class: 'muted', role: 'status' }, 'Loading…');

  function shareDialog(m, opener) {
    const who = field('Name of the person (their user name)', 'input', { name: 'user', maxlength: 64, autocomplete: 'off' });
    const msg = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
    const err = h('p', { class: 'form-error', role: 'alert' });
    const close = h('button', { type: 'button', class: 'secondary' }, 'Close');
    const share = h('button', { type: 'submit' }, 'Share');
    const unshare = h('button', { type: 'button', class: 'secondary' }, 'Stop sharing');
    const dlg = h('dialog', { class: 'share-dialog', 'aria-labelledby': `share-${m.id}` },
      h('form', { method: 'dialog' },
        h('h2', { id: `share-${m.id}` }, `Share “${m.title}”`),
        h('p', { class: 'muted' }, 'People you share a clip with can watch it and comment on it. You can take it back at any time.'),
        who.wrap, err, msg, h('div', { class: 'actions' }, share, unshare, close)));
    const act = async (type) => {
      err.textContent = '';
      msg.textContent = '';
      const user = who.input.value.trim();
      if (!user) { err.textContent = 'Enter a user name.'; return; }
      try {
        const r = await conn.request(type, { media: m.id, user });
        msg.textContent = type === 'media.share' ? (r.added ? `Shared with ${user}.` : `Already shared with ${user}.`) : `No longer shared with ${user}.`;
      } catch (e) {
        err.textContent = e.code === 'not_found' && e.field === 'user' ? e.message : ctx.describeError(e);
      }
    };
    dlg.querySelector('form').addEventListener('submit', (ev) => { ev.preventDefault(); act('media.share'); });
    unshare.addEventListener('click', () => act('media.unshare'));
    close.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); opener.focus(); });
    document.body.append(dlg);
    dlg.showModal();
    who.input.focus();
  }

  function item(m) {
    const mine = m.owner === conn.user?.id;
    const share = h('button', { type: 'button', class: 'small secondary', 'aria-label': `Share ${m.title}` }, 'Share');
    const del = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${m.title}` }, 'Delete');
    share.addEventListener('click', () => shareDialog(m, share));
    del.addEventListener('click', async () => {
      if (!window.confirm(`Delete “${m.title}” and its comments? This cannot be undone.`)) return;
      try {
        await conn.request('media.delete', { media: m.id });
        ctx.announce(`Deleted ${m.title}`);
        load();
      } catch (e) { ctx.showError(e); }
    });
    return h('li', { class: 'card media-item' },
      h('a', { href: `#/media/${m.id}`, class: 'media-title' }, m.title || 'Untitled clip'),
      h('span', { class: 'muted' }, ` ${formatDuration(m.duration_ms)} · ${formatBytes(m.bytes)} · ${formatTime(m.created_at, tz)}${mine ? '' : ' · shared with you'}`),
      mine ? h('div', { class: 'actions' }, share, del) : null);
  }

  async function load() {
    try {
      const res = await conn.request('media.list', {});
      if (!alive) return;
      const clips = res.media.filter((m) => m.kind === 'clip'); // recordings have their own view (record.js)
      fill(list, clips.map(item));
      listStatus.textContent = clips.length ? '' : 'No clips yet. Upload one above.';
    } catch (e) {
      if (alive) listStatus.textContent = ctx.describeError(e);
    }
  }

  root.append(h('section', { class: 'videos' },
    h('h1', {}, 'Videos'),
    h('p', { class: 'muted' }, 'Record a lesson, upload it, and share it with a mentor or a colleague for feedback at the moments that matter.'),
    form,
    h('h2', { id: 'clips-title' }, 'My clips and clips shared with me'),
    listStatus, list));
  load();
  return () => { alive = false; };
}
