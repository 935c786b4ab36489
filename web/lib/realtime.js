// realtime.js — keeps the store fresh. Today it polls while the tab is visible; the WS /ws
// client takes its place later behind the same start / stop / kick interface, so no view changes.
//
// What a socket will replace: message.created / message.updated → store.upsertMessages (matched
// to optimistic copies by client_id); message.deleted → the same with deleted: true; read → the
// log's readAll / readSome; chat.updated / member.* → actions.loadDetails + loadChats; resync →
// fetchNewer. On (re)connect, ask from the last seq seen per chat (store.newestSeq), so nothing
// sent while away is missed; keep the poll below as the fallback while the socket is down.

import * as actions from './actions.js';
import { state, emit } from './store.js';

const INTERVAL = 2500;
let timer = null;
let running = false;
let busy = false;
let ticks = 0;

export function start() {
  if (running) return;
  running = true;
  document.addEventListener('visibilitychange', onVisibility);
  addEventListener('online', onOnline);
  tick();
}

export function stop() {
  running = false;
  clearTimeout(timer);
  document.removeEventListener('visibilitychange', onVisibility);
  removeEventListener('online', onOnline);
}

/** Look now rather than at the next tick (after sending, opening a chat, coming back). */
export function kick() {
  if (!running) return;
  clearTimeout(timer);
  timer = setTimeout(tick, 50);
}

function onVisibility() {
  if (document.visibilityState === 'visible') kick();
}

function onOnline() {
  kick();
  actions.retryFailed();
}

async function tick() {
  clearTimeout(timer);
  if (!running) return;
  if (document.visibilityState !== 'visible' || busy) {
    timer = setTimeout(tick, INTERVAL);
    return;
  }
  busy = true;
  try {
    await poll();
    setOnline(true);
  } catch (e) {
    if (e.status === 0 || e.status >= 500) setOnline(false);
  } finally {
    busy = false;
    ticks++;
    if (running) timer = setTimeout(tick, INTERVAL);
  }
}

async function poll() {
  const chatId = state.openChatId;
  const jobs = [actions.loadChats()];
  if (chatId) {
    jobs.push(actions.fetchNewer(chatId).then(() => actions.refreshReceipts(chatId)));
    if (ticks % 6 === 0) jobs.push(actions.loadDetails(chatId).catch(() => {}));
  }
  if (ticks % 12 === 0) jobs.push(actions.loadRequests());
  await Promise.all(jobs);
}

function setOnline(online) {
  if (state.online === online) return;
  state.online = online;
  emit('online', online);
  if (online) actions.retryFailed();
}
