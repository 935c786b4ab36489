// views/thread.js — a thread in a panel beside its chat: the root on top, then the replies oldest
// first ("Show older replies" pages back) kept live by events, Follow / Unfollow, and a composer of
// its own (with "Also send to chat"). Shown while the tab is visible, it marks the thread read up to
// the newest reply it shows, so that thread's unread replies leave the Threads badge.

import * as actions from '../lib/actions.js';
import * as store from '../lib/store.js';
import { state, on } from '../lib/store.js';
import { h, reconcile, replace, setSanitizedHtml } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { chatTitle, dayKey, dayLabel, fullTime, hue, messageText, nameById, nameOf, time } from '../lib/format.js';
import { avatar, busy, confirm, toast } from '../lib/ui.js';
import { mountComposer, notSentNote } from './composer.js';
import { renderAttachments } from './attachments.js';
import { openEmojiPicker, renderReactions } from './reactions.js';
import { openProfile } from './profile.js';
import { forwardDialog } from './forward.js';

const OLDER_PAGES_FOR_A_JUMP = 10; // how far back a jump to a reply (from Mentions or Search) pages before giving up

/**
 * The thread of `rootId` in chat `chatId`, drawn into `host` (an aside named by its heading).
 * `onClose()` closes the panel; `onShowInChat(root)` shows the root in the timeline;
 * `canDelete(m)` says whether I may delete a reply (mine, or any as a group admin).
 */
export function mountThread(host, chatId, rootId, { onClose, onShowInChat, canDelete }) {
  const titleId = `thread-title-${chatId}`;
  const where = h('span', { class: 'thread-where' });
  const followButton = h('button', { type: 'button', class: 'btn small follow', dataset: { focusKey: 'follow' } }, icon('bell'), h('span', {}, 'Follow'));
  const closeButton = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close thread', title: 'Close thread (Esc)', onclick: () => onClose() }, icon('close'));
  const rootHost = h('div', { class: 'thread-root' });
  const count = h('div', { class: 'thread-count' });
  const more = h('button', { type: 'button', class: 'btn small', hidden: true }, 'Show older replies');
  const older = h('div', { class: 'thread-older' }, h('span', { role: 'status' }), more);
  const list = h('div', { class: 'thread-replies', role: 'log', 'aria-live': 'off', 'aria-label': 'Replies (arrow keys move between them)', tabindex: '0' });
  const body = h('div', { class: 'thread-body' }, rootHost, count, older, list);
  // Replies from others that arrive while the panel is open are spoken once (as new messages are in the chat).
  const announcer = h('div', { class: 'sr-only', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'New replies' });
  const composerHost = h('div', { class: 'composer-host' });
  replace(
    host,
    h('header', { class: 'drawer-head thread-head' }, h('div', { class: 'thread-heading' }, h('h2', { id: titleId }, 'Thread'), where), followButton, closeButton),
    body,
    announcer,
    composerHost
  );
  host.setAttribute('aria-labelledby', titleId);

  const composer = mountComposer(composerHost, chatId, { threadRootId: rootId, onSent: () => (stick = true) });
  const reactorNames = new Map();
  const revealed = new Set(); // replies from blocked people shown on request
  let destroyed = false;
  let stick = true; // keep the newest reply in view at the next render
  let initialScrollDone = false;
  let announcedSeq = null;
  let failed = null; // why the thread could not be loaded
  let rootSig = '';

  const held = () => state.threads.get(rootId);
  const root = () => store.threadRoot(chatId, rootId);
  const atBottom = () => body.scrollHeight - body.scrollTop - body.clientHeight < 60;

  function renderHead() {
    const c = store.chatById(chatId) || state.details.get(chatId);
    where.textContent = c ? chatTitle(c) : '';
    const following = !!root()?.thread?.following;
    followButton.querySelector('span').textContent = following ? 'Unfollow' : 'Follow';
    followButton.setAttribute('aria-label', following ? 'Unfollow thread' : 'Follow thread');
    followButton.title = following ? 'Stop hearing of new replies here' : 'Hear of new replies here (they count in the Threads badge)';
    followButton.classList.toggle('on', following);
  }

  // Messages: the root and each reply share one look (a name, a time, the text, files, reactions).

  function messageBody(m) {
    const el = h('div', { class: 'body' });
    if (m.deleted) el.append(h('em', { class: 'muted' }, 'This message was deleted'));
    else if (m.sender_blocked && !revealed.has(m.id)) {
      el.append(h('em', { class: 'muted' }, 'A message from someone you blocked. '), h('button', { type: 'button', class: 'link', onclick: () => (revealed.add(m.id), render()) }, 'Show'));
    } else if (m.html != null && !m.pending) {
      el.classList.add('md');
      setSanitizedHtml(el, m.html);
    } else {
      el.classList.add('plain');
      el.textContent = m.content;
    }
    return el;
  }

  function renderMessage(m, isRoot) {
    const own = m.sender_id === state.me.id;
    const sender = store.userById(m.sender_id);
    if (m.sender_id && !sender) actions.ensureUser(m.sender_id);
    const who = own ? 'You' : nameOf(sender);
    const files = m.sender_blocked && !revealed.has(m.id) ? null : renderAttachments(chatId, m);
    const text = messageBody(m);
    if (files && !(m.content || '').trim()) text.hidden = true;
    const name = h('button', { type: 'button', class: 'tmsg-name', onclick: () => openProfile(m.sender_id) }, who);
    name.style.setProperty('--hue', hue(m.sender_id));
    const head = h(
      'div',
      { class: 'tmsg-head' },
      name,
      h('time', { datetime: m.created_at, title: fullTime(m.created_at) }, isRoot ? fullTime(m.created_at) : time(m.created_at)),
      m.edited_at && !m.deleted ? h('span', { class: 'muted' }, '(edited)') : null,
      m.also_in_chat && !isRoot ? h('span', { class: 'tmsg-also', title: 'This reply shows in the chat too' }, 'also in the chat') : null
    );
    // Under the root (its actions show at the top right, over whatever is there).
    const foot = isRoot && !m.deleted ? h('div', { class: 'tmsg-foot' }, h('button', { type: 'button', class: 'link', onclick: () => onShowInChat(m) }, 'Show in chat')) : null;
    const cls = ['tmsg', isRoot ? 'root' : '', own ? 'own' : '', m.pending ? 'pending' : '', m.failed ? 'failed' : '', m.deleted ? 'deleted' : '', (m.mentions || []).includes(state.me.id) ? 'mentioned' : ''];
    const el = h(
      'div',
      { class: cls.filter(Boolean).join(' '), dataset: { id: m.id, seq: m.pending ? '' : m.seq }, tabindex: isRoot ? null : '-1' },
      // The name is the keyboard's way to the profile: the picture is for the pointer only.
      h('button', { type: 'button', class: 'avatar-btn', tabindex: '-1', 'aria-label': `Profile of ${own ? nameOf(state.me) : who}`, onclick: () => openProfile(m.sender_id) }, avatar(sender || { id: m.sender_id }, { size: 32 })),
      h('div', { class: 'tmsg-main' }, head, files, text, renderReactions(chatId, m, reactorNames), foot)
    );
    if (m.pending && m.failed) el.append(notSentNote(chatId, m));
    if (!m.pending && !m.deleted) el.append(replyActions(m, own, isRoot));
    return el;
  }

  function replyActions(m, own, isRoot) {
    const btn = (name, label, fn, key) => h('button', { type: 'button', class: 'icon-btn small', 'aria-label': label, title: label, onclick: fn, dataset: key ? { focusKey: key } : null }, icon(name));
    return h(
      'div',
      { class: 'msg-actions tmsg-actions', role: 'toolbar', 'aria-label': isRoot ? 'Actions for the first message' : 'Reply actions' },
      m.type === 'text' ? btn('smile', 'Add reaction', (e) => pickReaction(m, e.currentTarget), 'react') : null,
      m.type === 'text' ? btn('forward', 'Forward', () => forwardDialog(chatId, m)) : null,
      own && !isRoot && m.content ? btn('edit', 'Edit', () => composer.edit(m)) : null,
      m.content ? btn('copy', 'Copy text', () => navigator.clipboard?.writeText(m.content).then(() => toast('Copied'), () => toast('Cannot copy here', 'error'))) : null,
      !isRoot && canDelete(m) ? btn('trash', 'Delete', () => removeReply(m)) : null
    );
  }

  function pickReaction(m, opener) {
    const mine = new Set((store.findMessage(chatId, m.id)?.reactions || []).filter((r) => r.me).map((r) => r.emoji));
    openEmojiPicker(opener, {
      chosen: mine,
      onPick: (emoji) => busy(null, () => actions.toggleReaction(chatId, m.id, emoji)),
      onClose: () => {
        const el = host.querySelector(`.tmsg[data-id="${CSS.escape(m.id)}"]`);
        if (!el) return;
        if (!el.classList.contains('root')) el.focus({ preventScroll: true }); // its actions show while it has focus
        el.querySelector('[data-focus-key="react"]')?.focus({ preventScroll: true });
      },
    });
  }

  async function removeReply(m) {
    if (!(await confirm('Delete this reply for everyone in the chat?', { title: 'Delete reply', confirmLabel: 'Delete', danger: true }))) return;
    await busy(null, () => actions.deleteMessage(chatId, m.id));
  }

  function renderRoot() {
    const m = root();
    if (!m) {
      if (!failed) replace(rootHost, h('p', { class: 'muted' }, 'Loading…'));
      return;
    }
    const sig = JSON.stringify([m.edited_at, m.deleted, m.html, m.sender_blocked, revealed.has(m.id), m.reactions, (m.attachments || []).map((f) => f.id), nameById(m.sender_id), store.userById(m.sender_id)?.avatar_url]);
    if (sig === rootSig) return;
    rootSig = sig;
    const hadFocus = rootHost.contains(document.activeElement) ? document.activeElement.closest('[data-focus-key]')?.dataset.focusKey : null;
    replace(rootHost, renderMessage(m, true));
    if (hadFocus) rootHost.querySelector(`[data-focus-key="${CSS.escape(hadFocus)}"]`)?.focus({ preventScroll: true });
  }

  // The replies

  function buildItems(replies) {
    const out = [];
    let prev = null;
    for (const m of replies) {
      const day = dayKey(m.created_at);
      if (!prev || dayKey(prev.created_at) !== day) out.push({ kind: 'day', key: `day-${day}`, label: dayLabel(m.created_at) });
      out.push({ kind: 'msg', key: m.id, m });
      prev = m;
    }
    return out;
  }

  const signature = (item) => {
    if (item.kind !== 'msg') return item.label;
    const m = item.m;
    return JSON.stringify([
      m.edited_at, m.deleted, m.html, m.content, m.pending, m.failed, m.error, m.sender_blocked, revealed.has(m.id), (m.attachments || []).map((f) => f.id).join(),
      m.reactions, m.mentions, m.also_in_chat, nameById(m.sender_id), store.userById(m.sender_id)?.avatar_url, !m.pending && canDelete(m),
    ]);
  };

  const renderItem = (item) => (item.kind === 'day' ? h('div', { class: 'day-sep', role: 'separator' }, h('span', {}, item.label)) : renderMessage(item.m, false));

  function render() {
    if (destroyed) return;
    const t = held();
    const replies = store.threadReplies(rootId);
    const wasAtBottom = stick || atBottom();
    const fromBottom = body.scrollHeight - body.scrollTop;
    const firstBefore = list.firstElementChild;
    renderHead();
    renderRoot();
    reconcile(list, buildItems(replies), (i) => i.key, renderItem, signature);
    const n = root()?.thread?.reply_count ?? replies.filter((m) => !m.pending && !m.deleted).length;
    count.textContent = failed ? '' : n || replies.length ? `${n} ${n === 1 ? 'reply' : 'replies'}` : t?.loaded ? 'No replies yet: yours starts the thread.' : '';
    older.firstElementChild.textContent = failed || (!t?.loaded ? 'Loading replies…' : t.loadingOlder ? 'Loading older replies…' : '');
    more.hidden = !t?.loaded || !t.hasOlder || t.loadingOlder;
    list.hidden = !replies.length;
    if (t?.loaded) announceNew(replies);

    if (!initialScrollDone && t?.loaded) {
      initialScrollDone = true;
      body.scrollTop = body.scrollHeight;
    } else if (wasAtBottom) body.scrollTop = body.scrollHeight;
    else if (firstBefore?.isConnected && list.firstElementChild !== firstBefore) body.scrollTop = body.scrollHeight - fromBottom; // older replies came in above
    stick = false;
    maybeMarkRead();
  }

  // A burst of events renders once per frame.
  let frame = 0;
  function renderSoon() {
    if (!frame) frame = requestAnimationFrame(() => ((frame = 0), render()));
  }

  /** Speak replies from others that arrived since the last render (not the ones loaded on opening or paging back). */
  function announceNew(replies) {
    const sent = replies.filter((m) => !m.pending);
    const newest = sent.length ? sent.at(-1).seq : 0;
    if (announcedSeq === null) {
      announcedSeq = newest;
      return;
    }
    const fresh = sent.filter((m) => m.seq > announcedSeq && m.sender_id !== state.me.id && !m.deleted);
    announcedSeq = Math.max(announcedSeq, newest);
    for (const m of fresh.slice(-3)) announcer.append(h('p', {}, m.sender_blocked ? 'A reply from someone you blocked' : `${nameById(m.sender_id)}: ${messageText(m)}`));
    while (announcer.childElementCount > 5) announcer.firstElementChild.remove();
  }

  /** While the panel shows the newest replies in a visible tab: the thread is read up to the newest one. */
  function maybeMarkRead() {
    if (destroyed || failed || host.hidden || document.visibilityState !== 'visible' || !held()?.loaded || !atBottom()) return;
    const newest = store.threadReplies(rootId).filter((m) => !m.pending).at(-1);
    if (newest) actions.markThreadRead(chatId, rootId, newest.seq);
  }

  async function load() {
    render();
    try {
      await actions.loadThread(chatId, rootId);
    } catch (e) {
      if (destroyed) return;
      failed = e.status === 404 || e.status === 422 ? 'This thread cannot be shown: its first message is gone, or cannot have replies.' : e.message;
      composerHost.hidden = !!(e.status === 404 || e.status === 422);
      replace(rootHost);
    }
    render();
    takeJump();
  }

  /** The page before the oldest reply held; focus stays on the button, or goes to the first reply once there are no more. */
  async function loadOlder() {
    await busy(more, () => actions.loadOlderReplies(chatId, rootId));
    render();
    if (more.hidden) list.querySelector('.tmsg')?.focus();
  }

  /** A reply to show (from Mentions or Search) in this thread: paged back to if it is not loaded, then focused. */
  async function takeJump() {
    const j = state.jump;
    if (j?.rootId !== rootId || !held()?.loaded) return;
    state.jump = null;
    const find = () => list.querySelector(`.tmsg[data-id="${CSS.escape(j.id)}"]`);
    for (let i = 0; i < OLDER_PAGES_FOR_A_JUMP && !find() && held()?.hasOlder; i++) {
      await actions.loadOlderReplies(chatId, rootId).catch(() => {});
      if (destroyed) return;
      render();
    }
    const el = find();
    if (!el) return toast('That reply is no longer in this thread.', 'error');
    el.scrollIntoView({ block: 'center' });
    el.classList.add('flash');
    el.focus({ preventScroll: true });
    setTimeout(() => el.classList.remove('flash'), 1600);
  }

  // Not disabled while the call runs (a disabled button drops focus): a second click meanwhile does nothing.
  let followCall = null;
  followButton.addEventListener('click', async () => {
    if (followCall) return;
    followCall = busy(null, () => actions.followThread(chatId, rootId, !root()?.thread?.following));
    followButton.setAttribute('aria-busy', 'true');
    await followCall;
    followCall = null;
    followButton.removeAttribute('aria-busy');
  });
  more.addEventListener('click', loadOlder);
  body.addEventListener('scroll', () => atBottom() && maybeMarkRead());
  // Tapping a reply on a touch screen shows its actions (they appear on hover with a mouse).
  list.addEventListener('click', (e) => {
    const el = e.target.closest('.tmsg');
    if (el && !e.target.closest('button, a')) el.focus({ preventScroll: true });
  });
  // Keyboard: Up/Down/Home/End move between replies; a focused reply shows its actions, Tab reaches them.
  list.addEventListener('keydown', (e) => {
    if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(e.key) || e.target.closest('.msg-actions')) return;
    const all = [...list.querySelectorAll('.tmsg')];
    if (!all.length) return;
    const current = e.target.closest('.tmsg');
    let i = current ? all.indexOf(current) : all.length;
    if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'ArrowDown') i = current ? Math.min(all.length - 1, i + 1) : all.length - 1;
    else i = e.key === 'Home' ? 0 : all.length - 1;
    e.preventDefault();
    all[i].focus();
    all[i].scrollIntoView({ block: 'nearest' });
  });
  // Esc: from the replies back to the composer; anywhere else in the panel it closes (the composer
  // and the @mention list take their own Esc first).
  host.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented || document.querySelector('dialog[open]')) return;
    e.preventDefault();
    if (list.contains(e.target) && !composerHost.hidden) composer.focus();
    else onClose();
  });
  // Files dropped on the panel go to its composer's tray.
  const carriesFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  host.addEventListener('dragover', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  host.addEventListener('drop', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    if (composer.addFiles(e.dataTransfer.files)) composer.focus();
    else toast('You cannot post files here.', 'error');
  });
  const onVisible = () => maybeMarkRead();
  document.addEventListener('visibilitychange', onVisible);

  const offs = [
    on(`thread:${rootId}`, renderSoon),
    on(`log:${chatId}`, renderSoon), // my replies on their way, and the root's summary
    on('threads', (e) => e?.rootId === rootId && renderSoon()),
    on(`chat:${chatId}`, () => (composer.refresh(), renderSoon())),
    on('chats', renderHead),
    on('users', () => ((rootSig = ''), renderSoon())),
    on('jump', takeJump),
  ];
  load();

  return {
    focus: () => composer.focus(),
    destroy() {
      destroyed = true;
      cancelAnimationFrame(frame);
      composer.destroy();
      offs.forEach((off) => off());
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}
