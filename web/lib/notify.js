// notify.js — browser notifications for new messages (and replies in threads I follow) while the tab
// is hidden. Off until the person turns them on in Settings (the permission prompt comes from that
// click, never on load).

import * as store from './store.js';
import { state } from './store.js';
import { chatTitle, messageText, nameById } from './format.js';
import { go } from './router.js';

const KEY = 'blockchat.notify';

export const supported = () => typeof Notification === 'function';
export const permission = () => (supported() ? Notification.permission : 'unsupported');

function stored() {
  try {
    return localStorage.getItem(KEY) === 'on';
  } catch {
    return false;
  }
}

/** On in Settings and allowed by the browser. */
export const enabled = () => stored() && permission() === 'granted';

/** From the Settings toggle: asks the browser if it has not been asked. Resolves to the permission. */
export async function enable() {
  if (!supported()) return 'unsupported';
  let p = Notification.permission;
  if (p === 'default') p = await Notification.requestPermission();
  if (p === 'granted') {
    try {
      localStorage.setItem(KEY, 'on');
    } catch {
      /* private mode: on for this page only */
    }
  }
  return p;
}

export function disable() {
  try {
    localStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
}

const mutedChat = (c) => !!c.muted_until && Date.parse(c.muted_until) > Date.now();
const mutedUser = (id) => (state.contacts.muted || []).some((x) => x.user?.id === id && (!x.until || Date.parse(x.until) > Date.now()));

/** A new message came in live: tell the person if they are away from the tab and want to hear of it. */
export function notifyMessage(m) {
  if (!enabled() || document.visibilityState !== 'hidden') return;
  if (m.type !== 'text' || m.deleted || m.sender_blocked || !m.sender_id || m.sender_id === state.me?.id) return;
  const chat = store.chatById(m.chat_id);
  if (!chat || mutedChat(chat) || chat.notifications === 'none' || mutedUser(m.sender_id)) return;
  if (chat.notifications === 'mentions' && !(m.mentions || []).includes(state.me?.id)) return;
  const title = `${chat.type === 'group' ? `${nameById(m.sender_id)} in ${chatTitle(chat)}` : nameById(m.sender_id)}${m.thread_root_id ? ' (in a thread)' : ''}`;
  try {
    const n = new Notification(title, { body: messageText(m).slice(0, 200), tag: `chat-${m.chat_id}`, icon: '/favicon.svg' });
    n.onclick = () => {
      window.focus();
      go(m.thread_root_id ? `/chat/${m.chat_id}/thread/${m.thread_root_id}` : `/chat/${m.chat_id}`);
      n.close();
    };
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}
