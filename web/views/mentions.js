// views/mentions.js — messages that mention me (by @name, @all or @here), newest first, from every
// chat: each with its chat's name and a snippet; opening one shows the message in its chat.

import * as actions from '../lib/actions.js';
import { state, on, emit, chatById, threadOnly, userById } from '../lib/store.js';
import { h, reconcile, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { chatTitle, fullTime, listTime, messageText, nameById } from '../lib/format.js';
import { avatar, busy, empty, setTitle } from '../lib/ui.js';

const PAGE = 30;

/** Ask the chat to show message `m` once it opens (or now, if it is open); a reply only in its thread, in the thread's panel. */
export function showInChat(m) {
  state.jump = { chatId: m.chat_id, id: m.id, seq: m.seq, rootId: threadOnly(m) ? m.thread_root_id : null };
  emit('jump');
}

/** Where a link to message `m` goes: its chat, or for a reply only in its thread, that thread's panel. */
export const messageHref = (m) => (threadOnly(m) ? `#/chat/${encodeURIComponent(m.chat_id)}/thread/${encodeURIComponent(m.thread_root_id)}` : `#/chat/${encodeURIComponent(m.chat_id)}`);

export function mountMentions(pane) {
  const listEl = h('ul', { class: 'mention-list' });
  const note = h('div', { class: 'mention-note' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: (e) => busy(e.currentTarget, () => load(true)) }, 'Show older mentions');
  replace(
    pane,
    h(
      'section',
      { class: 'page' },
      h('header', { class: 'page-head' }, h('a', { href: '#/', class: 'icon-btn back', 'aria-label': 'Back to chats' }, icon('back')), h('h1', {}, 'Mentions')),
      h('div', { class: 'page-body' }, h('p', { class: 'muted small intro' }, 'Messages that mention you by name, @all or @here, newest first.'), listEl, note, h('div', { class: 'row center' }, more))
    )
  );
  setTitle('Mentions');

  let items = null; // MessageView[] with chat_id
  let done = false;

  function row(m) {
    const chat = chatById(m.chat_id) || state.details.get(m.chat_id);
    const title = chat ? chatTitle(chat) : 'A chat you are no longer in';
    if (m.sender_id) actions.ensureUser(m.sender_id);
    const who = nameById(m.sender_id);
    const text = m.deleted ? 'This message was deleted' : messageText(m).slice(0, 200);
    const pic = chat?.type === 'group' || !chat ? avatar(chat || { id: m.chat_id }, { size: 40, group: true, label: title }) : avatar(userById(m.sender_id) || { id: m.sender_id }, { size: 40 });
    return h(
      'li',
      {},
      h(
        'a',
        {
          href: messageHref(m),
          class: 'mention-row',
          'aria-label': `${who} in ${title}: ${text}, ${fullTime(m.created_at)}`,
          dataset: { id: m.id },
          onclick: (e) => {
            if (!chat || e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
            showInChat(m);
          },
        },
        pic,
        h(
          'span',
          { class: 'mention-main' },
          h('span', { class: 'mention-top' }, h('strong', { class: 'mention-chat' }, title), h('time', { datetime: m.created_at, title: fullTime(m.created_at) }, listTime(m.created_at))),
          h('span', { class: 'mention-text' }, chat?.type === 'group' ? h('span', { class: 'mention-who' }, `${who}: `) : null, text)
        )
      )
    );
  }

  const sig = (m) => {
    const chat = chatById(m.chat_id) || state.details.get(m.chat_id);
    return JSON.stringify([m.deleted, m.content, m.edited_at, chat ? [chatTitle(chat), chat.type, chat.avatar_url] : null, nameById(m.sender_id), state.users.get(m.sender_id)?.avatar_url]);
  };

  function render() {
    if (items === null) return replace(note, h('p', { class: 'muted pad' }, 'Loading…'));
    reconcile(listEl, items, (m) => m.id, row, sig);
    replace(note, items.length ? null : empty('Nobody has mentioned you yet. When someone writes @' + (state.me?.username || 'you') + ', it shows here.'));
    more.hidden = done || !items.length;
  }

  async function load(older = false) {
    const before = older && items?.length ? items.at(-1).created_at : null;
    const page = await actions.mentions(before, PAGE);
    const known = new Set((older ? items || [] : []).map((m) => m.id));
    items = older ? [...(items || []), ...page.filter((m) => !known.has(m.id))] : page;
    done = page.length < PAGE;
    render();
  }

  // A new mention while the list is open goes on top.
  const offs = [
    on('mention', (m) => {
      if (items && !items.some((x) => x.id === m.id)) {
        items = [m, ...items];
        render();
      }
    }),
    on('chats', () => items && render()),
    on('users', () => items && render()),
  ];

  render();
  load().catch((e) => replace(note, h('p', { class: 'error pad' }, e.message)));
  return { destroy: () => offs.forEach((off) => off()) };
}
