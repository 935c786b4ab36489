// store.js — the client's state in one place, and who to tell when a part of it changes.
//
// Topics: 'me', 'chats' (the list), 'chat:<id>' (details and members), 'log:<id>' (messages),
// 'users' (profiles learned anywhere), 'contacts' (friends, requests, blocks, mutes), 'open',
// 'online' (the realtime connection is up or down), 'typing' (payload: the chat id),
// 'pins:<id>' (a chat's pinned messages), 'mention' (payload: a new message that mentions me),
// 'jump' (a message to show was asked for: state.jump), 'sessions' (my sessions changed).

export const state = {
  me: null,
  chats: [], // ChatSummary[], as GET /chats orders them
  chatsSig: '',
  details: new Map(), // chat id → Chat (with members)
  logs: new Map(), // chat id → Log (below)
  users: new Map(), // user id → Profile
  contacts: { friends: null, incoming: null, outgoing: null, blocked: null, muted: null },
  openChatId: null,
  online: true,
  typing: new Map(), // chat id → Map(user id → when the "is typing" hint ends, ms)
  pins: new Map(), // chat id → Pin[] ({message, pinned_by, pinned_at}), newest pin first, once loaded
  jump: null, // {chatId, id, seq}: a message the open chat should scroll to (from Mentions or Search)
};

/** JSON for change detection: `last_seen` moves on every poll while someone is active, and nothing shown depends on it then. */
export const stable = (value) => JSON.stringify(value, (key, v) => (key === 'last_seen' ? undefined : v));

const subscribers = new Map();

export function on(topic, fn) {
  if (!subscribers.has(topic)) subscribers.set(topic, new Set());
  subscribers.get(topic).add(fn);
  return () => subscribers.get(topic)?.delete(fn);
}

export function emit(topic, payload) {
  for (const fn of [...(subscribers.get(topic) || [])]) {
    try {
      fn(payload);
    } catch (e) {
      console.error(`subscriber of ${topic} failed`, e);
    }
  }
}

export function reset() {
  state.me = null;
  state.chats = [];
  state.chatsSig = '';
  state.details.clear();
  state.logs.clear();
  state.users.clear();
  state.contacts = { friends: null, incoming: null, outgoing: null, blocked: null, muted: null };
  state.openChatId = null;
  state.online = true;
  state.typing.clear();
  state.pins.clear();
  state.jump = null;
}

// People

export function rememberUsers(list) {
  let changed = false;
  for (const u of list) {
    if (!u?.id) continue;
    const old = state.users.get(u.id);
    const merged = { ...old, ...u };
    if (!old || stable(old) !== stable(merged)) changed = true;
    state.users.set(u.id, merged);
  }
  if (changed) emit('users');
}

export const userById = (id) => (id === state.me?.id ? state.me : state.users.get(id));

// Chats

/** GET /chats's order: pinned first, then the most recent activity. */
const chatOrder = (a, b) => Number(!!b.pinned) - Number(!!a.pinned) || Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at) || (a.id < b.id ? -1 : 1);

export function setChats(items) {
  // A list fetched just before a live event may land after it: keep what is newer here.
  const known = new Map(state.chats.map((c) => [c.id, c]));
  let merged = false;
  items = items.map((c) => {
    const k = known.get(c.id);
    let out = c;
    if (k && (k.last_seq || 0) > (c.last_seq || 0)) out = { ...out, last_message: k.last_message, last_seq: k.last_seq, last_activity_at: k.last_activity_at, unread_count: k.unread_count, mention_count: k.mention_count };
    if (k && (k.read_seq || 0) > (out.read_seq || 0)) out = { ...out, read_seq: k.read_seq, unread_count: k.unread_count, mention_count: k.mention_count };
    merged ||= out !== c;
    return out;
  });
  if (merged) items.sort(chatOrder);
  const sig = stable(items);
  state.chats = items;
  rememberUsers(items.map((c) => c.other_user).filter(Boolean));
  if (sig === state.chatsSig) return;
  state.chatsSig = sig;
  emit('chats');
}

export const chatById = (id) => state.chats.find((c) => c.id === id) || null;

/** Change one chat summary locally (after a call, or from a realtime event). */
export function patchChat(id, patch) {
  const i = state.chats.findIndex((c) => c.id === id);
  if (i < 0) return;
  state.chats = state.chats.map((c, j) => (j === i ? { ...c, ...patch } : c));
  state.chatsSig = stable(state.chats);
  emit('chats');
}

/** A new message in a chat of the list: preview, time, unread and mention counts, order. Dedupes by seq. */
export function noteNewMessage(m) {
  const c = chatById(m.chat_id);
  if (!c || m.seq <= (c.last_seq || 0)) return !!c;
  const fromOther = m.sender_id && m.sender_id !== state.me?.id;
  const unread = fromOther && m.type === 'text' && m.seq > (c.read_seq || 0);
  const mentioned = unread && (m.mentions || []).includes(state.me?.id);
  const next = {
    ...c,
    last_message: m,
    last_seq: m.seq,
    last_activity_at: Date.parse(m.created_at) > Date.parse(c.last_activity_at) ? m.created_at : c.last_activity_at,
    unread_count: (c.unread_count || 0) + (unread ? 1 : 0),
    mention_count: (c.mention_count || 0) + (mentioned ? 1 : 0),
  };
  state.chats = state.chats.map((x) => (x.id === c.id ? next : x)).sort(chatOrder);
  state.chatsSig = stable(state.chats);
  emit('chats');
  return true;
}

/** Forget a chat I left, was removed from, or that was deleted. */
export function dropChat(id) {
  state.details.delete(id);
  state.logs.delete(id);
  state.typing.delete(id);
  state.pins.delete(id);
  if (!chatById(id)) return;
  state.chats = state.chats.filter((c) => c.id !== id);
  state.chatsSig = stable(state.chats);
  emit('chats');
}

export function setDetails(chat) {
  const old = state.details.get(chat.id);
  state.details.set(chat.id, chat);
  rememberUsers(chat.members.map((m) => m.user));
  if (old && stable(old) === stable(chat)) return;
  emit(`chat:${chat.id}`, chat);
}

// Messages. A log holds what is loaded of one chat: server messages by id (each has its
// seq), messages on their way (by client_id), and what is known of others' reading.

export function log(chatId) {
  let l = state.logs.get(chatId);
  if (!l) {
    l = {
      byId: new Map(),
      pending: new Map(),
      loaded: false,
      hasOlder: true,
      loadingOlder: false,
      readAll: 0, // every other member (who shares receipts) has read up to this seq
      readSome: 0, // at least one has
      readers: new Map(), // user id → the highest read seq known of them (from read-status and `read` events)
      sharers: null, // Set of the other members who share read receipts, once read-status told us
      stale: false, // the socket was down while this log was not open: fetch what changed when it opens
      sorted: null,
    };
    state.logs.set(chatId, l);
  }
  return l;
}

const messageSig = (m) => `${m.edited_at}|${m.deleted}|${m.html}|${m.sender_blocked}|${JSON.stringify(m.reactions || [])}`;

export function upsertMessages(chatId, list) {
  const l = log(chatId);
  let changed = false;
  for (const m of list) {
    const old = l.byId.get(m.id);
    if (m.client_id && l.pending.has(m.client_id)) {
      l.pending.delete(m.client_id);
      changed = true;
    }
    if (!old || messageSig(old) !== messageSig(m)) {
      l.byId.set(m.id, m);
      changed = true;
    } else if (old !== m) {
      l.byId.set(m.id, m); // the same to look at, but its file URLs are fresher: no re-render
      l.sorted = null;
    }
  }
  if (changed) touch(chatId);
  return changed;
}

export function touch(chatId) {
  const l = log(chatId);
  l.sorted = null;
  emit(`log:${chatId}`);
}

/** Server messages oldest first, then the ones still on their way. */
export function messages(chatId) {
  const l = log(chatId);
  if (!l.sorted) {
    const sent = [...l.byId.values()].sort((a, b) => a.seq - b.seq);
    l.sorted = sent.concat([...l.pending.values()]);
  }
  return l.sorted;
}

/**
 * One emoji's reactions on a held message: `count` people now (0 drops the chip), `me` whether I
 * am one of them (undefined: as it was). A new emoji goes last (the order of first use).
 */
export function applyReaction(chatId, messageId, emoji, count, me) {
  const l = state.logs.get(chatId);
  const m = l?.byId.get(messageId);
  if (!m) return false;
  const list = [...(m.reactions || [])];
  const i = list.findIndex((r) => r.emoji === emoji);
  if (count <= 0) {
    if (i < 0) return false;
    list.splice(i, 1);
  } else if (i >= 0) list[i] = { ...list[i], count, me: me ?? list[i].me };
  else list.push({ emoji, count, me: !!me });
  l.byId.set(messageId, { ...m, reactions: list });
  touch(chatId);
  return true;
}

/** The message ids pinned in a chat (empty until its pins are loaded). */
export const pinnedIds = (chatId) => new Set((state.pins.get(chatId) || []).map((p) => p.message.id));

export function setPins(chatId, list) {
  const old = state.pins.get(chatId);
  state.pins.set(chatId, list);
  if (old && stable(old) === stable(list)) return;
  emit(`pins:${chatId}`);
}

export function newestSeq(chatId) {
  let max = 0;
  for (const m of log(chatId).byId.values()) if (m.seq > max) max = m.seq;
  return max;
}

export function oldestSeq(chatId) {
  let min = Infinity;
  for (const m of log(chatId).byId.values()) if (m.seq < min) min = m.seq;
  return min === Infinity ? 0 : min;
}

export function findMessage(chatId, id) {
  const l = log(chatId);
  return l.byId.get(id) || [...l.pending.values()].find((m) => m.id === id) || null;
}

// Read receipts. My messages show ✓✓ up to readAll (every other member who shares receipts
// has read it) and a lighter ✓✓ up to readSome; both only ever move forward.

/** Someone's read pointer moved (a `read` event: sent only for people who share receipts). */
export function noteReader(chatId, userId, seq) {
  const l = log(chatId);
  if ((l.readers.get(userId) || 0) < seq) l.readers.set(userId, seq);
  if (l.sharers && !l.sharers.has(userId)) l.sharers.add(userId);
  recomputeReceipts(chatId);
}

/** A read-status answer for one of my messages: who shares receipts, and who is at least that far. */
export function noteReadStatus(chatId, seq, rs) {
  const l = log(chatId);
  l.sharers = new Set([...rs.read_by.map((r) => r.user_id), ...rs.unread_by]);
  for (const r of rs.read_by) if ((l.readers.get(r.user_id) || 0) < seq) l.readers.set(r.user_id, seq);
  recomputeReceipts(chatId);
}

export function recomputeReceipts(chatId) {
  const l = log(chatId);
  const me = state.me?.id;
  const members = state.details.get(chatId)?.members.map((m) => m.user.id).filter((id) => id !== me);
  let who = l.sharers ? [...l.sharers] : members || [...l.readers.keys()];
  if (members) who = who.filter((id) => members.includes(id));
  if (!who.length) return;
  const seqs = who.map((id) => l.readers.get(id) || 0);
  const all = Math.max(l.readAll, Math.min(...seqs));
  const some = Math.max(l.readSome, Math.max(...seqs));
  if (all === l.readAll && some === l.readSome) return;
  l.readAll = all;
  l.readSome = some;
  touch(chatId);
}

// Typing hints

export function setTyping(chatId, userId, until) {
  if (!state.typing.has(chatId)) state.typing.set(chatId, new Map());
  state.typing.get(chatId).set(userId, until);
  emit('typing', chatId);
}

export function clearTyping(chatId, userId) {
  const m = state.typing.get(chatId);
  if (!m?.delete(userId)) return;
  if (!m.size) state.typing.delete(chatId);
  emit('typing', chatId);
}

/** Who is typing in a chat now (user ids). */
export function typingIn(chatId) {
  const m = state.typing.get(chatId);
  if (!m) return [];
  const now = Date.now();
  return [...m].filter(([, until]) => until > now).map(([id]) => id);
}

export function setContacts(part, list) {
  state.contacts[part] = list;
  rememberUsers(list.map((x) => x.user || x.from_user || x).filter(Boolean));
  if (part === 'incoming' || part === 'outgoing') rememberUsers(list.map((r) => r.to_user));
  emit('contacts');
}
