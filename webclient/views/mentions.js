// views/mentions.js — @mentions: whether a message names the signed-in user (chat.js marks those), and
// the banner an incoming chat.mention shows on every view (who, where, the start of the message, a link
// to the channel). The server sends chat.mention only to members of the circle, and keeps it for a user
// who was offline until the next sign-in. Mounted once (app.js).
import { h } from '../dom.js';
import { noticeStrip } from '../toast.js';
import { circleMembers } from '../protocol.js';

const SHOWN_MS = 20000; // a mention stays this long, then goes by itself

const nameOf = (u) => u?.display_name || u?.name || 'Someone';

// True if text has @name (any case) as a whole word.
export function mentionsMe(text, name) {
  if (!text || !name) return false;
  const esc = name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`(^|[^\\w.-])@${esc}(?![\\w-]|\\.[\\w])`, 'i').test(text);
}

export function mountMentions(ctx) {
  const { conn } = ctx;
  const layer = h('div', { class: 'mentions', role: 'region', 'aria-label': 'Mentions' });
  noticeStrip().append(layer);
  conn.addEventListener('chat.mention', (ev) => {
    const { circle, channel, message, by } = ev.detail;
    if (!message?.id || layer.querySelector(`[data-message="${message.id}"]`)) return;
    const text = message.text.length > 140 ? `${message.text.slice(0, 140)}…` : message.text;
    const open = h('a', { class: 'button small', href: `#/circle/${encodeURIComponent(circle)}/${encodeURIComponent(channel)}` }, 'Open');
    const dismiss = h('button', { type: 'button', class: 'secondary small' }, 'Dismiss');
    const el = h('div', { class: 'mention card', role: 'alert', dataset: { message: message.id } },
      h('p', {}, h('strong', {}, `${nameOf(by)} mentioned you`), `: “${text}”`),
      h('div', { class: 'actions' }, open, dismiss));
    open.addEventListener('click', () => el.remove());
    dismiss.addEventListener('click', () => el.remove());
    layer.append(el);
    setTimeout(() => el.remove(), SHOWN_MS);
    while (layer.children.length > 3) layer.firstChild.remove(); // the latest few, not a wall
  });
}

// The one-line text of a notification history item (notifications.list), whatever its kind.
export function mentionText(n) {
  const m = n.event;
  return `${nameOf(m.by)} mentioned you: “${m.message.text.slice(0, 100)}”`;
}

// @mention autocomplete on a composer: typing "@" and letters lists the circle's members whose display name
// or user name starts a word with them; ↑/↓ choose, Enter or Tab inserts "@username ", Escape closes. The
// textarea is the combobox (aria-autocomplete="list", aria-activedescendant on the highlighted option).
// Returns its cleanup.
let menuSeq = 0;
export function attachMentionAutocomplete(textarea, ctx, { circle }) {
  const { conn } = ctx;
  const menuId = `mention-menu-${++menuSeq}`;
  const menu = h('ul', { class: 'mention-menu', id: menuId, role: 'listbox', 'aria-label': 'People to mention', hidden: true });
  textarea.closest('form')?.append(menu);
  textarea.setAttribute('aria-autocomplete', 'list');
  textarea.setAttribute('aria-controls', menuId);
  let people = null; // [{ id, name, display_name }]
  let loading = null;
  let choices = [];
  let active = 0;
  let range = null; // { start, end } of "@abc" in the textarea

  async function loadPeople() {
    loading ||= circleMembers(conn, circle.id, { pages: 2 })
      .then((res) => { people = res.members.map((m) => m.user).filter((u) => u.id !== conn.user?.id); })
      .catch(() => { people = [...ctx.users.values()]; });
    return loading;
  }

  function close() {
    menu.hidden = true;
    choices = [];
    range = null;
    textarea.removeAttribute('aria-activedescendant');
  }

  function render() {
    menu.replaceChildren(...choices.map((u, i) => h('li', {
      id: `${menuId}-${i}`, role: 'option', 'aria-selected': String(i === active), dataset: { name: u.name },
      onmousedown: (ev) => { ev.preventDefault(); insert(u); },
    }, `${u.display_name || u.name} `, h('span', { class: 'muted' }, `@${u.name}`))));
    menu.hidden = choices.length === 0;
    if (choices.length) textarea.setAttribute('aria-activedescendant', `${menuId}-${active}`);
    else textarea.removeAttribute('aria-activedescendant');
  }

  async function update() {
    const caret = textarea.selectionStart;
    const before = textarea.value.slice(0, caret);
    const m = /(^|[\s(])@([\w.-]{0,32})$/.exec(before);
    if (!m) { close(); return; }
    range = { start: caret - m[2].length - 1, end: caret };
    if (!people) await loadPeople();
    const q = m[2].toLowerCase();
    const starts = (s) => String(s || '').toLowerCase().split(/\s+/).some((w) => w.startsWith(q));
    choices = (people || []).filter((u) => starts(u.display_name) || String(u.name || '').toLowerCase().startsWith(q)).slice(0, 8);
    active = 0;
    render();
  }

  function insert(u) {
    if (!range) return;
    const text = `@${u.name} `;
    textarea.setRangeText(text, range.start, range.end, 'end');
    close();
    textarea.focus();
  }

  const onKey = (ev) => {
    if (menu.hidden || !choices.length) return;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      active = (active + (ev.key === 'ArrowDown' ? 1 : choices.length - 1)) % choices.length;
      render();
    } else if (ev.key === 'Enter' || ev.key === 'Tab') {
      ev.preventDefault();
      ev.stopImmediatePropagation(); // Enter picks a name here; it does not send the message
      insert(choices[active]);
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      close();
    }
  };
  const onInput = () => { update(); };
  const onBlur = () => setTimeout(close, 150);
  // Capture phase: runs before the composer's own Enter-sends handler.
  textarea.addEventListener('keydown', onKey, true);
  textarea.addEventListener('input', onInput);
  textarea.addEventListener('blur', onBlur);
  return () => {
    textarea.removeEventListener('keydown', onKey, true);
    textarea.removeEventListener('input', onInput);
    textarea.removeEventListener('blur', onBlur);
    menu.remove();
  };
}
