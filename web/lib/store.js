// store.js — the client's state in one place, and who to tell when a part of it changes.
//
// Topics: 'me', 'chats' (the list), 'chat:<id>' (details and members), 'log:<id>' (messages),
// 'users' (profiles learned anywhere), 'contacts' (friends, requests, blocks, mutes), 'open',
// 'online' (the realtime connection is up or down), 'typing' (payload: the chat id),
// 'pins:<id>' (a chat's pinned messages), 'mention' (payload: a new message that mentions me),
// 'jump' (a message to show was asked for: state.jump), 'sessions' (my sessions changed),
// 'thread:<root id>' (a thread's root or replies), 'threads' (payload: {chatId, rootId}: a thread's
// summary, or my follow and read state in it, changed).

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
  jump: null, // {chatId, id, seq, rootId}: a message the open chat (or, with rootId, its thread) should scroll to (from Mentions or Search)
  threads: new Map(), // root id → Thread (below): the threads whose panel opened, or that the Threads page lists
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
  state.threads.clear();
  stateChangedAt.clear();
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
  if (threadOnly(m)) return !!c; // not in the timeline: neither its preview nor its unread count
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
  for (const [rootId, t] of state.threads) if (t.chatId === id) state.threads.delete(rootId);
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

// Messages. A log holds what is loaded of one chat's timeline: server messages by id (each has
// its seq), messages on their way (by client_id), and what is known of others' reading.
//
// Seqs are per chat and thread replies take them too, so the timeline has gaps in seq: a gap
// says nothing. What is not loaded between two held messages is recorded where it arises (a
// jump far up the history) as a hole: lower seq → upper seq.

/** A thread reply that is not also in the chat's timeline. */
export const threadOnly = (m) => !!m?.thread_root_id && !m.also_in_chat;

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
      holes: new Map(), // seq of a held message → seq of the next held one, with messages not loaded between them
      seenSeq: 0, // the highest seq that came live in this chat (thread replies too): a jump past it means something was missed
      sorted: null,
    };
    state.logs.set(chatId, l);
  }
  return l;
}

const messageSig = (m) => `${m.edited_at}|${m.deleted}|${m.html}|${m.sender_blocked}|${JSON.stringify(m.reactions || [])}|${JSON.stringify(m.thread || null)}`;

/** Messages into the timeline; thread replies also into their thread (if it is held), and only there when they are not in the chat. */
export function upsertMessages(chatId, list) {
  const l = log(chatId);
  let changed = false;
  const replies = [];
  for (let m of list) {
    m = fresherState(m);
    const old = l.byId.get(m.id);
    if (m.client_id && l.pending.has(m.client_id)) {
      l.pending.delete(m.client_id);
      changed = true;
    }
    if (m.thread_root_id) replies.push(m);
    if (state.threads.has(m.id)) setThreadRoot(m);
    if (threadOnly(m)) continue;
    if (!old || messageSig(old) !== messageSig(m)) {
      l.byId.set(m.id, m);
      changed = true;
    } else if (old !== m) {
      l.byId.set(m.id, m); // the same to look at, but its file URLs are fresher: no re-render
      l.sorted = null;
    }
  }
  if (replies.length) upsertReplies(replies);
  if (changed) touch(chatId);
  return changed;
}

export function touch(chatId) {
  const l = log(chatId);
  l.sorted = null;
  for (const t of state.threads.values()) if (t.chatId === chatId) t.sorted = null; // replies on their way are in the log
  emit(`log:${chatId}`);
}

/** Server messages oldest first, then the ones still on their way (replies on their way to a thread show in its panel). */
export function messages(chatId) {
  const l = log(chatId);
  if (!l.sorted) {
    const sent = [...l.byId.values()].sort((a, b) => a.seq - b.seq);
    l.sorted = sent.concat([...l.pending.values()].filter((m) => !m.thread_root_id));
  }
  return l.sorted;
}

/**
 * Every main-timeline message from seq `from` to `to` is held now (a page that came in one piece):
 * the holes it covers close, or shrink to what is left of them.
 */
export function noteLoaded(chatId, from, to) {
  const l = log(chatId);
  for (const [a, b] of [...l.holes]) {
    if (to <= a || from >= b) continue;
    l.holes.delete(a);
    if (from > a) l.holes.set(a, from);
    if (to < b) l.holes.set(to, b);
  }
}

/**
 * One emoji's reactions on a held message: `count` people now (0 drops the chip), `me` whether I
 * am one of them (undefined: as it was). A new emoji goes last (the order of first use).
 */
export function applyReaction(chatId, messageId, emoji, count, me) {
  const l = state.logs.get(chatId);
  const inLog = l?.byId.get(messageId);
  const inThread = threadMessage(messageId);
  const m = inLog || inThread;
  if (!m) return false;
  const list = [...(m.reactions || [])];
  const i = list.findIndex((r) => r.emoji === emoji);
  if (count <= 0) {
    if (i < 0) return false;
    list.splice(i, 1);
  } else if (i >= 0) list[i] = { ...list[i], count, me: me ?? list[i].me };
  else list.push({ emoji, count, me: !!me });
  if (inLog) {
    l.byId.set(messageId, { ...inLog, reactions: list });
    touch(chatId);
  }
  if (inThread) replaceInThread({ ...inThread, reactions: list });
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
  return l.byId.get(id) || [...l.pending.values()].find((m) => m.id === id) || threadMessage(id) || null;
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

// Threads. A thread is held once its panel opened (or the Threads page listed its root): the root
// (its `thread` summary kept current by events) and the replies loaded so far, by id. Replies on
// their way wait in the chat log's `pending` like any message (so sending, retrying and failing
// work the same), marked with their thread_root_id.

export function thread(chatId, rootId) {
  let t = state.threads.get(rootId);
  if (!t) {
    t = { chatId, root: null, replies: new Map(), loaded: false, hasOlder: false, loadingOlder: false, sorted: null };
    state.threads.set(rootId, t);
  }
  return t;
}

/** The freshest copy known of a root: the held thread's, or the timeline's. */
export const threadRoot = (chatId, rootId) => state.threads.get(rootId)?.root || state.logs.get(chatId)?.byId.get(rootId) || null;

/** A held thread's message (its root or a reply) by id. */
export function threadMessage(id) {
  for (const t of state.threads.values()) {
    if (t.root?.id === id) return t.root;
    const m = t.replies.get(id);
    if (m) return m;
  }
  return null;
}

export function touchThread(rootId) {
  const t = state.threads.get(rootId);
  if (t) t.sorted = null;
  emit(`thread:${rootId}`);
}

// My state in a thread (following, unread_count) changes by my own calls, `thread.state` and replies
// as they come; a root fetched while such a change was on its way must not undo it. Each change
// takes a number, a fetched page carries the number current when it was asked for (fetchedAt), and
// a root in it whose state changed since keeps the state held.
let threadChanges = 0;
const stateChangedAt = new Map(); // root id → the number of its last change of state
const FETCHED = Symbol('fetched');

export const threadMark = () => threadChanges;

/** Marks the messages of a fetched answer (MessageView[], {root, replies} or [{chat_id, root}]) with `mark`. */
export function fetchedAt(data, mark) {
  const tag = (m) => m && typeof m === 'object' && Object.defineProperty(m, FETCHED, { value: mark });
  for (const x of Array.isArray(data) ? data : [data]) {
    tag(x?.root || x);
    (x?.replies || []).forEach(tag);
  }
  return data;
}

/** A fetched root, with my state in its thread as held when that changed after the fetch began. */
function fresherState(m) {
  if (!m.thread || m[FETCHED] === undefined || (stateChangedAt.get(m.id) || 0) <= m[FETCHED]) return m;
  const held = threadRoot(m.chat_id, m.id)?.thread;
  return held ? { ...m, thread: { ...m.thread, following: held.following, unread_count: held.unread_count } } : m;
}

/** A root from the server (the thread's answer, the Threads page, the timeline): kept if its thread is held. */
export function setThreadRoot(root) {
  root = fresherState(root);
  const t = thread(root.chat_id, root.id);
  const old = t.root;
  t.root = root;
  if (!old || messageSig(old) !== messageSig(root)) touchThread(root.id);
}

/** Replies into the threads held (the others are not kept: the panel fetches its thread when it opens). */
export function upsertReplies(list) {
  const touched = new Set();
  for (const m of list) {
    const t = state.threads.get(m.thread_root_id);
    if (!t) continue;
    const l = state.logs.get(t.chatId);
    if (m.client_id && l?.pending.delete(m.client_id)) {
      touched.add(m.thread_root_id);
      touch(t.chatId);
    }
    const old = t.replies.get(m.id);
    t.replies.set(m.id, m);
    t.sorted = null; // the same to look at perhaps, but its file URLs are fresher
    if (!old || messageSig(old) !== messageSig(m)) touched.add(m.thread_root_id);
  }
  touched.forEach(touchThread);
}

function replaceInThread(m) {
  const rootId = m.thread_root_id || m.id;
  const t = state.threads.get(rootId);
  if (!t) return;
  if (t.root?.id === m.id) t.root = m;
  else t.replies.set(m.id, m);
  touchThread(rootId);
}

/** A held thread's replies oldest first, then mine on their way. */
export function threadReplies(rootId) {
  const t = state.threads.get(rootId);
  if (!t) return [];
  if (!t.sorted) {
    const pending = [...(state.logs.get(t.chatId)?.pending.values() || [])].filter((m) => m.thread_root_id === rootId);
    t.sorted = [...t.replies.values()].sort((a, b) => a.seq - b.seq).concat(pending);
  }
  return t.sorted;
}

/**
 * A thread's summary or my state in it changed (`thread.updated`, `thread.state`, a follow or read
 * call): the root shows it wherever it is held. A root without a thread yet gets one (whether I
 * follow it stays unknown, not false, until something says).
 */
export function patchThread(chatId, rootId, patch) {
  if ('following' in patch || 'unread_count' in patch) stateChangedAt.set(rootId, ++threadChanges);
  const apply = (m) => ({ ...m, thread: { reply_count: 0, participant_ids: [], ...m.thread, ...patch } });
  const l = state.logs.get(chatId);
  const inLog = l?.byId.get(rootId);
  if (inLog) {
    l.byId.set(rootId, apply(inLog));
    touch(chatId);
  }
  const t = state.threads.get(rootId);
  if (t?.root) {
    t.root = apply(t.root);
    touchThread(rootId);
  }
  emit('threads', { chatId, rootId });
}
