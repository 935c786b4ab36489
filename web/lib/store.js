// store.js — the client's state in one place, and who to tell when a part of it changes.
//
// Topics: 'me', 'chats' (the list), 'chat:<id>' (details and members), 'log:<id>' (messages),
// 'users' (profiles learned anywhere), 'contacts' (friends, requests, blocks, mutes), 'open'.

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

export function setChats(items) {
  const sig = stable(items);
  state.chats = items;
  rememberUsers(items.map((c) => c.other_user).filter(Boolean));
  if (sig === state.chatsSig) return;
  state.chatsSig = sig;
  emit('chats');
}

export const chatById = (id) => state.chats.find((c) => c.id === id) || null;

/** Change one chat summary locally (after a call that the next poll will confirm). */
export function patchChat(id, patch) {
  const i = state.chats.findIndex((c) => c.id === id);
  if (i < 0) return;
  state.chats = state.chats.map((c, j) => (j === i ? { ...c, ...patch } : c));
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
      sorted: null,
    };
    state.logs.set(chatId, l);
  }
  return l;
}

const messageSig = (m) => `${m.edited_at}|${m.deleted}|${m.html}|${m.sender_blocked}`;

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

export function setContacts(part, list) {
  state.contacts[part] = list;
  rememberUsers(list.map((x) => x.user || x.from_user || x).filter(Boolean));
  if (part === 'incoming' || part === 'outgoing') rememberUsers(list.map((r) => r.to_user));
  emit('contacts');
}
