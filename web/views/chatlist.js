// views/chatlist.js — the sidebar's chat list: previews, unread and mention badges, presence, pinned and muted marks, search.

import * as actions from '../lib/actions.js';
import { h, reconcile, debounce } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { state, on, stable, typingIn } from '../lib/store.js';
import { chatTitle, eventUserIds, filesOf, listTime, messagePreview, otherUser } from '../lib/format.js';
import { avatar } from '../lib/ui.js';
import { openSearch } from './search.js';

export function mountChatList(side) {
  const search = h('input', { type: 'search', class: 'search-input', placeholder: 'Search chats', 'aria-label': 'Search chats', autocomplete: 'off' });
  const list = h('ul', { class: 'chat-list', role: 'list' });
  const archivedToggle = h('button', { type: 'button', class: 'archived-toggle', 'aria-expanded': 'false', hidden: true });
  const archivedList = h('ul', { class: 'chat-list', role: 'list', hidden: true });
  const emptyNote = h('p', { class: 'list-note', hidden: true });
  // While the chats are filtered: the same words through the messages of every chat.
  const messagesText = h('span', { class: 'grow' });
  const searchMessages = h('button', { type: 'button', class: 'search-messages', hidden: true, onclick: () => openSearch({ q: search.value.trim(), chatId: state.openChatId }) }, icon('search'), messagesText);
  const nav = h('nav', { class: 'chat-nav', 'aria-label': 'Chat list' }, list, emptyNote, searchMessages, archivedToggle, archivedList);
  // Next to the chat filter: the message search (with what is typed here, if anything).
  const messagesButton = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Search messages', title: 'Search messages (Ctrl+K or /)', 'aria-keyshortcuts': 'Control+K /', onclick: () => openSearch({ q: search.value.trim() || null, chatId: state.openChatId }) }, icon('searchText'));
  side.append(h('div', { class: 'search-row' }, h('div', { class: 'search' }, icon('search'), search), messagesButton), nav);

  let active = null;
  let results = null; // search results, or null when not searching
  let showArchived = false;

  const sig = (c) => stable([c, chatTitle(c), otherUser(c)?.status, otherUser(c)?.avatar_url, active === c.id, messagePreview(c.last_message, c), typingIn(c.id).length > 0]);

  function render() {
    const source = results ?? state.chats;
    const visible = source.filter((c) => results || !c.archived);
    const archived = results ? [] : source.filter((c) => c.archived);
    reconcile(list, visible, (c) => c.id, row, sig);
    reconcile(archivedList, archived, (c) => c.id, row, sig);
    archivedToggle.hidden = !archived.length;
    archivedToggle.textContent = `${showArchived ? 'Hide' : 'Show'} archived chats (${archived.length})`;
    archivedToggle.setAttribute('aria-expanded', String(showArchived));
    archivedList.hidden = !showArchived;
    emptyNote.hidden = visible.length > 0;
    emptyNote.textContent = results ? 'No chats match.' : 'No chats yet. Start one with the buttons above.';
    renderMessagesButton();
  }

  function renderMessagesButton() {
    const q = search.value.trim();
    searchMessages.hidden = !q;
    messagesText.textContent = `Search messages for “${q}”`;
  }

  function row(c) {
    const lm = c.last_message;
    if (lm?.sender_id) actions.ensureUser(lm.sender_id);
    if (lm?.type === 'system') eventUserIds(lm).forEach(actions.ensureUser);
    const muted = !!c.muted_until;
    const other = otherUser(c);
    const title = chatTitle(c);
    const badges = [];
    if (c.mention_count > 0) badges.push(h('span', { class: 'badge mention', title: `${c.mention_count} mention${c.mention_count > 1 ? 's' : ''}` }, '@'));
    if (c.unread_count > 0) badges.push(h('span', { class: `badge${muted ? ' muted' : ''}` }, c.unread_count > 99 ? '99+' : String(c.unread_count)));
    const label = [title, messagePreview(c.last_message, c), c.unread_count ? `${c.unread_count} unread` : '', c.mention_count ? 'mentioned you' : '', c.pinned ? 'pinned' : '', muted ? 'muted' : ''].filter(Boolean).join(', ');
    return h(
      'li',
      {},
      h(
        'a',
        { href: `#/chat/${c.id}`, class: `chat-row${active === c.id ? ' active' : ''}${c.unread_count ? ' unread' : ''}`, 'aria-current': active === c.id ? 'page' : null, 'aria-label': label, dataset: { chatId: c.id } },
        c.type === 'direct' ? avatar(other, { size: 44, presence: true }) : avatar(c, { size: 44, label: title, group: true }),
        h(
          'span',
          { class: 'chat-row-main' },
          h(
            'span',
            { class: 'chat-row-top' },
            h('span', { class: 'chat-name' }, title),
            c.pinned ? h('span', { class: 'mark', title: 'Pinned' }, icon('pin')) : null,
            muted ? h('span', { class: 'mark', title: 'Muted' }, icon('bellOff')) : null,
            h('time', { class: 'chat-time', datetime: c.last_activity_at }, listTime(c.last_message?.created_at || c.last_activity_at))
          ),
          h('span', { class: 'chat-row-bottom' }, typingIn(c.id).length ? h('span', { class: 'preview typing' }, 'typing…') : h('span', { class: 'preview' }, filesOf(lm).length ? icon('paperclip') : null, messagePreview(c.last_message, c)), badges)
        )
      )
    );
  }

  const runSearch = debounce(async () => {
    const q = search.value.trim();
    if (!q) {
      results = null;
      render();
      return;
    }
    try {
      const page = await actions.searchChats(q);
      if (search.value.trim() === q) {
        results = page.items;
        render();
      }
    } catch {
      /* keep the last results */
    }
  }, 200);

  search.addEventListener('input', runSearch);
  search.addEventListener('input', renderMessagesButton);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && search.value) {
      e.preventDefault();
      search.value = '';
      runSearch();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      (list.querySelector('a') || (searchMessages.hidden ? null : searchMessages))?.focus();
    }
  });
  archivedToggle.addEventListener('click', () => {
    showArchived = !showArchived;
    render();
  });
  // Arrow keys move between chats.
  nav.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...nav.querySelectorAll('a.chat-row')];
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    links[Math.max(0, Math.min(links.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
  });

  const offs = [on('chats', () => (results && search.value.trim() ? runSearch() : render())), on('users', render), on('typing', render)];
  actions.loadChats().catch(() => {});
  render();

  return {
    setActive(id) {
      active = id;
      render();
    },
    destroy() {
      offs.forEach((off) => off());
    },
  };
}
