// realtime.js — keeps the store fresh over one WebSocket to /ws, behind start / stop / kick.
//
// Connect: make sure the access token has a minute left (refresh first if not), open /ws and send
// {"type":"auth","token"} as the first frame (not ?token=, so the token stays out of URLs and logs).
// The server answers `ready` with each chat's last_seq; then we send `resume` with the newest seq
// we hold of every loaded chat, and it replays what came after (or says `resync` when that is over
// 500 messages: we reload the newest page). Messages are kept by id and chat summaries only move
// forward by seq, so nothing shows twice, whichever way (replay, live, ack, HTTP) it arrives.
// Thread replies come as `message.created` too (with thread_root_id): the thread-only ones go to
// their thread, never the timeline; `thread.updated` brings a thread's summary to its root, and
// `thread.state` my own follow and read state in it (from any of my devices).
//
// Down: "Reconnecting…" shows, attempts back off from 1 s doubling to 30 s with jitter (none while
// the browser says it is offline; the `online` event tries at once), and a slow safety poll
// (GET /chats and the open chat, every 60 s) runs until the socket is back. No polling while it is up.
// Close codes: 1012 the server restarts (try again in 1-3 s), 4008 we were too slow (again at once,
// resume fills the gap), 4401 not authenticated (refresh the token, then connect; a failed refresh
// logs out through api.js). A socket that stays silent after our `ping` is given up on.

import * as api from './api.js';
import * as actions from './actions.js';
import * as store from './store.js';
import { state, emit } from './store.js';
import { enabled as notifying, notifyMessage } from './notify.js';
import { go } from './router.js';
import { toast } from './ui.js';

const BACKOFF_MIN = 1000;
const BACKOFF_MAX = 30_000;
const SAFETY_POLL = 60_000;
const CONNECT_WAIT = 15_000; // from opening the socket to `ready`
const IDLE_PING = 25_000; // nothing heard for this long: ping
const PONG_WAIT = 10_000; // still nothing this long after the ping: the socket is dead
const TYPING_SHOWN = 5000;
const TYPING_EVERY = 3000;
const REFRESH_ON_VISIBLE = 30_000;

let running = false;
let ws = null; // the socket, connecting or open
let ready = false; // `ready` came on it
let connecting = false; // getting a token before opening one
let openedAt = 0;
let lastHeard = 0;
let pingedAt = 0;
let attempt = 0;
let unauthorizedInRow = 0;
let wasDown = false; // events may have been missed since the last `ready`
let refreshedAt = 0;
let retryTimer = null;
let pollTimer = null;
let watchTimer = null;
const typingTimers = new Map(); // `${chat} ${user}` → timer that ends the hint
const typingSent = new Map(); // chat id → when I last said I was typing

export function start() {
  if (running) return;
  running = true;
  attempt = 0;
  unauthorizedInRow = 0;
  wasDown = false;
  addEventListener('online', onOnline);
  addEventListener('offline', onOffline);
  document.addEventListener('visibilitychange', onVisibility);
  watchTimer = setInterval(watch, 5000);
  if (notifying()) actions.loadMuted().catch(() => {}); // muted people stay quiet
  connect();
}

export function stop() {
  running = false;
  removeEventListener('online', onOnline);
  removeEventListener('offline', onOffline);
  document.removeEventListener('visibilitychange', onVisibility);
  clearTimeout(retryTimer);
  clearInterval(watchTimer);
  stopSafetyPoll();
  detach();
  for (const t of typingTimers.values()) clearTimeout(t);
  typingTimers.clear();
  typingSent.clear();
}

/** Try now rather than at the next backoff step (after opening a chat, sending, "Retry now"). */
export function kick() {
  if (!running || ws || connecting) return;
  attempt = 0;
  connect();
}

export const isUp = () => ready;

/** The composer calls this on input: at most one `typing` frame per chat every 3 s. */
export function typing(chatId) {
  const now = Date.now();
  if (!ready || now - (typingSent.get(chatId) || 0) < TYPING_EVERY) return;
  if (send({ type: 'typing', chat_id: chatId })) typingSent.set(chatId, now);
}

function send(frame) {
  if (!ready || ws?.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

// The connection

async function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (!running || ws || connecting) return;
  if (navigator.onLine === false) return down(); // the `online` event brings us back
  connecting = true;
  let token;
  try {
    token = await api.freshToken();
  } catch {
    connecting = false;
    if (running && api.hasSession()) retryLater();
    return;
  }
  connecting = false;
  if (!running || ws || !token) return; // no token: logged out, app.js tears down
  const sock = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`);
  ws = sock;
  ready = false;
  openedAt = Date.now();
  sock.onopen = () => {
    if (ws !== sock) return;
    lastHeard = Date.now();
    sock.send(JSON.stringify({ type: 'auth', token }));
  };
  sock.onmessage = (e) => {
    if (ws !== sock) return;
    lastHeard = Date.now();
    let event;
    try {
      event = JSON.parse(e.data);
    } catch {
      return;
    }
    handle(event);
  };
  sock.onerror = () => {}; // a close follows
  sock.onclose = (e) => {
    if (ws === sock) closed(e.code);
  };
}

/** Forget the socket without the reconnect path. */
function detach() {
  const sock = ws;
  ws = null;
  ready = false;
  actions.useSocket(null);
  if (!sock) return;
  sock.onmessage = sock.onerror = sock.onclose = null;
  if (sock.readyState === WebSocket.OPEN) sock.close(1000);
  // Closing one still connecting makes the browser log an error: close it once it opens instead.
  else if (sock.readyState === WebSocket.CONNECTING) sock.onopen = () => sock.close(1000);
}

/** Give up on a socket that went quiet or the browser says cannot work (offline). */
function abandon() {
  if (!ws) return;
  detach();
  closed(1006);
}

function closed(code) {
  const hadReady = ready;
  ws = null;
  ready = false;
  pingedAt = 0;
  actions.useSocket(null);
  actions.socketClosed();
  if (!running) return;
  down();
  if (hadReady) attempt = 0;
  if (code === 4401 && ++unauthorizedInRow <= 2) {
    api.refresh().then(
      () => connect(),
      () => running && api.hasSession() && retryLater()
    );
    return;
  }
  if (code === 4008) return retryLater(100 + Math.random() * 400);
  if (code === 1012) return retryLater(1000 + Math.random() * 2000);
  retryLater();
}

/** The next attempt: `ms`, or the backoff (1 s doubling to 30 s, each between half and all of it). */
function retryLater(ms) {
  clearTimeout(retryTimer);
  if (ms === undefined) {
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt);
    attempt++;
    ms = base / 2 + (Math.random() * base) / 2;
  }
  retryTimer = setTimeout(connect, ms);
}

function down() {
  wasDown = true;
  setOnline(false);
  if (!pollTimer) pollTimer = setInterval(safetyPoll, SAFETY_POLL);
}

function stopSafetyPoll() {
  clearInterval(pollTimer);
  pollTimer = null;
}

/** Only while the socket is down: the list, and the open chat. */
function safetyPoll() {
  if (ready || navigator.onLine === false) return;
  actions.loadChats().catch(() => {});
  const open = state.openChatId;
  if (open && state.logs.get(open)?.loaded) actions.fetchNewer(open).then(() => actions.refreshReceipts(open)).catch(() => {});
}

function watch() {
  if (!ws) return;
  const now = Date.now();
  if (!ready) {
    if (now - openedAt > CONNECT_WAIT) abandon();
    return;
  }
  if (pingedAt > lastHeard) {
    if (now - pingedAt > PONG_WAIT) abandon();
  } else if (now - lastHeard > IDLE_PING) {
    pingedAt = now;
    send({ type: 'ping' });
  }
}

function onOnline() {
  if (ws && !ready) return;
  if (ws) {
    // The old socket may have died quietly: ask it.
    pingedAt = Date.now();
    send({ type: 'ping' });
    return;
  }
  kick();
}

function onOffline() {
  abandon();
}

function onVisibility() {
  if (document.visibilityState !== 'visible') return;
  if (!ws) return kick();
  if (!ready) return;
  if (Date.now() - lastHeard > 20_000 && pingedAt <= lastHeard) {
    pingedAt = Date.now();
    send({ type: 'ping' });
  }
  // Presence is not followed live (and friend request events may have been missed): look again when the person comes back.
  if (Date.now() - refreshedAt > REFRESH_ON_VISIBLE) {
    refreshedAt = Date.now();
    actions.loadChats().catch(() => {});
    actions.loadRequests().catch(() => {});
  }
}

function setOnline(online) {
  if (state.online === online) return;
  state.online = online;
  emit('online', online);
}

// Server events

function handle(e) {
  switch (e.type) {
    case 'ready':
      return onReady(e);
    case 'message.created':
      return onCreated(e.message);
    case 'message.updated':
      return onUpdated(e.message);
    case 'message.deleted':
      return onDeleted(e);
    case 'read':
      return onRead(e);
    case 'typing':
      return onTyping(e);
    case 'chat.updated':
      return onChatChanged(e.chat_id);
    case 'member.added':
      return onChatChanged(e.chat_id);
    case 'member.removed':
      if (e.user_id === state.me?.id) return onChatGone(e.chat_id, 'You are no longer in this chat.');
      return onChatChanged(e.chat_id);
    case 'chat.deleted':
      return onChatGone(e.chat_id, 'This chat was deleted.');
    case 'reaction.updated':
      return onReaction(e);
    case 'thread.updated':
      return actions.threadChanged(e.chat_id, e.root_id, e.thread);
    case 'thread.state':
      actions.applyThreadView(e.chat_id, e.root_id, { following: e.following, unread_count: e.unread_count });
      return actions.loadChatsSoon(); // the chat's count of unread thread replies, as the server has it
    case 'pin.updated':
      return actions.pinsChanged(e.chat_id);
    case 'user.updated':
      return actions.refreshUser(e.user_id).catch(() => {});
    case 'friend.request':
    case 'friend.request.removed':
      return actions.loadRequests().catch(() => {});
    case 'friend.added':
    case 'friend.removed':
      return Promise.all([actions.loadFriends(), actions.loadRequests()]).catch(() => {});
    case 'sessions.changed':
      return emit('sessions');
    case 'ack':
      seen(e.message);
      return actions.committed(e.message);
    case 'resync':
      return onResync(e.chat_id);
    case 'error':
      if (e.client_id && actions.refused(e.client_id, e.code, e.detail)) return;
      console.warn(`realtime: the server refused a frame (${e.code}): ${e.detail}`);
      return;
    default:
      return; // pong, and whatever a newer server adds
  }
}

function onReady(e) {
  ready = true;
  attempt = 0;
  unauthorizedInRow = 0;
  pingedAt = 0;
  actions.useSocket({ send, readyAt: Date.now() });
  // Ask for what came after the newest message held of each loaded chat (still mine).
  const mine = new Set(e.chats.map((c) => c.id));
  const resume = {};
  for (const [id, l] of state.logs) if (l.loaded && mine.has(id)) resume[id] = Math.max(store.newestSeq(id), l.seenSeq);
  if (Object.keys(resume).length) send({ type: 'resume', chats: resume });
  actions.loadChats().catch(() => {});
  if (wasDown) {
    // Edits, deletions and read pointers are not replayed: look at the open chat, and at the others when they open.
    const open = state.openChatId;
    for (const [id, l] of state.logs) if (l.loaded && id !== open) l.stale = true;
    if (open && state.logs.get(open)?.loaded) {
      actions.refreshRecent(open).then(() => actions.refreshReceipts(open)).catch(() => {});
      actions.loadDetails(open).catch(() => {});
    }
    reloadThreads(open);
    for (const id of state.pins.keys()) actions.pinsChanged(id);
    actions.loadRequests().catch(() => {});
  }
  wasDown = false;
  refreshedAt = Date.now();
  stopSafetyPoll();
  setOnline(true);
  actions.retryFailed();
}

/** My own message came back as an `ack`: its seq was seen live too (a thread-only reply of mine is in no log). */
function seen(m) {
  const l = state.logs.get(m.chat_id);
  if (l) l.seenSeq = Math.max(l.seenSeq, m.seq);
}

/** The threads held open in a chat, fetched again (edits, deletions and summaries are not replayed). */
function reloadThreads(chatId) {
  for (const [rootId, t] of state.threads) if (t.loaded && t.chatId === chatId) actions.loadThread(chatId, rootId).catch(() => {});
}

function onCreated(m) {
  const chatId = m.chat_id;
  if (m.sender_id) endTyping(chatId, m.sender_id);
  const freshReply = m.thread_root_id ? onReply(m) : false;
  const l = state.logs.get(chatId);
  if (l) {
    const before = Math.max(store.newestSeq(chatId), l.seenSeq);
    l.seenSeq = Math.max(l.seenSeq, m.seq);
    store.upsertMessages(chatId, [m]);
    // Seqs have no gaps in a chat (its thread replies included), and every one comes live: a jump means
    // something was missed. Fetch the timeline from where we were (a thread fetches what it missed on `thread.updated`).
    if (l.loaded && before && m.seq > before + 1 && !l.filling) {
      l.filling = true;
      actions
        .fetchSince(chatId, before)
        .catch(() => {})
        .finally(() => (l.filling = false));
    }
  } else if (m.thread_root_id) store.upsertReplies([m]);
  if (store.threadOnly(m)) {
    // Not in the timeline, so not in the chat list's preview or counts: a notification if I follow the thread or am mentioned.
    const mentioned = (m.mentions || []).includes(state.me?.id);
    if (!freshReply || m.sender_id === state.me?.id) return;
    if (mentioned || store.threadRoot(chatId, m.thread_root_id)?.thread?.following) notifyMessage(m);
    if (mentioned) emit('mention', m);
    return;
  }
  const fresh = m.seq > (store.chatById(chatId)?.last_seq ?? 0);
  if (!store.noteNewMessage(m)) actions.loadChatsSoon();
  if (fresh) notifyMessage(m);
  if (fresh && m.sender_id !== state.me?.id && (m.mentions || []).includes(state.me?.id)) emit('mention', m);
}

/**
 * A reply came live (before `thread.updated` tells its root): whether it is new (not a replay). Mine
 * means I follow the thread. One from someone else in a thread I follow is unread until its panel
 * shows it; when it is not known whether I follow the thread (the first reply made its author, or
 * someone it mentions, follow it), the root and the chat list (with each chat's unread thread
 * replies) are fetched again.
 */
function onReply(m) {
  const root = store.threadRoot(m.chat_id, m.thread_root_id);
  const t = root?.thread;
  const fresh = !t || (t.last_reply_seq || 0) < m.seq;
  if (m.sender_id === state.me?.id) {
    if (t?.following !== true) store.patchThread(m.chat_id, m.thread_root_id, { following: true });
    return fresh;
  }
  if (!fresh) return fresh;
  if (t?.following === true) {
    store.patchThread(m.chat_id, m.thread_root_id, { unread_count: (t.unread_count || 0) + 1 });
    const c = store.chatById(m.chat_id);
    if (c) store.patchChat(m.chat_id, { thread_unread_count: (c.thread_unread_count || 0) + 1 });
  } else if (t?.following !== false) {
    actions.loadChatsSoon();
    actions.refreshRoot(m.chat_id, m.thread_root_id).catch(() => {});
  }
  return fresh;
}

/** A message from an event into wherever it is held: the chat's log, or (with no log) a held thread. */
function hold(m) {
  if (state.logs.has(m.chat_id)) store.upsertMessages(m.chat_id, [m]);
  else if (m.thread_root_id) store.upsertReplies([m]);
  else if (state.threads.has(m.id)) store.setThreadRoot(m);
}

function onUpdated(m) {
  const old = state.logs.has(m.chat_id) ? store.findMessage(m.chat_id, m.id) : store.threadMessage(m.id);
  // Its reactions' `me` is as the editor sees them, and so are its thread's following and unread count: mine stay as I know them.
  if (m.sender_id !== state.me?.id) m = { ...m, reactions: (m.reactions || []).map((r) => ({ ...r, me: !!old?.reactions?.find((x) => x.emoji === r.emoji)?.me })) };
  if (m.thread && m.sender_id !== state.me?.id) m = { ...m, thread: { ...m.thread, following: old?.thread?.following, unread_count: old?.thread?.unread_count } };
  hold(m);
  if (store.pinnedIds(m.chat_id).has(m.id)) actions.pinsChanged(m.chat_id);
  const c = store.chatById(m.chat_id);
  if (c?.last_message?.id === m.id) store.patchChat(m.chat_id, { last_message: m });
}

function onDeleted({ chat_id: chatId, message_id: id }) {
  const m = state.logs.has(chatId) ? store.findMessage(chatId, id) : store.threadMessage(id);
  if (m) hold({ ...m, deleted: true, content: '', html: '', reactions: [] });
  if (store.pinnedIds(chatId).has(id)) actions.pinsChanged(chatId);
  actions.loadChatsSoon(); // the preview, and unread counts if it was unread
}

/** Someone reacted, or took a reaction back: `count` is the new total; `me` only changes when it was me. */
function onReaction({ chat_id: chatId, message_id: id, emoji, user_id: userId, added, count }) {
  store.applyReaction(chatId, id, emoji, count, userId === state.me?.id ? added : undefined);
}

function onRead({ chat_id: chatId, user_id: userId, read_seq: seq }) {
  if (userId !== state.me?.id) {
    if (state.logs.has(chatId)) store.noteReader(chatId, userId, seq);
    return;
  }
  // I read on another device (or this one): my counts.
  const c = store.chatById(chatId);
  if (!c || seq <= (c.read_seq || 0)) return;
  if (seq >= c.last_seq) store.patchChat(chatId, { read_seq: seq, unread_count: 0, mention_count: 0 });
  else {
    store.patchChat(chatId, { read_seq: seq });
    actions.loadChatsSoon();
  }
}

function onTyping({ chat_id: chatId, user_id: userId }) {
  if (userId === state.me?.id) return;
  actions.ensureUser(userId);
  const key = `${chatId} ${userId}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.set(
    key,
    setTimeout(() => endTyping(chatId, userId), TYPING_SHOWN)
  );
  store.setTyping(chatId, userId, Date.now() + TYPING_SHOWN);
}

function endTyping(chatId, userId) {
  const key = `${chatId} ${userId}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.delete(key);
  store.clearTyping(chatId, userId);
}

function onChatChanged(chatId) {
  actions.loadChatsSoon();
  if (state.details.has(chatId) || state.openChatId === chatId) {
    actions
      .loadDetails(chatId)
      .then(() => state.logs.has(chatId) && store.recomputeReceipts(chatId))
      .catch(() => {});
  }
}

function onChatGone(chatId, text) {
  const wasOpen = state.openChatId === chatId;
  store.dropChat(chatId);
  if (wasOpen) {
    toast(text);
    go('/', { replace: true });
  }
}

function onResync(chatId) {
  actions
    .reloadNewest(chatId)
    .then(() => state.openChatId === chatId && actions.refreshReceipts(chatId))
    .catch(() => {});
  reloadThreads(chatId);
}
