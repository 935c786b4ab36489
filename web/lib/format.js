// format.js — turning data into words people read: names, times, day labels, previews, system events.

import { state, userById } from './store.js';

export function nameOf(user) {
  if (!user) return 'Someone';
  if (user.is_deleted) return 'Deleted user';
  return user.display_name || user.username || 'Someone';
}

export function nameById(id) {
  if (id && id === state.me?.id) return 'You';
  return nameOf(userById(id));
}

export function chatTitle(chat) {
  if (!chat) return '';
  if (chat.type === 'direct') {
    const other = chat.other_user || chat.members?.find((m) => m.user.id !== state.me?.id)?.user;
    return other ? nameOf(userById(other.id) || other) : 'Direct chat';
  }
  return chat.name || 'Group';
}

export function otherUser(chat) {
  if (chat?.type !== 'direct') return null;
  const other = chat.other_user || chat.members?.find((m) => m.user.id !== state.me?.id)?.user;
  return other ? userById(other.id) || other : null;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const longDayYearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
const DAY = 86_400_000;

export const time = (iso) => timeFmt.format(new Date(iso));
export const fullTime = (iso) => (iso ? fullFmt.format(new Date(iso)) : '');
export const dayKey = (iso) => {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
};

/** For the chat list: 14:05 today, "Mon" this week, "3 Mar" before. */
export function listTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / DAY);
  if (days <= 0) return timeFmt.format(d);
  if (days < 7) return weekdayFmt.format(d);
  return shortDateFmt.format(d);
}

/** For day separators in a chat. */
export function dayLabel(iso) {
  const d = new Date(iso);
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / DAY);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (d.getFullYear() === new Date().getFullYear()) return longDayFmt.format(d);
  return longDayYearFmt.format(d);
}

export function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} d ago`;
  return shortDateFmt.format(new Date(iso));
}

const STATUS_WORDS = { online: 'Online', away: 'Away', busy: 'Busy', offline: 'Offline' };

export function presenceLine(user) {
  if (!user) return '';
  if (user.is_deleted) return 'Deleted account';
  const parts = [];
  if (user.status === 'offline' && user.last_seen) parts.push(`last seen ${ago(user.last_seen)}`);
  else if (user.status) parts.push(STATUS_WORDS[user.status]);
  if (user.status_text) parts.push(user.status_text);
  return parts.join(' · ');
}

export const statusWord = (s) => STATUS_WORDS[s] || 'Hidden';

/** A one-line plain-text preview of Markdown (shown as text, never as HTML). */
export function plainPreview(markdown) {
  return (markdown || '')
    .replace(/```[\s\S]*?```/g, ' [code] ')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+/gm, '')
    .replace(/(\*\*|__|~~|\*|_|`)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The files a message carries, if any (none once it is deleted). */
export const filesOf = (m) => (m && !m.deleted && m.type !== 'system' ? m.attachments || [] : []);

/**
 * A message's text as one plain line, or what it carries when it has no text ("Image: sunset.png",
 * "3 files"; `bare`: "sunset.png", where a paperclip icon already says it is a file).
 */
export function messageText(m, { bare = false } = {}) {
  const text = plainPreview(m?.content);
  const files = filesOf(m);
  if (text || !files.length) return text;
  const images = files.every((f) => f.kind === 'image');
  if (files.length === 1) return bare ? files[0].name : `${images ? 'Image' : 'File'}: ${files[0].name}`;
  return `${files.length} ${images ? 'images' : 'files'}`;
}

export function messagePreview(m, chat) {
  if (!m) return chat?.type === 'group' ? 'No messages yet' : 'Say hello';
  if (m.type === 'system') return describeEvent(m);
  if (m.deleted) return 'Message deleted';
  const text = messageText(m, { bare: true });
  if (m.sender_id === state.me?.id) return `You: ${text}`;
  if (chat?.type === 'group') return `${nameById(m.sender_id)}: ${text}`;
  return text;
}

const ROLE_WORDS = { owner: 'the owner', admin: 'an admin', member: 'a member' };

function names(ids) {
  const list = (ids || []).map(nameById);
  if (list.length <= 2) return list.join(' and ');
  return `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}

/** A system message in words, from its event (names as this viewer knows them). */
export function describeEvent(m) {
  const e = m.event;
  if (!e) return m.content || '';
  switch (e.type) {
    case 'created':
      return `${nameById(e.by)} created the group “${e.name}”`;
    case 'added':
      return `${nameById(e.by)} added ${names(e.users)}`;
    case 'removed':
      return `${nameById(e.by)} removed ${nameById(e.user)}`;
    case 'left':
      return e.new_owner ? `${nameById(e.user)} left; ${nameById(e.new_owner)} is now the owner` : `${nameById(e.user)} left`;
    case 'renamed':
      return `${nameById(e.by)} renamed the group to “${e.name}”`;
    case 'role_changed':
      return `${nameById(e.by)} made ${nameById(e.user) === 'You' ? 'you' : nameById(e.user)} ${ROLE_WORDS[e.role] || e.role}`;
    default:
      return m.content || '';
  }
}

/** Ids a system message names, so their profiles can be fetched if unknown. */
export function eventUserIds(m) {
  const e = m.event || {};
  return [e.by, e.user, e.new_owner, ...(e.users || []), ...(e.members || [])].filter(Boolean);
}

export function initials(name) {
  const parts = (name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts.at(-1)[0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

export function hue(id) {
  let h = 0;
  for (const c of id || '') h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}
