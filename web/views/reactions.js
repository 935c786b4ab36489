// views/reactions.js — reactions on a message: the chips under it (emoji and count, pressed when
// mine; a click toggles mine), who reacted (a tooltip on hover or focus, a list on right click or a
// long press), and the emoji picker the "Add reaction" action opens (arrow keys move, Esc closes).

import * as actions from '../lib/actions.js';
import { h } from '../lib/dom.js';
import { nameById, nameOf } from '../lib/format.js';
import { avatar, busy, dialog } from '../lib/ui.js';
import { state } from '../lib/store.js';

/** The picker's emoji (fully qualified, as the server keeps them) and their names. */
export const EMOJI = [
  ['👍', 'thumbs up'],
  ['👎', 'thumbs down'],
  ['❤️', 'red heart'],
  ['😂', 'tears of joy'],
  ['😮', 'surprised'],
  ['😢', 'crying'],
  ['🙏', 'thank you'],
  ['🎉', 'party'],
  ['🔥', 'fire'],
  ['👏', 'clapping'],
  ['😊', 'smiling'],
  ['😍', 'heart eyes'],
  ['🤔', 'thinking'],
  ['😅', 'sweat smile'],
  ['👀', 'eyes'],
  ['💯', 'hundred points'],
  ['✅', 'check mark'],
  ['❌', 'cross mark'],
  ['🚀', 'rocket'],
  ['🙌', 'raised hands'],
  ['😎', 'cool'],
  ['🤝', 'handshake'],
  ['💡', 'idea'],
  ['😡', 'angry'],
];
const COLUMNS = 6;

const people = (n) => (n === 1 ? '1 person' : `${n} people`);

/** "Alice, Bob and you" from reactors (first first), with "you" last. */
function namesOf(list) {
  const me = state.me?.id;
  const names = list.filter((r) => r.user.id !== me).map((r) => nameOf(r.user));
  if (list.some((r) => r.user.id === me)) names.push('you');
  if (names.length <= 2) return names.join(' and ');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * The reactions of message `m` in chat `chatId` (null when it has none). `who` caches the
 * names behind each chip (message id + emoji → {count, text, at}) across re-renders.
 */
export function renderReactions(chatId, m, who) {
  const list = m.deleted || m.pending ? [] : m.reactions || [];
  if (!list.length) return null;
  return h(
    'div',
    { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
    list.map((r) => chip(chatId, m, r, who))
  );
}

function chip(chatId, m, r, who) {
  const key = `${m.id} ${r.emoji}`;
  const label = `${people(r.count)} reacted with ${r.emoji}${r.me ? ', you among them' : ''}`;
  // Names are kept per count for a short while (someone may have swapped in for someone else).
  const fresh = (k) => k?.count === r.count && Date.now() - k.at < 30_000;
  const known = who.get(key);
  const el = h(
    'button',
    {
      type: 'button',
      class: `reaction${r.me ? ' mine' : ''}`,
      'aria-pressed': String(!!r.me),
      'aria-label': label,
      title: fresh(known) ? `${known.text} reacted with ${r.emoji}` : label,
      dataset: { focusKey: `reaction ${r.emoji}`, emoji: r.emoji },
      onclick: () => busy(null, () => actions.toggleReaction(chatId, m.id, r.emoji)),
      oncontextmenu: (e) => {
        e.preventDefault();
        showReactors(chatId, m, r.emoji);
      },
    },
    h('span', { class: 'reaction-emoji', 'aria-hidden': 'true' }, r.emoji),
    h('span', { class: 'reaction-count', 'aria-hidden': 'true' }, String(r.count))
  );
  // Who reacted: asked for once the pointer rests on the chip (or it has focus), kept per count.
  let timer = 0;
  const ask = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (fresh(who.get(key))) return;
      try {
        const list = await actions.reactors(chatId, m.id, r.emoji);
        const text = namesOf(list);
        who.set(key, { count: list.length, text, at: Date.now() });
        if (el.isConnected && list.length === r.count) el.title = `${text} reacted with ${r.emoji}`;
      } catch {
        /* the count stays the tooltip */
      }
    }, 350);
  };
  el.addEventListener('mouseenter', ask);
  el.addEventListener('focus', ask);
  el.addEventListener('mouseleave', () => clearTimeout(timer));
  el.addEventListener('blur', () => clearTimeout(timer));
  return el;
}

/** Everyone who reacted to `m` with `emoji`, in a dialog. */
export async function showReactors(chatId, m, emoji) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  dialog({ title: `Reactions ${emoji}`, body });
  try {
    const list = await actions.reactors(chatId, m.id, emoji);
    body.replaceChildren(
      list.length
        ? h(
            'ul',
            { class: 'people' },
            list.map((r) => h('li', { class: 'person-row' }, avatar(r.user, { size: 32 }), h('span', { class: 'grow' }, r.user.id === state.me?.id ? `${nameOf(r.user)} (you)` : nameById(r.user.id))))
          )
        : h('p', { class: 'muted' }, 'Nobody any more.')
    );
  } catch (e) {
    body.replaceChildren(h('p', { class: 'error' }, e.message));
  }
}

/**
 * The emoji picker: a small modal dialog by `opener`, a grid of buttons with one Tab stop (the
 * arrow keys, Home and End move in it); Enter or a click picks, Esc or a click outside closes.
 * `chosen`: the emoji I already reacted with (shown pressed: picking one takes it back).
 * `onClose(picked)` runs as it closes, with the emoji or null.
 */
export function openEmojiPicker(opener, { chosen = new Set(), onPick, onClose }) {
  const titleId = `picker-${Math.random().toString(36).slice(2)}`;
  let picked = null;
  const buttons = EMOJI.map(([emoji, name]) =>
    h(
      'button',
      {
        type: 'button',
        class: 'emoji',
        'aria-label': name,
        title: name,
        'aria-pressed': String(chosen.has(emoji)),
        tabindex: '-1',
        onclick: () => {
          picked = emoji;
          el.close();
        },
      },
      emoji
    )
  );
  const grid = h('div', { class: 'emoji-grid', role: 'group', 'aria-labelledby': titleId }, buttons);
  const el = h('dialog', { class: 'emoji-picker', 'aria-labelledby': titleId }, h('h2', { id: titleId, class: 'sr-only' }, 'Add a reaction'), grid);

  const focusAt = (i) => {
    buttons.forEach((b, j) => (b.tabIndex = j === i ? 0 : -1));
    buttons[i].focus();
  };
  grid.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const n = buttons.length;
    const to = {
      ArrowRight: Math.min(n - 1, i + 1),
      ArrowLeft: Math.max(0, i - 1),
      ArrowDown: i + COLUMNS < n ? i + COLUMNS : i,
      ArrowUp: i - COLUMNS >= 0 ? i - COLUMNS : i,
      Home: e.ctrlKey ? 0 : i - (i % COLUMNS),
      End: e.ctrlKey ? n - 1 : Math.min(n - 1, i - (i % COLUMNS) + COLUMNS - 1),
    }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    focusAt(to);
  });
  el.addEventListener('click', (e) => {
    if (e.target === el) el.close(); // the backdrop
  });
  el.addEventListener('close', () => {
    el.remove();
    if (picked) onPick(picked);
    onClose?.(picked);
  });
  document.body.append(el);
  el.showModal();
  place(el, opener);
  const first = buttons.findIndex((b) => b.getAttribute('aria-pressed') === 'true');
  focusAt(first < 0 ? 0 : first);
  return el;
}

/** Next to the opener: above it when there is room, else below; inside the window either way. */
function place(el, opener) {
  const r = opener?.isConnected ? opener.getBoundingClientRect() : null;
  if (!r || (!r.width && !r.height)) return; // centred, as a dialog is
  const w = el.offsetWidth;
  const ht = el.offsetHeight;
  const margin = 8;
  const left = Math.min(Math.max(margin, r.right - w), innerWidth - w - margin);
  const top = r.top - ht - 6 >= margin ? r.top - ht - 6 : Math.min(r.bottom + 6, innerHeight - ht - margin);
  el.style.inset = 'auto';
  el.style.margin = '0';
  el.style.left = `${Math.max(margin, left)}px`;
  el.style.top = `${Math.max(margin, top)}px`;
}
