// views/player.js — #/media/<id>: one clip in an HTML5 player (its signed URL from media.get; the server
// answers Range requests, so the player seeks) with its time-coded comments beside it (comment.list):
// clicking a comment seeks the player to its time, the timeline under the video marks where comments
// are, and a form adds a comment at the player's current time. Comments from others arrive as events.
import { h, fill } from '../dom.js';
import { formatDuration } from './media.js';

const TAGS = [
  { value: '', label: 'No tag' },
  { value: 'questioning', label: 'Questioning' },
  { value: 'behaviour', label: 'Behaviour' },
  { value: 'pace', label: 'Pace' },
  { value: 'strength', label: 'Strength' },
  { value: 'next_step', label: 'Next step' },
];
const tagLabel = (t) => TAGS.find((x) => x.value === t)?.label || '';

export function mountPlayer(root, ctx, { media: id }) {
  const { conn } = ctx;
  let alive = true;
  let media = null;
  let comments = [];
  let replyTo = null; // the comment being answered (the form's next comment is a reply at its time)

  const heading = h('h1', { id: 'player-title' }, 'Clip');
  const video = h('video', { controls: true, preload: 'metadata', class: 'player-video', 'aria-labelledby': 'player-title' });
  const timeline = h('div', { class: 'timeline', 'aria-hidden': 'true' });
  const list = h('ol', { class: 'comment-list', 'aria-label': 'Comments by time' });
  const listStatus = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert' });

  const text = h('textarea', { id: 'comment-text', name: 'text', rows: 3, maxlength: 2000, required: true });
  const tag = h('select', { id: 'comment-tag', name: 'tag' }, TAGS.map((t) => h('option', { value: t.value }, t.label)));
  const at = h('span', { class: 'comment-at' }, '0:00');
  const add = h('button', { type: 'submit' }, 'Add comment at ', at);
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const replying = h('p', { class: 'muted replying', hidden: true });
  const cancelReply = h('button', { type: 'button', class: 'link' }, 'Cancel reply');
  cancelReply.addEventListener('click', () => setReply(null));
  const form = h('form', { class: 'comment-form', 'aria-label': 'Add a comment' },
    h('div', { class: 'replying-wrap' }, replying, cancelReply),
    h('div', { class: 'field' }, h('label', { for: 'comment-text' }, 'Comment'), text),
    h('div', { class: 'field' }, h('label', { for: 'comment-tag' }, 'Tag'), tag),
    formError, h('div', { class: 'actions' }, add));

  const updateAt = () => { at.textContent = formatDuration(video.currentTime * 1000); };
  video.addEventListener('timeupdate', updateAt);
  video.addEventListener('seeked', updateAt);
  video.addEventListener('error', async () => {
    // The signed URL may have expired while the page stayed open: fetch a fresh one once.
    if (!alive || !media || video.dataset.retried) return;
    video.dataset.retried = '1';
    try {
      const res = await conn.request('media.get', { media: id });
      const t = video.currentTime;
      video.src = res.media.url;
      video.currentTime = t;
    } catch (e) { error.textContent = ctx.describeError(e); }
  });

  function setReply(c) {
    replyTo = c;
    replying.hidden = !c;
    cancelReply.hidden = !c;
    replying.textContent = c ? `Replying to ${c.author?.display_name || 'a comment'} at ${formatDuration(c.at_ms)}` : '';
    if (c) text.focus();
  }
  setReply(null);

  function seek(ms) {
    video.currentTime = ms / 1000;
    updateAt();
  }

  function duration() {
    return media?.duration_ms || (Number.isFinite(video.duration) ? video.duration * 1000 : 0);
  }

  function renderTimeline() {
    const d = duration();
    fill(timeline, d ? comments.map((c) => {
      const mark = h('span', { class: `timeline-mark${c.tag ? ` tag-${c.tag}` : ''}`, title: `${formatDuration(c.at_ms)} ${c.text}` });
      mark.style.left = `${Math.min(100, (c.at_ms / d) * 100)}%`; // CSSOM, which the CSP allows (no style attribute)
      mark.addEventListener('click', () => seek(c.at_ms));
      return mark;
    }) : []);
  }

  function render() {
    comments.sort((a, b) => a.at_ms - b.at_ms || a.created_at - b.created_at);
    // each reply right under the comment it answers
    const top = comments.filter((c) => !c.reply_to || !comments.some((p) => p.id === c.reply_to));
    const ordered = top.flatMap((c) => [c, ...comments.filter((r) => r.reply_to === c.id)]);
    fill(list, ordered.map((c) => {
      const when = `${formatDuration(c.at_ms)}${c.end_ms ? `–${formatDuration(c.end_ms)}` : ''}`;
      const jump = h('button', { type: 'button', class: 'comment-seek', dataset: { at: c.at_ms },
        'aria-label': `Play from ${when}: ${c.text}` }, when);
      jump.addEventListener('click', () => { seek(c.at_ms); video.focus(); });
      const mine = c.author?.id === conn.user?.id;
      const reply = c.reply_to ? null : h('button', { type: 'button', class: 'link', 'aria-label': `Reply to the comment at ${when}` }, 'Reply');
      reply?.addEventListener('click', () => setReply(c));
      const del = mine ? h('button', { type: 'button', class: 'link danger', 'aria-label': `Delete your comment at ${when}` }, 'Delete') : null;
      del?.addEventListener('click', async () => {
        try { await conn.request('comment.delete', { comment: c.id }); remove(c.id); } catch (e) { ctx.showError(e); }
      });
      return h('li', { class: `comment${c.reply_to ? ' reply' : ''}`, dataset: { id: c.id } },
        jump, ' ',
        c.tag ? h('span', { class: `tag tag-${c.tag}` }, tagLabel(c.tag)) : null, ' ',
        h('span', { class: 'comment-text' }, c.text),
        h('span', { class: 'muted comment-by' }, ` — ${c.author?.display_name || 'someone'}${c.edited ? ' (edited)' : ''}`),
        reply, del);
    }));
    listStatus.textContent = comments.length ? '' : 'No comments yet. Pause at a moment that matters and add one.';
    renderTimeline();
  }

  function upsert(c) {
    const i = comments.findIndex((x) => x.id === c.id);
    if (i >= 0) comments[i] = c; else comments.push(c);
    render();
  }
  function remove(cid) {
    comments = comments.filter((x) => x.id !== cid && x.reply_to !== cid);
    render();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError.textContent = '';
    const fields = { media: id, at_ms: Math.round(video.currentTime * 1000), text: text.value.trim() };
    if (tag.value) fields.tag = tag.value;
    if (replyTo) { fields.reply_to = replyTo.id; fields.at_ms = replyTo.at_ms; }
    if (!fields.text) { formError.textContent = 'Write a comment first.'; return; }
    add.disabled = true;
    try {
      const res = await conn.request('comment.add', fields);
      upsert(res.comment);
      text.value = '';
      setReply(null);
      ctx.announce(`Comment added at ${formatDuration(fields.at_ms)}`);
    } catch (e) {
      formError.textContent = ctx.describeError(e);
    } finally {
      add.disabled = false;
    }
  });

  // comment.list answers with a snapshot and the comment events travel another way (Redis pub/sub): a
  // comment added, edited or deleted just after the snapshot was taken can arrive as an event before the
  // answer, which would then drop it, bring back its old text or bring it back. So the events that come
  // while the list is on its way are kept (`early`) and done again on the answer; each carries the whole
  // comment or its deletion, so doing one the snapshot already includes changes nothing.
  let early = []; // [[upsert|remove, comment or id]…] until comment.list answered; then null
  const onAdded = (ev) => { if (ev.detail.media === id) { early?.push([upsert, ev.detail.comment]); upsert(ev.detail.comment); } };
  const onDeleted = (ev) => { if (ev.detail.media === id) { early?.push([remove, ev.detail.comment]); remove(ev.detail.comment); } };
  conn.addEventListener('comment.added', onAdded);
  conn.addEventListener('comment.edited', onAdded);
  conn.addEventListener('comment.deleted', onDeleted);
  video.addEventListener('loadedmetadata', renderTimeline);

  root.append(h('section', { class: 'player' },
    h('p', {}, h('a', { href: '#/videos' }, '← All videos')),
    heading, error,
    h('div', { class: 'player-layout' },
      h('div', { class: 'player-main' }, video, timeline, form),
      h('aside', { class: 'player-comments', 'aria-labelledby': 'comments-title' },
        h('h2', { id: 'comments-title' }, 'Comments'), listStatus, list))));

  (async () => {
    try {
      const [m, c] = await Promise.all([conn.request('media.get', { media: id }), conn.request('comment.list', { media: id })]);
      if (!alive) return;
      media = m.media;
      heading.textContent = media.title || 'Untitled clip';
      document.title = `${heading.textContent} — Staffroom`;
      video.src = media.url;
      comments = c.comments;
      for (const [again, what] of early) again(what); // each renders
      early = null;
      render();
    } catch (e) {
      early = null;
      if (!alive) return;
      heading.textContent = 'Clip not available';
      error.textContent = e.code === 'not_found' ? 'This clip does not exist, or it is not shared with you.' : ctx.describeError(e);
      form.hidden = true;
    }
  })();

  return () => {
    alive = false;
    conn.removeEventListener('comment.added', onAdded);
    conn.removeEventListener('comment.edited', onAdded);
    conn.removeEventListener('comment.deleted', onDeleted);
    video.removeAttribute('src');
    video.load();
  };
}
