// views/shell.js — the signed-in layout: sidebar (me, actions, chat list) and the main pane the route picks.

import * as actions from '../lib/actions.js';
import * as realtime from '../lib/realtime.js';
import { h, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { state, on } from '../lib/store.js';
import { nameOf, statusWord } from '../lib/format.js';
import { avatar, setTitle, setUnreadTitle } from '../lib/ui.js';
import { mountChatList } from './chatlist.js';
import { mountChat } from './chat.js';
import { mountPeople } from './people.js';
import { mountSettings } from './settings.js';
import { mountMentions } from './mentions.js';
import { mountThreads } from './threads.js';
import { mountSearch, openSearch } from './search.js';
import { newDirectDialog, newGroupDialog } from './newchat.js';
import { statusDialog } from './profile.js';

export function mountShell(root) {
  const meButton = h('button', { type: 'button', class: 'me-button', 'aria-label': 'Your status' });
  const requestsBadge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true }); // the link's label says it in words
  const peopleLink = h('a', { href: '#/people', class: 'icon-btn', 'aria-label': 'People', title: 'People and friend requests' }, icon('users'), requestsBadge);
  const mentionsBadge = h('span', { class: 'badge mention-total', 'aria-hidden': 'true', hidden: true });
  const mentionsLink = h('a', { href: '#/mentions', class: 'icon-btn', 'aria-label': 'Mentions', title: 'Mentions of you' }, icon('at'), mentionsBadge);
  const threadsBadge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  const threadsLink = h('a', { href: '#/threads', class: 'icon-btn', 'aria-label': 'Threads', title: 'Threads you follow' }, icon('thread'), threadsBadge);
  const offlineBanner = h(
    'div',
    { class: 'banner', role: 'status', hidden: true },
    'Reconnecting… messages you send will go out when the connection is back.',
    h('button', { type: 'button', class: 'link', onclick: () => realtime.kick() }, 'Try now')
  );
  const side = h(
    'aside',
    { class: 'sidebar', 'aria-labelledby': 'sidebar-title' },
    h('h2', { class: 'sr-only', id: 'sidebar-title' }, 'Chats'),
    h(
      'header',
      { class: 'side-head' },
      meButton,
      h(
        'div',
        { class: 'side-actions' },
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New chat', title: 'New chat', onclick: newDirectDialog }, icon('chat')),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New group', title: 'New group', onclick: newGroupDialog }, icon('plus')),
        mentionsLink,
        threadsLink,
        peopleLink,
        h('a', { href: '#/settings', class: 'icon-btn', 'aria-label': 'Settings', title: 'Settings' }, icon('settings'))
      )
    )
  );
  const pane = h('main', { class: 'pane', id: 'pane', tabindex: '-1' });
  const app = h('div', { class: 'app' }, side, pane);
  // The first Tab stop: past the sidebar to the open chat's composer (or the page).
  const skipTarget = () => pane.querySelector('.composer:not([hidden]) textarea, .search-page input[type=search]') || (pane.getClientRects().length ? pane : side.querySelector('a.chat-row, .search-input'));
  const skip = h('button', { type: 'button', class: 'skip-link', onclick: () => skipTarget()?.focus() }, 'Skip to the conversation');
  replace(root, skip, offlineBanner, app);

  meButton.addEventListener('click', () => statusDialog());
  const chatList = mountChatList(side);

  const renderMe = () => {
    const me = state.me;
    const shown = me.chosen_status || me.status || 'online';
    meButton.setAttribute('aria-label', `Your status: ${statusWord(shown)}${me.status_text ? `, ${me.status_text}` : ''}`);
    replace(
      meButton,
      avatar({ ...me, status: shown }, { size: 36, presence: true }),
      h('span', { class: 'me-text' }, h('strong', {}, nameOf(me)), h('small', {}, me.status_text || statusWord(shown)))
    );
  };
  const renderBadge = () => {
    const n = state.contacts.incoming?.length || 0;
    requestsBadge.hidden = !n;
    requestsBadge.textContent = n;
    peopleLink.setAttribute('aria-label', n ? `People, ${n} friend request${n > 1 ? 's' : ''}` : 'People');
  };
  const renderTitle = () => {
    const unread = state.chats.reduce((n, c) => n + (c.muted_until ? 0 : c.unread_count), 0);
    setUnreadTitle(unread);
    // Unread mentions across the chats.
    const mentions = state.chats.reduce((n, c) => n + (c.mention_count || 0), 0);
    mentionsBadge.hidden = !mentions;
    mentionsBadge.textContent = mentions > 99 ? '99+' : String(mentions);
    mentionsLink.setAttribute('aria-label', mentions ? `Mentions, ${mentions} unread` : 'Mentions');
    // Unread replies in the threads I follow (not part of the chats' unread counts).
    const replies = state.chats.reduce((n, c) => n + (c.thread_unread_count || 0), 0);
    threadsBadge.hidden = !replies;
    threadsBadge.textContent = replies > 99 ? '99+' : String(replies);
    threadsLink.setAttribute('aria-label', replies ? `Threads, ${replies} unread` : 'Threads');
  };
  const offs = [
    on('me', renderMe),
    on('contacts', renderBadge),
    on('chats', renderTitle),
    on('online', (online) => (offlineBanner.hidden = online)),
  ];
  renderMe();
  actions.loadRequests().catch(() => {});

  // Ctrl+K (⌘K) anywhere, or "/" outside a text field, opens the message search (from a chat, it
  // offers to search only there). Nothing in the app uses them otherwise.
  const typing = (el) => el?.matches?.('textarea, select, [contenteditable]:not([contenteditable=false]), input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit]):not([type=file])');
  const onShortcut = (e) => {
    if (e.defaultPrevented || e.isComposing || e.altKey || document.querySelector('dialog[open]')) return;
    const ctrlK = (e.ctrlKey || e.metaKey) && !e.shiftKey && (e.key === 'k' || e.key === 'K'); // (autofill sends keydowns without a key)
    const slash = e.key === '/' && !e.ctrlKey && !e.metaKey && !typing(e.target);
    if (!ctrlK && !slash) return;
    e.preventDefault();
    openSearch({ chatId: state.openChatId });
  };
  document.addEventListener('keydown', onShortcut);

  let view = null;
  let viewKey = '';

  function route(r) {
    let key = r.name;
    if (r.name === 'chat' && r.parts[1]) key = `chat/${r.parts[1]}`;
    if (key !== viewKey) {
      view?.destroy?.();
      view = null;
      viewKey = key;
      state.openChatId = null;
      if (r.name === 'chat' && r.parts[1]) {
        state.openChatId = r.parts[1];
        view = mountChat(pane, r.parts[1]);
      } else if (r.name === 'people') view = mountPeople(pane);
      else if (r.name === 'settings') view = mountSettings(pane);
      else if (r.name === 'mentions') view = mountMentions(pane);
      else if (r.name === 'threads') view = mountThreads(pane);
      else if (r.name === 'search') view = mountSearch(pane);
      else {
        setTitle('');
        replace(pane, h('div', { class: 'welcome' }, h('img', { src: '/favicon.svg', alt: '', width: 64, height: 64 }), h('h1', {}, 'Block Chat'), h('p', {}, 'Pick a chat on the left, or start a new one.'), h('div', { class: 'row' }, h('button', { type: 'button', class: 'btn primary', onclick: newDirectDialog }, 'New chat'), h('button', { type: 'button', class: 'btn', onclick: newGroupDialog }, 'New group'))));
      }
    }
    view?.route?.(r);
    app.classList.toggle('has-pane', key !== 'home');
    chatList.setActive(state.openChatId);
  }

  return {
    route,
    destroy() {
      view?.destroy?.();
      chatList.destroy();
      offs.forEach((off) => off());
      document.removeEventListener('keydown', onShortcut);
      setUnreadTitle(0);
      setTitle('');
    },
  };
}
