// actions.js — what the UI can do: each function calls the API and puts the answer in the store.

import * as api from './api.js';
import * as store from './store.js';
import { state, emit } from './store.js';

const PAGE = 50;
/** How long a message sent over the socket waits for its `ack` before it shows as not sent. */
const ACK_WAIT = 15_000;

/** GET messages (a page, a thread, threads): marked with when they were asked for, so that a root in them does not undo a follow or read made meanwhile. */
async function getMessages(path) {
  const mark = store.threadMark();
  return store.fetchedAt(await api.get(path), mark);
}

/** realtime.js sets this while its socket is up: send(frame) → whether the frame went out; readyAt, when it got `ready`. */
let socket = null;
export function useSocket(s) {
  socket = s;
}

export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Me

export async function loadMe() {
  state.me = await api.get('/auth/me');
  emit('me');
  return state.me;
}

export async function updateMe(body) {
  state.me = await api.put('/users/me', body);
  emit('me');
  return state.me;
}

export async function setStatus(body) {
  await api.put('/users/me/status', body);
  return loadMe();
}

/** An image as multipart field `file` (PUT …/avatar). */
function imageForm(file) {
  const form = new FormData();
  form.append('file', file, file.name || 'avatar');
  return form;
}

/** What a person reads when an avatar is refused. */
function avatarError(e) {
  if (e.status === 415) e.message = 'That is not an image: use a JPEG, PNG, GIF or WebP picture.';
  else if (e.status === 413) e.message = 'That picture is too large.';
  return e;
}

export async function setMyAvatar(file) {
  try {
    state.me = await api.put('/users/me/avatar', imageForm(file));
  } catch (e) {
    throw avatarError(e);
  }
  emit('me');
  return state.me;
}

export async function removeMyAvatar() {
  state.me = await api.del('/users/me/avatar');
  emit('me');
  return state.me;
}

// Chats

export async function loadChats() {
  const page = await api.get('/chats?limit=100');
  store.setChats(page.items);
  return page;
}

let chatsTimer = null;
/** One GET /chats for a burst of events that each would want one. */
export function loadChatsSoon(ms = 250) {
  if (chatsTimer) return;
  chatsTimer = setTimeout(() => {
    chatsTimer = null;
    loadChats().catch(() => {});
  }, ms);
}

export const searchChats = (q) => api.get(api.query('/chats', { q, limit: 50 }));

export async function loadDetails(chatId) {
  const chat = await api.get(`/chats/${chatId}`);
  store.setDetails(chat);
  return chat;
}

export async function openDirect(userId) {
  const chat = await api.post('/chats', { type: 'direct', user_id: userId });
  store.setDetails(chat);
  loadChats().catch(() => {});
  return chat;
}

export async function createGroup(name, description, memberIds) {
  const chat = await api.post('/chats', { type: 'group', name, description, member_ids: memberIds });
  store.setDetails(chat);
  await loadChats().catch(() => {});
  return chat;
}

export async function updateChat(chatId, body) {
  const chat = await api.put(`/chats/${chatId}`, body);
  store.setDetails(chat);
  loadChats().catch(() => {});
  return chat;
}

export async function updateMySettings(chatId, body) {
  const me = await api.put(`/chats/${chatId}/settings`, body);
  store.patchChat(chatId, me);
  loadChatsSoon(); // pinned and archived move it in the list (no event tells of my own settings)
  const d = state.details.get(chatId);
  if (d) store.setDetails({ ...d, me: { ...d.me, ...me } });
  return me;
}

export async function setChatAvatar(chatId, file) {
  let chat;
  try {
    chat = await api.put(`/chats/${chatId}/avatar`, imageForm(file));
  } catch (e) {
    throw avatarError(e);
  }
  store.setDetails(chat);
  loadChatsSoon();
  return chat;
}

export async function removeChatAvatar(chatId) {
  const chat = await api.del(`/chats/${chatId}/avatar`);
  store.setDetails(chat);
  loadChatsSoon();
  return chat;
}

export async function deleteChat(chatId) {
  await api.del(`/chats/${chatId}`);
  state.details.delete(chatId);
  state.logs.delete(chatId);
  await loadChats();
}

export async function addMembers(chatId, userIds) {
  store.setDetails(await api.post(`/chats/${chatId}/members`, { user_ids: userIds }));
}

export async function setRole(chatId, userId, role) {
  store.setDetails(await api.put(`/chats/${chatId}/members/${userId}`, { role }));
}

export async function removeMember(chatId, userId) {
  await api.del(`/chats/${chatId}/members/${userId}`);
  if (userId === 'me' || userId === state.me.id) {
    state.details.delete(chatId);
    state.logs.delete(chatId);
    await loadChats();
  } else {
    await loadDetails(chatId);
  }
}

// Messages

/** The newest page, once per chat; later pages come from loadOlder and fetchNewer. */
export async function loadInitial(chatId) {
  const l = store.log(chatId);
  if (l.loaded) {
    // Missed while the socket was down and this chat was closed: edits and deletions (new messages came by resume).
    if (l.stale) {
      l.stale = false;
      await refreshRecent(chatId);
    }
    return;
  }
  const asked = Date.now();
  const page = await getMessages(`/chats/${chatId}/messages?limit=${PAGE}`);
  l.loaded = true;
  l.hasOlder = page.length > 0 && page[0].seq > 1;
  store.upsertMessages(chatId, page);
  store.touch(chatId);
  // The socket came up while this page was on its way: what was sent in between came by neither.
  if (socket && socket.readyAt > asked) await fetchAfter(chatId, page.at(-1)?.seq || 0);
}

export async function loadOlder(chatId) {
  const l = store.log(chatId);
  if (!l.loaded || !l.hasOlder || l.loadingOlder) return;
  l.loadingOlder = true;
  store.touch(chatId);
  try {
    const before = store.oldestSeq(chatId);
    const epoch = l.epoch;
    const page = await getMessages(`/chats/${chatId}/messages?before=${before}&limit=${PAGE}`);
    if (l.epoch !== epoch) return; // the log was reset meanwhile (resync): this page no longer joins it
    l.hasOlder = page.length > 0 && page[0].seq > 1;
    store.upsertMessages(chatId, page);
  } finally {
    l.loadingOlder = false;
    store.touch(chatId);
  }
}

/**
 * After `resync` (too much missed to replay): the newest page again. Unless it surely joins what is
 * loaded (it overlaps it, follows it seq for seq, or goes back to the start of the chat), the older
 * part is dropped (scrolling up loads it again): thread replies take seqs too, so a gap in seq may hide messages or not.
 */
export async function reloadNewest(chatId) {
  const page = await getMessages(`/chats/${chatId}/messages?limit=${PAGE}`);
  const l = store.log(chatId);
  if (!l.loaded || (page.length === PAGE && page[0].seq > store.newestSeq(chatId) + 1)) {
    l.byId.clear();
    l.holes.clear();
    l.epoch = (l.epoch || 0) + 1; // a page asked for before this (refreshRecent's) must not bring the dropped part back
    l.hasOlder = page.length > 0 && page[0].seq > 1;
  }
  l.loaded = true;
  l.stale = false;
  store.upsertMessages(chatId, page);
  store.touch(chatId);
}

/** The seq just before the newest `n` messages held (seqs have gaps: counted in messages, not seqs). */
function beforeNewest(chatId, n) {
  const held = store.messages(chatId).filter((m) => !m.pending);
  return held.length > n ? held.at(-n - 1).seq : Math.max(0, (held[0]?.seq || 1) - 1);
}

/** New messages, and edits or deletions among the last few (after the socket was down: those are not replayed). */
export async function fetchNewer(chatId, overlap = 20) {
  const l = store.log(chatId);
  if (!l.loaded) return loadInitial(chatId);
  return fetchAfter(chatId, beforeNewest(chatId, overlap));
}

/** The newest `n` messages held, again: edits and deletions are not replayed by resume. */
export async function refreshRecent(chatId, n = 20) {
  const after = beforeNewest(chatId, n);
  const l = store.log(chatId);
  const epoch = l.epoch;
  const page = await getMessages(`/chats/${chatId}/messages?after=${after}&limit=${n}`);
  if (l.epoch === epoch && store.log(chatId) === l) store.upsertMessages(chatId, page);
}

/** Everything after seq `after` (a live message came past what was seen: something was missed). */
export const fetchSince = (chatId, after) => fetchAfter(chatId, after);

async function fetchAfter(chatId, after) {
  for (let i = 0; i < 10; i++) {
    const page = await getMessages(`/chats/${chatId}/messages?after=${after}&limit=100`);
    store.upsertMessages(chatId, page);
    if (page.length < 100) break;
    after = page.at(-1).seq;
  }
}

/**
 * The messages around `seq` (to show a pinned or mentioned message that is not loaded). Unless the
 * page overlaps what is held, the timeline may go on unseen between it and the held messages on
 * either side: a hole (the chat shows "Show more messages" there). One spanning at most 101 seqs
 * (so at most 100 messages) is filled at once.
 */
export async function loadAround(chatId, seq) {
  const l = store.log(chatId);
  const page = await getMessages(`/chats/${chatId}/messages?around=${seq}&limit=50`);
  if (!page.length) return;
  const held = store.messages(chatId).filter((m) => !m.pending).map((m) => m.seq);
  const first = page[0].seq;
  const last = page.at(-1).seq;
  if (!held.length || first < held[0]) l.hasOlder = first > 1;
  const overlaps = held.some((s) => s >= first && s <= last);
  const below = held.filter((s) => s < first).at(-1);
  const above = held.find((s) => s > last);
  store.upsertMessages(chatId, page);
  store.noteLoaded(chatId, first, last);
  if (!overlaps) {
    if (below !== undefined) l.holes.set(below, first);
    if (above !== undefined) l.holes.set(last, above);
  }
  for (const [a, b] of [...l.holes]) if ((a === last || b === first) && b - a <= 101) await fillGap(chatId, a, b);
  store.touch(chatId);
}

/** Messages after `after` into a hole of the log that ends at `before` (100 at most): it closes, or shrinks to what is still not loaded. */
export async function fillGap(chatId, after, before) {
  const limit = Math.min(100, Math.max(1, before - after));
  const page = await getMessages(`/chats/${chatId}/messages?after=${after}&limit=${limit}`);
  store.upsertMessages(chatId, page);
  // The page follows `after` without a break; it reached `before`, or there is nothing more.
  const reached = page.length < limit || page.at(-1).seq >= before;
  store.noteLoaded(chatId, after, reached ? before : page.at(-1).seq);
  store.touch(chatId);
}

/**
 * Optimistic send: the message shows at once and is matched to the server's copy by client_id.
 * `attachments`: uploaded FileViews. In a thread: `threadRootId`, and `alsoInChat` to show it in the timeline too.
 */
export function sendMessage(chatId, content, replyTo = null, attachments = [], { threadRootId = null, alsoInChat = false } = {}) {
  const client_id = newClientId();
  const temp = {
    id: `pending-${client_id}`,
    client_id,
    chat_id: chatId,
    seq: Number.MAX_SAFE_INTEGER,
    sender_id: state.me.id,
    type: 'text',
    content,
    html: null,
    reply_to: replyTo,
    thread_root_id: threadRootId,
    also_in_chat: !!threadRootId && alsoInChat,
    thread: null,
    created_at: new Date().toISOString(),
    mentions: [],
    attachments,
    deleted: false,
    pending: true,
    failed: false,
  };
  store.log(chatId).pending.set(client_id, temp);
  store.touch(chatId);
  return deliver(chatId, temp);
}

/** Over the socket when it is open (the answer comes as `ack` or `error`), else by HTTP. Sends are idempotent by client_id. */
export async function deliver(chatId, temp) {
  temp.failed = false;
  temp.error = null;
  temp.retryable = false;
  clearTimeout(temp.ackTimer);
  store.touch(chatId);
  const attachments = (temp.attachments || []).map((f) => f.id);
  const inThread = temp.thread_root_id ? { thread_root_id: temp.thread_root_id, also_in_chat: temp.also_in_chat } : {};
  const frame = { type: 'message.send', chat_id: chatId, content: temp.content, client_id: temp.client_id, reply_to: temp.reply_to || null, attachments, ...inThread };
  if (socket?.send(frame)) {
    temp.via = 'ws';
    temp.ackTimer = setTimeout(() => sendFailed(chatId, temp, 'No answer from the server', true), ACK_WAIT);
    return null;
  }
  temp.via = 'http';
  try {
    const m = await api.post(`/chats/${chatId}/messages`, { content: temp.content, client_id: temp.client_id, reply_to: temp.reply_to, attachments, ...inThread });
    committed(m);
    return m;
  } catch (e) {
    sendFailed(chatId, temp, e.message, e.status === 0 || e.status === 429 || e.status >= 500);
    return null;
  }
}

/** My message is in (an `ack`, or the HTTP answer): it replaces the optimistic copy. */
export function committed(m) {
  const l = state.logs.get(m.chat_id);
  const temp = m.client_id && l?.pending.get(m.client_id);
  if (temp) clearTimeout(temp.ackTimer);
  if (l) store.upsertMessages(m.chat_id, [m]);
  // Replying in a thread follows it (again).
  if (m.thread_root_id && store.threadRoot(m.chat_id, m.thread_root_id)?.thread?.following !== true) store.patchThread(m.chat_id, m.thread_root_id, { following: true });
  if (!store.noteNewMessage(m)) loadChatsSoon();
}

function sendFailed(chatId, temp, message, retryable) {
  clearTimeout(temp.ackTimer);
  if (!store.log(chatId).pending.has(temp.client_id)) return; // it came in meanwhile
  temp.via = null;
  temp.failed = true;
  temp.error = message;
  temp.retryable = retryable;
  store.touch(chatId);
}

/** An `error` event for a message.send: that send failed (Retry shows). Whether it was one of ours. */
export function refused(clientId, code, detail) {
  for (const [chatId, l] of state.logs) {
    const temp = l.pending.get(clientId);
    if (temp) {
      sendFailed(chatId, temp, detail, code === 429 || code >= 500);
      return true;
    }
  }
  return false;
}

/** The socket closed: sends still waiting for their ack go again by HTTP (harmless if they were committed). */
export function socketClosed() {
  for (const [chatId, l] of state.logs) for (const m of l.pending.values()) if (m.via === 'ws' && !m.failed) deliver(chatId, m);
}

export function discardPending(chatId, clientId) {
  store.log(chatId).pending.delete(clientId);
  store.touch(chatId);
}

/** Retry the sends that failed for want of a connection (after it comes back). */
export function retryFailed() {
  for (const [chatId, l] of state.logs) for (const m of l.pending.values()) if (m.failed && m.retryable) deliver(chatId, m);
}

export async function editMessage(chatId, messageId, content) {
  const m = await api.put(`/chats/${chatId}/messages/${messageId}`, { content });
  store.upsertMessages(chatId, [m]);
  return m;
}

export async function deleteMessage(chatId, messageId) {
  await api.del(`/chats/${chatId}/messages/${messageId}`);
  const m = store.findMessage(chatId, messageId);
  if (m) store.upsertMessages(chatId, [{ ...m, deleted: true, content: '', html: '', reactions: [] }]);
  if (store.pinnedIds(chatId).has(messageId)) pinsChanged(chatId);
}

/** Forward a message to other chats (at most 10; all or none). The copies come live too; a loaded log takes them at once. */
export async function forwardMessage(chatId, messageId, toChatIds) {
  const copies = await api.post(`/chats/${chatId}/messages/${messageId}/forward`, { to_chat_ids: toChatIds });
  for (const m of copies) if (state.logs.get(m.chat_id)?.loaded) store.upsertMessages(m.chat_id, [m]);
  loadChatsSoon();
  return copies;
}

const refetching = new Map();

/** The message again (its attachments' signed URLs run out after a while): one call per message at a time. A thread-only reply comes from its thread. */
export function refetchMessage(chatId, m) {
  if (m.pending) return Promise.resolve(m);
  const key = `${chatId} ${m.id}`;
  const path = store.threadOnly(m) ? `${threadPath(chatId, m.thread_root_id)}?after=${m.seq - 1}&limit=1` : `/chats/${chatId}/messages?after=${m.seq - 1}&limit=1`;
  if (!refetching.has(key)) {
    refetching.set(
      key,
      getMessages(path)
        .then((answer) => {
          const page = Array.isArray(answer) ? answer : answer.replies;
          store.upsertMessages(chatId, page);
          return page.find((x) => x.id === m.id) || m;
        })
        .finally(() => refetching.delete(key))
    );
  }
  return refetching.get(key);
}

// Reactions. Toggling shows at once; the `reaction.updated` event that follows (mine come back
// too) brings the true count, and a refused call fetches the message again.

const emojiPath = (chatId, messageId, emoji) => `/chats/${chatId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`;

/** Add my `emoji` to a message, or take it back if it is there (`add` forces one way). */
export async function toggleReaction(chatId, messageId, emoji, add) {
  const m = store.findMessage(chatId, messageId);
  if (!m || m.pending) return;
  const mine = (m.reactions || []).find((r) => r.emoji === emoji);
  add ??= !mine?.me;
  if (add !== !!mine?.me) store.applyReaction(chatId, messageId, emoji, (mine?.count || 0) + (add ? 1 : -1), add);
  try {
    if (add) await api.put(emojiPath(chatId, messageId, emoji));
    else await api.del(emojiPath(chatId, messageId, emoji));
  } catch (e) {
    refetchMessage(chatId, m).catch(() => {});
    if (e.status === 422 && /at most/.test(e.message)) e.message = 'This message has as many different reactions as it can take.';
    throw e;
  }
}

/** Who reacted to a message with `emoji`: [{user, reacted_at}], first first. */
export async function reactors(chatId, messageId, emoji) {
  const list = await api.get(emojiPath(chatId, messageId, emoji));
  store.rememberUsers(list.map((r) => r.user));
  return list;
}

// Pins: the list is fetched when a chat opens, and again when a `pin.updated` event says it changed.

export async function loadPins(chatId) {
  const list = await api.get(`/chats/${chatId}/pins`);
  store.setPins(chatId, list);
  return list;
}

const pinTimers = new Map();
/** A pin changed (an event, or my own call): one reload of a chat's pins, if they are held. */
export function pinsChanged(chatId, ms = 150) {
  if (!state.pins.has(chatId) || pinTimers.has(chatId)) return;
  pinTimers.set(
    chatId,
    setTimeout(() => {
      pinTimers.delete(chatId);
      loadPins(chatId).catch(() => {});
    }, ms)
  );
}

export async function pinMessage(chatId, messageId) {
  try {
    await api.post(`/chats/${chatId}/pins/${messageId}`);
  } catch (e) {
    if (e.status === 409) e.message = 'This chat has as many pinned messages as it can take (50): unpin one first.';
    throw e;
  }
  await loadPins(chatId);
}

export async function unpinMessage(chatId, messageId) {
  await api.del(`/chats/${chatId}/pins/${messageId}`);
  await loadPins(chatId);
}

// Threads. A reply names its root (a text message of the timeline); the root carries the thread's
// summary (`thread`: replies, last reply, participants, and whether I follow it and how many replies
// there I have not read). Replies take seqs in the chat like any message.

const THREAD_PAGE = 50;
const threadPath = (chatId, rootId) => `/chats/${chatId}/messages/${rootId}/thread`;

/** A root from the server: into its thread, and the timeline's copy too if it is held there. */
function holdRoot(root) {
  store.setThreadRoot(root);
  if (state.logs.get(root.chat_id)?.byId.has(root.id)) store.upsertMessages(root.chat_id, [root]);
}

/** A thread's root and newest replies: each time its panel opens (what changed while it was closed comes too). */
export async function loadThread(chatId, rootId) {
  const t = store.thread(chatId, rootId);
  const page = await getMessages(api.query(threadPath(chatId, rootId), { limit: THREAD_PAGE }));
  const newest = Math.max(0, ...[...t.replies.values()].map((m) => m.seq));
  // Held replies this page does not reach (many came while the panel was closed) go: "Show older replies" brings them again.
  if (page.replies.length >= THREAD_PAGE && newest && page.replies[0].seq > newest) t.replies.clear();
  if (!t.loaded || !t.replies.size) t.hasOlder = page.replies.length >= THREAD_PAGE;
  t.loaded = true;
  holdRoot(page.root);
  store.upsertReplies(page.replies);
  store.touchThread(rootId);
  return page;
}

/** The page of replies before the oldest held. */
export async function loadOlderReplies(chatId, rootId) {
  const t = store.thread(chatId, rootId);
  if (!t.loaded || !t.hasOlder || t.loadingOlder) return;
  t.loadingOlder = true;
  store.touchThread(rootId);
  try {
    const before = Math.min(...[...t.replies.values()].map((m) => m.seq));
    const page = await getMessages(api.query(threadPath(chatId, rootId), { before: Number.isFinite(before) ? before : null, limit: THREAD_PAGE }));
    t.hasOlder = page.replies.length >= THREAD_PAGE;
    store.upsertReplies(page.replies);
  } finally {
    t.loadingOlder = false;
    store.touchThread(rootId);
  }
}

const fillingThreads = new Set();

/**
 * `thread.updated`: the root shows the new summary. A held thread whose newest reply is newer than
 * any held (one missed while the socket was down, or that came before the root was known) fetches it.
 */
export function threadChanged(chatId, rootId, summary) {
  store.patchThread(chatId, rootId, summary);
  const t = state.threads.get(rootId);
  if (!t?.loaded || fillingThreads.has(rootId)) return;
  const newest = Math.max(0, ...[...t.replies.values()].map((m) => m.seq));
  if (!summary.last_reply_seq || summary.last_reply_seq <= newest) return;
  fillingThreads.add(rootId);
  getMessages(api.query(threadPath(chatId, rootId), { after: newest, limit: 100 }))
    .then((page) => store.upsertReplies(page.replies))
    .catch(() => {})
    .finally(() => fillingThreads.delete(rootId));
}

/**
 * My state in a thread (following, unread replies) from a call's ThreadView or a `thread.state`
 * event: the root shows it, and the chat's count of unread thread replies moves by the difference
 * (asked of the server when this thread's count was not known).
 */
export function applyThreadView(chatId, rootId, view) {
  const root = store.threadRoot(chatId, rootId);
  const t = root?.thread;
  const was = !root ? null : !t ? 0 : typeof t.unread_count === 'number' ? t.unread_count : null;
  store.patchThread(chatId, rootId, view);
  const c = store.chatById(chatId);
  if (!c) return;
  if (was === null) return loadChatsSoon();
  if (was !== view.unread_count) store.patchChat(chatId, { thread_unread_count: Math.max(0, (c.thread_unread_count || 0) - was + (view.unread_count || 0)) });
}

/** A root again, with my state in its thread (whether I follow it, what I have not read), wherever it is held. */
export async function refreshRoot(chatId, rootId) {
  if (!store.threadRoot(chatId, rootId)) return;
  holdRoot((await getMessages(api.query(threadPath(chatId, rootId), { limit: 1 }))).root);
}

export async function followThread(chatId, rootId, following) {
  applyThreadView(chatId, rootId, await api.put(`${threadPath(chatId, rootId)}/follow`, { following }));
}

const markingThreads = new Map(); // root id → the seq last asked to be marked read

/** Move my read pointer in a thread to `upToSeq` (its newest reply shown), once per seq. */
export async function markThreadRead(chatId, rootId, upToSeq) {
  if (!upToSeq || (markingThreads.get(rootId) || 0) >= upToSeq) return;
  markingThreads.set(rootId, upToSeq);
  try {
    applyThreadView(chatId, rootId, await api.post(`${threadPath(chatId, rootId)}/read`, { up_to_seq: upToSeq }));
  } catch {
    markingThreads.delete(rootId);
  }
}

/** Threads I follow in my chats ([{chat_id, root}]), newest activity first; `before`: the last_reply_at of the last one held. */
export async function followedThreads(before = null, limit = 30) {
  const page = await getMessages(api.query('/threads', { before, limit }));
  for (const item of page) holdRoot(item.root);
  return page;
}

/** Messages that mention me, newest first (each with its chat_id); `before`: the created_at of the last one held. */
export const mentions = (before = null, limit = 30) => api.get(api.query('/mentions', { before, limit }));

/**
 * Message search (`GET /search/messages`): `q` is words, "phrases" and -exclusions; `chatId` keeps
 * to one chat, `has` is 'file' or 'link'. → {results: [{message, chat_name, chat_type, snippet_html}],
 * next_cursor}, whole-word matches first, newest first within them.
 */
export const searchMessages = ({ q, chatId = null, has = null, cursor = null, limit = 20 }) => api.get(api.query('/search/messages', { q, chat_id: chatId, has, cursor, limit }));

export const messageHistory = (chatId, messageId) => api.get(`/chats/${chatId}/messages/${messageId}/history`);
export const readStatus = (chatId, messageId) => api.get(`/chats/${chatId}/messages/${messageId}/read-status`);

const marking = new Map();

/** Move my read pointer to the newest loaded message, if it is ahead. */
export async function markRead(chatId) {
  const newest = store.newestSeq(chatId);
  const chat = store.chatById(chatId);
  const known = Math.max(chat?.read_seq || 0, marking.get(chatId) || 0);
  if (!newest || newest <= known) return;
  marking.set(chatId, newest);
  try {
    const r = await api.put(`/chats/${chatId}/messages/read`, { up_to_seq: newest });
    store.patchChat(chatId, { read_seq: r.read_seq, unread_count: r.unread_count, mention_count: r.unread_count ? chat?.mention_count : 0 });
  } catch {
    marking.delete(chatId);
  }
}

/**
 * Where others' read pointers stand, for the receipts of the loaded messages (on opening a chat,
 * and after the socket was down; `read` events keep them current after that). One read-status
 * call for my newest message; if not everyone has read it, a binary search over my earlier ones.
 */
export async function refreshReceipts(chatId) {
  const l = store.log(chatId);
  const open = store.messages(chatId).filter((m) => !m.pending && !m.deleted && m.sender_id === state.me.id && m.type === 'text' && m.seq > l.readAll);
  if (!open.length) return;
  const allRead = async (m) => {
    const rs = await readStatus(chatId, m.id);
    store.noteReadStatus(chatId, m.seq, rs);
    return rs.read_by.length > 0 && rs.unread_by.length === 0;
  };
  if ((await allRead(open.at(-1))) || !l.sharers?.size) return;
  let lo = Math.max(0, open.length - 64);
  let hi = open.length - 2;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (await allRead(open[mid])) lo = mid + 1;
    else hi = mid - 1;
  }
}

// People and contacts

const inflight = new Map();

/** A profile we have not seen yet (say, the author of an old message who has left). */
export function ensureUser(id) {
  if (!id || store.userById(id) || inflight.has(id)) return;
  inflight.set(
    id,
    api
      .get(`/users/${id}`)
      .then((u) => store.rememberUsers([u]))
      .catch(() => store.rememberUsers([{ id, display_name: 'Unknown user', username: '', is_deleted: false }]))
  );
}

/** Someone's profile changed (a `user.updated` event): fetch it again if it is shown anywhere. */
export async function refreshUser(id) {
  if (id === state.me?.id) return loadMe();
  if (!store.userById(id) && !state.chats.some((c) => c.other_user?.id === id)) return;
  store.rememberUsers([await api.get(`/users/${id}`)]);
  // The people lists hold their own copies (names there): fetch those that show this person.
  const c = state.contacts;
  if (c.friends?.some((f) => f.user.id === id)) loadFriends().catch(() => {});
  if ([...(c.incoming || []), ...(c.outgoing || [])].some((r) => r.from_user.id === id || r.to_user.id === id)) loadRequests().catch(() => {});
}

const staleAvatars = new Map(); // user or chat id → when its avatar URL was last refreshed
/** An avatar image failed to load with a signed URL that ran out: fetch the profile or chat again (once in a while). */
export function avatarExpired(id, isChat) {
  if (Date.now() - (staleAvatars.get(id) || 0) < 300_000) return;
  staleAvatars.set(id, Date.now());
  if (isChat) {
    loadChatsSoon();
    if (state.details.has(id)) loadDetails(id).catch(() => {});
  } else refreshUser(id).catch(() => {});
}

export const getUser = (id) => api.get(`/users/${id}`).then((u) => (store.rememberUsers([u]), u));
export const searchUsers = (q, skip = 0, limit = 20) => api.get(api.query('/users', { q, skip, limit }));

export async function loadFriends() {
  store.setContacts('friends', await api.get('/friends'));
}
export async function loadRequests() {
  const [incoming, outgoing] = await Promise.all([api.get('/friends/requests?direction=incoming'), api.get('/friends/requests?direction=outgoing')]);
  store.setContacts('incoming', incoming);
  store.setContacts('outgoing', outgoing);
}
export async function loadBlocked() {
  store.setContacts('blocked', await api.get('/users/me/blocked'));
}
export async function loadMuted() {
  store.setContacts('muted', await api.get('/users/me/muted'));
}
export const loadContacts = () => Promise.all([loadFriends(), loadRequests(), loadBlocked(), loadMuted()]);

async function thenReload(promise, ...loaders) {
  const r = await promise;
  await Promise.all(loaders.map((f) => f()));
  return r;
}

export const sendFriendRequest = (userId) => thenReload(api.post('/friends/requests', { user_id: userId }), loadRequests, loadFriends);
export const acceptRequest = (id) => thenReload(api.post(`/friends/requests/${id}/accept`), loadRequests, loadFriends);
export const declineRequest = (id) => thenReload(api.post(`/friends/requests/${id}/decline`), loadRequests);
export const cancelRequest = (id) => thenReload(api.del(`/friends/requests/${id}`), loadRequests);
export const unfriend = (userId) => thenReload(api.del(`/friends/${userId}`), loadFriends);
export const block = (userId) => thenReload(api.post(`/users/${userId}/block`), loadBlocked, loadFriends, loadRequests);
export const unblock = (userId) => thenReload(api.del(`/users/${userId}/block`), loadBlocked);
export const mute = (userId, until = null) => thenReload(api.post(`/users/${userId}/mute`, { until }), loadMuted);
export const unmute = (userId) => thenReload(api.del(`/users/${userId}/mute`), loadMuted);

// Account

export const sessions = () => api.get('/auth/sessions');
export const endSession = (id) => api.del(`/auth/sessions/${id}`);
export const changePassword = (current_password, new_password) => api.put('/auth/password', { current_password, new_password });
export const deleteAccount = (password) => api.del('/users/me', { password });
