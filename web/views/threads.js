// views/threads.js — the Threads page: the threads I follow across my chats, the most recent reply
// first, each with its chat's name, the message it started from, how many replies and how many of them
// I have not read; choosing one opens its chat with the thread in the panel beside it.

import * as actions from '../lib/actions.js';
import { state, on, chatById, threadRoot, userById } from '../lib/store.js';
import { debounce, h, reconcile, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { chatTitle, fullTime, listTime, messageText, nameById } from '../lib/format.js';
import { avatar, busy, empty, setTitle } from '../lib/ui.js';

const PAGE = 30;

export function mountThreads(pane) {
  const listEl = h('ul', { class: 'mention-list thread-list' });
  const note = h('div', { class: 'mention-note' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: (e) => busy(e.currentTarget, () => load(true)) }, 'Show older threads');
  replace(
    pane,
    h(
      'section',
      { class: 'page' },
      h('header', { class: 'page-head' }, h('a', { href: '#/', class: 'icon-btn back', 'aria-label': 'Back to chats' }, icon('back')), h('h1', {}, 'Threads')),
      h(
        'div',
        { class: 'page-body' },
        h('p', { class: 'muted small intro' }, 'Threads you follow, the most recent reply first. You follow a thread when you reply in it, are mentioned in it, or it starts from your message.'),
        listEl,
        note,
        h('div', { class: 'row center' }, more)
      )
    )
  );
  setTitle('Threads');

  let items = null; // [{chat_id, root}] as listed (each root shown from its freshest copy)
  let done = false;
  let destroyed = false;

  const rootOf = (item) => threadRoot(item.chat_id, item.root.id) || item.root;
  const lastReply = (item) => Date.parse(rootOf(item).thread?.last_reply_at || rootOf(item).created_at) || 0;

  function row(item) {
    const m = rootOf(item);
    const t = m.thread || {};
    const chat = chatById(item.chat_id) || state.details.get(item.chat_id);
    const title = chat ? chatTitle(chat) : 'A chat';
    if (m.sender_id) actions.ensureUser(m.sender_id);
    const who = nameById(m.sender_id);
    const text = m.deleted ? 'This message was deleted' : messageText(m).slice(0, 200);
    const n = t.reply_count || 0;
    const replies = `${n} ${n === 1 ? 'reply' : 'replies'}`;
    const unread = t.unread_count || 0;
    return h(
      'li',
      {},
      h(
        'a',
        {
          href: `#/chat/${encodeURIComponent(item.chat_id)}/thread/${encodeURIComponent(m.id)}`,
          class: `mention-row thread-row${unread ? ' unread' : ''}`,
          dataset: { id: m.id },
          'aria-label': `${who} in ${title}: ${text}. ${replies}${unread ? `, ${unread} unread` : ''}${t.last_reply_at ? `, last reply ${fullTime(t.last_reply_at)}` : ''}`,
        },
        avatar(userById(m.sender_id) || { id: m.sender_id }, { size: 40 }),
        h(
          'span',
          { class: 'mention-main' },
          h('span', { class: 'mention-top' }, h('strong', { class: 'mention-chat' }, title), t.last_reply_at ? h('time', { datetime: t.last_reply_at, title: fullTime(t.last_reply_at) }, listTime(t.last_reply_at)) : null),
          h('span', { class: 'mention-text' }, h('span', { class: 'mention-who' }, `${who}: `), text),
          h('span', { class: 'thread-row-count' }, icon('thread'), h('span', {}, replies), unread ? h('span', { class: 'badge' }, `${unread} new`) : null)
        )
      )
    );
  }

  const sig = (item) => {
    const m = rootOf(item);
    const chat = chatById(item.chat_id) || state.details.get(item.chat_id);
    return JSON.stringify([m.deleted, m.content, m.edited_at, m.thread, chat ? [chatTitle(chat), chat.type] : null, nameById(m.sender_id), state.users.get(m.sender_id)?.avatar_url]);
  };

  function render() {
    if (destroyed) return;
    if (items === null) return replace(note, h('p', { class: 'muted pad' }, 'Loading…'));
    items.sort((a, b) => lastReply(b) - lastReply(a));
    reconcile(listEl, items, (item) => item.root.id, row, sig);
    replace(note, items.length ? null : empty('You follow no threads yet. Reply to a message in a thread (“Reply in thread” among its actions), and it shows here.'));
    more.hidden = done || !items.length;
  }

  async function load(older = false) {
    const last = older && items?.length ? items.at(-1) : null;
    const page = await actions.followedThreads(last ? rootOf(last).thread?.last_reply_at : null, PAGE);
    if (destroyed) return;
    const fresh = new Set(page.map((x) => x.root.id));
    // Again from the top: the new first page, then what was paged in below it.
    const kept = (items || []).filter((x) => !fresh.has(x.root.id) && (older || (page.length && lastReply(x) < lastReply(page.at(-1)))));
    items = older ? [...kept, ...page] : [...page, ...kept];
    if (older || !kept.length) done = page.length < PAGE;
    render();
  }
  const reloadSoon = debounce(() => load().catch(() => {}), 300);

  // A thread's summary or my state in it changed: shown at once; one I now follow that is not listed brings the list again.
  const offs = [
    on('threads', (e) => {
      if (!items) return;
      const listed = items.some((x) => x.root.id === e?.rootId);
      const known = e && threadRoot(e.chatId, e.rootId);
      if (!listed && (!known || known.thread?.following)) reloadSoon();
      else render();
    }),
    on('chats', () => items && render()),
    on('users', () => items && render()),
  ];

  render();
  load().catch((e) => replace(note, h('p', { class: 'error pad' }, e.message)));
  return {
    destroy() {
      destroyed = true;
      reloadSoon.cancel();
      offs.forEach((off) => off());
    },
  };
}
