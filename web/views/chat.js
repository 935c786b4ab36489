// views/chat.js — one open chat: header, pinned messages, history that loads as you scroll up, day separators,
// receipts, reactions, message actions, jumps to a message that may not be loaded yet, and the panels beside
// it (chat info, or a thread: #/chat/<id>/info, #/chat/<id>/thread/<root id>).

import * as actions from '../lib/actions.js';
import * as realtime from '../lib/realtime.js';
import * as store from '../lib/store.js';
import { state, on } from '../lib/store.js';
import { h, reconcile, replace, setSanitizedHtml } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { chatTitle, dayKey, dayLabel, describeEvent, eventUserIds, fullTime, hue, listTime, messageText, nameById, nameOf, otherUser, presenceLine, time } from '../lib/format.js';
import { avatar, busy, confirm, dialog, setTitle, toast } from '../lib/ui.js';
import { go } from '../lib/router.js';
import { mountComposer, notSentNote } from './composer.js';
import { renderAttachments } from './attachments.js';
import { mountChatInfo } from './chatinfo.js';
import { openProfile } from './profile.js';
import { mountPins } from './pins.js';
import { openEmojiPicker, renderReactions } from './reactions.js';
import { openSearch } from './search.js';
import { mountThread } from './thread.js';
import { forwardDialog } from './forward.js';

const GROUP_GAP_MS = 5 * 60 * 1000;
const allows = (policy, role) => policy === 'everyone' || role === 'admin' || role === 'owner';

export function mountChat(pane, chatId) {
  const titleText = h('span', { class: 'chat-title' });
  const heading = h('h1', { class: 'sr-only' }); // the chat's name as the page heading (the visible title sits in a button)
  const subtitle = h('span', { class: 'chat-subtitle' });
  const headAvatar = h('span', { class: 'head-avatar' });
  const infoButton = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Chat info', title: 'Chat info', 'aria-expanded': 'false', onclick: toggleInfo }, icon('info'));
  const header = h(
    'header',
    { class: 'chat-head' },
    h('a', { href: '#/', class: 'icon-btn back', 'aria-label': 'Back to chats' }, icon('back')),
    h('button', { type: 'button', class: 'chat-head-main', onclick: toggleInfo, 'aria-label': 'Chat info' }, headAvatar, h('span', { class: 'chat-head-text' }, titleText, subtitle)),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Search in this chat', title: 'Search in this chat', onclick: () => openSearch({ chatId, only: true }) }, icon('search')),
    infoButton
  );
  const older = h('div', { class: 'older', role: 'status' });
  const items = h('div', { class: 'items' });
  // The history is a log, but not itself spoken: it is re-rendered as receipts and edits change, and
  // loading a page of history would read it all out. New messages are spoken once, by `announcer`.
  const list = h('div', { class: 'messages', role: 'log', 'aria-live': 'off', 'aria-label': 'Messages (arrow keys move between them)', tabindex: '0' }, older, items);
  const announcer = h('div', { class: 'sr-only', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'New messages' });
  const jump = h('button', { type: 'button', class: 'jump', hidden: true, 'aria-label': 'Jump to the newest message' }, icon('down'), h('span', { 'aria-hidden': 'true' }));
  const typingLine = h('div', { class: 'typing-line', role: 'status', 'aria-live': 'polite' });
  const composerHost = h('div', { class: 'composer-host' });
  const dropZone = h('div', { class: 'drop-zone', hidden: true, 'aria-hidden': 'true' }, h('div', {}, icon('paperclip'), h('span', {}, 'Drop files to attach them')));
  const pins = mountPins(chatId, { onJump: (m) => jumpTo(m.id, m.seq), canPin: () => canPin() });
  const section = h('section', { class: 'chat', 'aria-labelledby': `chat-heading-${chatId}` }, heading, header, pins.bar, h('div', { class: 'chat-body' }, list, pins.panel, typingLine, jump), announcer, composerHost, dropZone);
  heading.id = `chat-heading-${chatId}`;
  const drawer = h('aside', { class: 'drawer', 'aria-label': 'Chat info', hidden: true });
  const threadDrawer = h('aside', { class: 'thread-panel', hidden: true }); // named by its heading
  const layout = h('div', { class: 'chat-layout' }, section, drawer, threadDrawer);
  replace(pane, layout);

  const composer = mountComposer(composerHost, chatId, { onSent: () => ((unreadFrom = null), (stickToBottom = true)) });
  let info = null;
  let infoOpener = null; // where focus goes back to when the info panel closes
  let thread = null; // the open thread's panel: {rootId, view}
  let threadOpener = null; // where focus goes back to when it closes
  let announcedSeq = null; // the newest seq already in the page (so only later ones are spoken)
  const narrow = matchMedia('(max-width: 760px)'); // the info panel covers the whole chat there
  let unreadFrom = null; // the "new messages" line goes before the first seq above my read pointer at opening
  let initialScrollDone = false;
  let stickToBottom = true;
  const revealed = new Set(); // messages from blocked people shown on request
  const reactorNames = new Map(); // `${message id} ${emoji}` → who reacted, for the chips' tooltips
  const destroyed = { v: false };
  let pinned = store.pinnedIds(chatId); // ids of the pinned messages
  let loaded = null; // the first load of messages and details, once it started

  const chatSummary = () => store.chatById(chatId);
  const details = () => state.details.get(chatId);
  const chat = () => details() || chatSummary();
  const myRole = () => details()?.me?.role || chatSummary()?.role || 'member';
  const isGroup = () => chat()?.type === 'group';
  /** Whether I may pin and unpin here (the chat's `pin` setting; known once its details are). */
  const canPin = () => {
    const d = details();
    return !!d && allows(d.settings?.pin || 'everyone', d.me?.role);
  };
  const canDelete = (m) => m.sender_id === state.me.id || (isGroup() && ['admin', 'owner'].includes(myRole()));

  function renderHeader() {
    const c = chat();
    if (!c) return;
    titleText.textContent = chatTitle(c);
    heading.textContent = chatTitle(c);
    if (c.type === 'direct') {
      const other = otherUser(c);
      replace(headAvatar, avatar(other, { size: 36, presence: true }));
      subtitle.textContent = presenceLine(other);
    } else {
      replace(headAvatar, avatar(c, { size: 36, label: chatTitle(c), group: true }));
      const d = details();
      if (d) {
        const online = d.members.filter((m) => m.user.status === 'online' && m.user.id !== state.me.id).length;
        subtitle.textContent = `${d.members.length} member${d.members.length === 1 ? '' : 's'}${online ? `, ${online} online` : ''}`;
      } else subtitle.textContent = '';
    }
    setTitle(chatTitle(c));
  }

  // The message list

  function receipt(m) {
    if (m.sender_id !== state.me.id || m.type !== 'text') return null;
    if (m.pending) return m.failed ? 'failed' : 'pending';
    const l = store.log(chatId);
    if (m.seq <= l.readAll) return 'read';
    if (m.seq <= l.readSome) return 'some';
    return 'sent';
  }

  function buildItems() {
    const msgs = store.messages(chatId);
    const l = store.log(chatId);
    const out = [];
    let prev = null;
    let markerPlaced = false;
    for (const m of msgs) {
      // A jump to an older message can leave a hole above what was loaded: offer to fill it. Thread replies
      // take seqs too, so the seqs between say only how many messages there can be at most.
      if (prev && !prev.pending && !m.pending && l.holes.has(prev.seq)) {
        const n = l.holes.get(prev.seq) - prev.seq - 1;
        out.push({ kind: 'gap', key: `gap-${prev.seq}`, after: prev.seq, before: l.holes.get(prev.seq), label: `Show more messages (up to ${n} not loaded)` });
      }
      const day = dayKey(m.created_at);
      let separated = false;
      if (!prev || dayKey(prev.created_at) !== day) {
        out.push({ kind: 'day', key: `day-${day}`, label: dayLabel(m.created_at) });
        separated = true;
      }
      if (unreadFrom && !markerPlaced && !m.pending && m.seq >= unreadFrom && m.type === 'text' && m.sender_id !== state.me.id) {
        out.push({ kind: 'unread', key: 'unread' });
        markerPlaced = true;
        separated = true;
      }
      const continued = !separated && prev && prev.type === 'text' && m.type === 'text' && prev.sender_id === m.sender_id && new Date(m.created_at) - new Date(prev.created_at) < GROUP_GAP_MS;
      out.push({ kind: 'msg', key: m.id, m, continued });
      prev = m;
    }
    return out;
  }

  function signature(item) {
    if (item.kind !== 'msg') return item.label || item.kind;
    const m = item.m;
    const target = m.reply_to ? store.findMessage(chatId, m.reply_to) : null;
    return JSON.stringify([
      m.edited_at, m.deleted, m.html, m.content, m.pending, m.failed, m.error, m.sender_blocked, (m.attachments || []).map((f) => f.id).join(),
      item.continued, receipt(m), nameById(m.sender_id), isGroup(), myRole(), revealed.has(m.id),
      m.type === 'system' ? describeEvent(m) : '', target ? [target.deleted, target.content, nameById(target.sender_id)] : m.reply_to,
      m.reactions, m.mentions, m.forwarded_from, m.forwarded_from?.sender_id && nameById(m.forwarded_from.sender_id), pinned.has(m.id), canPin(), isGroup() && store.userById(m.sender_id)?.avatar_url,
      m.thread, (m.thread?.participant_ids || []).slice(0, 3).map((id) => [nameById(id), store.userById(id)?.avatar_url]), m.thread_root_id ? threadNoteText(m) : '',
    ]);
  }

  function renderItem(item) {
    if (item.kind === 'day') return h('div', { class: 'day-sep', role: 'separator' }, h('span', {}, item.label));
    if (item.kind === 'unread') return h('div', { class: 'unread-sep', role: 'separator' }, h('span', {}, 'New messages'));
    if (item.kind === 'gap') {
      return h('div', { class: 'gap' }, h('button', { type: 'button', class: 'btn small', onclick: (e) => busy(e.currentTarget, () => actions.fillGap(chatId, item.after, item.before)) }, item.label));
    }
    const m = item.m;
    if (m.type === 'system') {
      eventUserIds(m).forEach(actions.ensureUser);
      return h('div', { class: 'sys', dataset: { id: m.id, seq: m.seq } }, h('span', {}, describeEvent(m), ' · ', h('time', { datetime: m.created_at, title: fullTime(m.created_at) }, time(m.created_at))));
    }
    return renderMessage(m, item.continued);
  }

  function renderMessage(m, continued) {
    const own = m.sender_id === state.me.id;
    const group = isGroup();
    const sender = store.userById(m.sender_id);
    if (m.sender_id && !sender) actions.ensureUser(m.sender_id);
    const senderName = own ? 'You' : nameOf(sender);
    const mentioned = (m.mentions || []).includes(state.me.id);
    const cls = ['msg', own ? 'own' : 'theirs', continued ? 'continued' : '', m.pending ? 'pending' : '', m.failed ? 'failed' : '', mentioned ? 'mentioned' : '', m.deleted ? 'deleted' : ''];

    const body = h('div', { class: 'body' });
    if (m.deleted) body.append(h('em', { class: 'muted' }, 'This message was deleted'));
    else if (m.sender_blocked && !revealed.has(m.id)) {
      body.append(h('em', { class: 'muted' }, 'A message from someone you blocked. '), h('button', { type: 'button', class: 'link', onclick: () => (revealed.add(m.id), render()) }, 'Show'));
    } else if (m.html != null && !m.pending) {
      body.classList.add('md');
      setSanitizedHtml(body, m.html);
      markMentions(body, mentioned);
    } else {
      body.classList.add('plain');
      body.textContent = m.content;
    }
    const files = m.sender_blocked && !revealed.has(m.id) ? null : renderAttachments(chatId, m);
    if (files && !(m.content || '').trim()) body.hidden = true;

    const r = receipt(m);
    const receiptEl = r ? h('span', { class: `receipt r-${r}`, dataset: { receipt: r }, title: { pending: 'Sending…', failed: 'Not sent', sent: 'Sent', some: 'Read by some', read: 'Read' }[r] }, icon({ pending: 'clock', failed: 'alert', sent: 'check', some: 'checks', read: 'checks' }[r])) : null;
    if (receiptEl) receiptEl.append(h('span', { class: 'sr-only' }, receiptEl.title));

    const isPinned = pinned.has(m.id);
    const meta = h(
      'div',
      { class: 'meta' },
      isPinned ? h('span', { class: 'pinned-mark', title: 'Pinned' }, icon('pin'), h('span', { class: 'sr-only' }, 'Pinned.')) : null,
      m.edited_at && !m.deleted ? h('button', { type: 'button', class: 'link edited', onclick: () => showHistory(m), title: `Edited ${fullTime(m.edited_at)}` }, 'edited') : null,
      h('time', { datetime: m.created_at, title: fullTime(m.created_at) }, time(m.created_at)),
      receiptEl
    );

    const bubble = h(
      'div',
      { class: 'bubble' },
      group && !own && !continued ? h('button', { type: 'button', class: 'sender', onclick: () => openProfile(m.sender_id) }, senderName) : h('span', { class: 'sr-only' }, `${senderName}: `),
      m.forwarded_from ? forwardedNote(m.forwarded_from) : null,
      m.reply_to ? quote(m.reply_to) : null,
      m.thread_root_id ? threadNote(m) : null,
      files,
      body,
      renderReactions(chatId, m, reactorNames),
      threadSummary(m),
      meta
    );
    if (sender || own) bubble.querySelector('.sender')?.style.setProperty('--hue', hue(m.sender_id));

    const el = h('div', { class: cls.filter(Boolean).join(' '), dataset: { id: m.id, seq: m.pending ? '' : m.seq }, tabindex: '-1' });
    if (group && !own) el.append(continued ? h('span', { class: 'avatar-space' }) : h('button', { type: 'button', class: 'avatar-btn', 'aria-label': `Profile of ${senderName}`, onclick: () => openProfile(m.sender_id) }, avatar(sender || { id: m.sender_id }, { size: 32 })));
    el.append(bubble);
    if (m.pending && m.failed) el.append(notSentNote(chatId, m));
    if (!m.pending && !m.deleted) el.append(messageActions(m, own, isPinned));
    return el;
  }

  // Wrap @username in the rendered text (text nodes only, never code or links) so mentions stand out;
  // mine (and @all / @here when they reached me) the most.
  function markMentions(root, mentioned) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const hits = [];
    while (walker.nextNode()) if (/@[\w.-]{3,32}/.test(walker.currentNode.data) && !walker.currentNode.parentElement.closest('code, pre, a')) hits.push(walker.currentNode);
    for (const node of hits) {
      const parts = node.data.split(/(@[\w.-]{3,32})/);
      const self = (p) => p.slice(1).toLowerCase() === state.me.username || (mentioned && ['@all', '@here'].includes(p.toLowerCase()));
      node.replaceWith(...parts.map((p, i) => (i % 2 ? h('span', { class: `mention${self(p) ? ' self' : ''}` }, p) : p)));
    }
  }

  /** "Forwarded from <who>" on a copy (where it came from, a button to it, only for those in that chat). */
  function forwardedNote(f) {
    if (f.sender_id) actions.ensureUser(f.sender_id);
    const who = f.sender_id ? (f.sender_id === state.me.id ? 'you' : nameById(f.sender_id)) : '';
    const words = who ? `Forwarded from ${who}` : 'Forwarded';
    const from = f.chat_id && f.message_id && store.chatById(f.chat_id);
    const inner = [icon('forward'), h('span', {}, words)];
    if (!from) return h('div', { class: 'forwarded', title: `Originally sent ${fullTime(f.created_at)}` }, inner);
    const open = () => {
      state.jump = { chatId: f.chat_id, id: f.message_id, seq: f.seq ?? null };
      if (f.chat_id === chatId) takeJump();
      else go(`/chat/${f.chat_id}`);
    };
    return h('button', { type: 'button', class: 'forwarded', 'aria-label': `${words}, in ${chatTitle(from)}: show the original`, title: `Originally sent ${fullTime(f.created_at)}`, onclick: open }, inner);
  }

  function quote(id) {
    const target = store.findMessage(chatId, id);
    const text = !target ? 'An earlier message' : target.deleted ? 'Deleted message' : messageText(target).slice(0, 140);
    return h(
      'button',
      { type: 'button', class: 'quote', onclick: () => scrollToMessage(id), 'aria-label': `Reply to ${target ? nameById(target.sender_id) : 'a message'}: ${text}` },
      target ? h('strong', {}, nameById(target.sender_id)) : null,
      h('span', {}, text)
    );
  }

  // Threads: under a root, how many replies and who wrote them (it opens the thread); on a reply
  // that is also in the chat, a note naming the thread it belongs to.

  function threadSummary(m) {
    const t = m.thread;
    if (!t?.reply_count || m.deleted) return null;
    const ids = (t.participant_ids || []).slice(0, 3);
    ids.forEach(actions.ensureUser);
    const words = `${t.reply_count} ${t.reply_count === 1 ? 'reply' : 'replies'}`;
    const unread = t.unread_count > 0 ? `${t.unread_count} unread` : '';
    const last = t.last_reply_at ? `last reply ${listTime(t.last_reply_at)}` : '';
    return h(
      'button',
      {
        type: 'button',
        class: `thread-summary${unread ? ' unread' : ''}`,
        'aria-label': [words, unread, t.last_reply_at ? `last reply ${fullTime(t.last_reply_at)}` : '', 'open the thread'].filter(Boolean).join(', '),
        dataset: { focusKey: 'thread' },
        onclick: (e) => openThread(m.id, e.currentTarget),
      },
      ids.length ? h('span', { class: 'thread-faces' }, ids.map((id) => avatar(store.userById(id) || { id }, { size: 20 }))) : null,
      h('strong', {}, words),
      unread ? h('span', { class: 'badge' }, String(t.unread_count)) : null,
      last ? h('span', { class: 'thread-last' }, `· ${last}`) : null
    );
  }

  function threadNoteText(m) {
    const root = store.findMessage(chatId, m.thread_root_id);
    return root && !root.deleted ? messageText(root).slice(0, 80) : '';
  }

  function threadNote(m) {
    const text = threadNoteText(m);
    return h(
      'button',
      { type: 'button', class: 'thread-note', dataset: { focusKey: 'thread-note' }, 'aria-label': `Replied to a thread${text ? `: ${text}` : ''}. Open the thread`, onclick: (e) => openThread(m.thread_root_id, e.currentTarget) },
      icon('thread'),
      h('span', {}, text ? 'replied to a thread:' : 'replied to a thread'),
      text ? h('span', { class: 'thread-note-root' }, text) : null
    );
  }

  /** The thread of `rootId` in the panel; focus goes back to `opener` (or what has it now) when it closes. */
  function openThread(rootId, opener) {
    threadOpener = opener || document.activeElement;
    if (thread?.rootId === rootId) return thread.view.focus();
    go(`/chat/${chatId}/thread/${rootId}`);
  }

  function messageActions(m, own, isPinned) {
    const btn = (name, label, fn, key) => h('button', { type: 'button', class: 'icon-btn small', 'aria-label': label, title: label, onclick: fn, dataset: key ? { focusKey: key } : null }, icon(name));
    return h(
      'div',
      { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' },
      btn('reply', 'Reply', () => composer.reply(m)),
      m.type === 'text' ? btn('thread', 'Reply in thread', (e) => openThread(m.thread_root_id || m.id, e.currentTarget), 'reply-thread') : null,
      m.type === 'text' ? btn('forward', 'Forward', () => forwardDialog(chatId, m)) : null,
      m.type === 'text' ? btn('smile', 'Add reaction', (e) => pickReaction(m, e.currentTarget), 'react') : null,
      canPin() ? btn(isPinned ? 'pinOff' : 'pin', isPinned ? 'Unpin message' : 'Pin message', () => busy(null, () => (isPinned ? actions.unpinMessage(chatId, m.id) : actions.pinMessage(chatId, m.id)), { success: isPinned ? 'Unpinned' : 'Pinned' }), 'pin') : null,
      own && m.type === 'text' && m.content ? btn('edit', 'Edit', () => composer.edit(m)) : null,
      own && isGroup() ? btn('eye', 'Seen by', () => showReaders(m)) : null,
      m.content ? btn('copy', 'Copy text', () => navigator.clipboard?.writeText(m.content).then(() => toast('Copied'), () => toast('Cannot copy here', 'error'))) : null,
      canDelete(m) ? btn('trash', 'Delete', () => removeMessage(m)) : null
    );
  }

  /** The emoji picker for a message; focus comes back to its "Add reaction" button (drawn again meanwhile, perhaps). */
  function pickReaction(m, opener) {
    const mine = new Set((store.findMessage(chatId, m.id)?.reactions || []).filter((r) => r.me).map((r) => r.emoji));
    openEmojiPicker(opener, {
      chosen: mine,
      onPick: (emoji) => busy(null, () => actions.toggleReaction(chatId, m.id, emoji)),
      onClose: () => {
        const msg = items.querySelector(`.msg[data-id="${CSS.escape(m.id)}"]`);
        if (!msg) return;
        msg.focus({ preventScroll: true });
        msg.querySelector('[data-focus-key="react"]')?.focus({ preventScroll: true });
      },
    });
  }

  async function removeMessage(m) {
    if (!(await confirm('Delete this message for everyone in the chat?', { title: 'Delete message', confirmLabel: 'Delete', danger: true }))) return;
    await busy(null, () => actions.deleteMessage(chatId, m.id));
  }

  async function showHistory(m) {
    const body = h('div', { class: 'history' }, h('p', { class: 'muted' }, 'Loading…'));
    dialog({ title: 'Edit history', body });
    try {
      const versions = await actions.messageHistory(chatId, m.id);
      replace(
        body,
        h('div', { class: 'version current' }, h('div', { class: 'version-head' }, 'Now'), setSanitizedHtml(h('div', { class: 'md' }), m.html)),
        versions.map((v) => h('div', { class: 'version' }, h('div', { class: 'version-head' }, `Until ${fullTime(v.replaced_at)}`), setSanitizedHtml(h('div', { class: 'md' }), v.html)))
      );
    } catch (e) {
      replace(body, h('p', { class: 'error' }, e.message));
    }
  }

  async function showReaders(m) {
    const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    dialog({ title: 'Seen by', body });
    try {
      const rs = await actions.readStatus(chatId, m.id);
      const person = (id, extra) => h('li', { class: 'person-row' }, avatar(store.userById(id) || { id }, { size: 32 }), h('span', { class: 'grow' }, nameById(id)), extra ? h('small', { class: 'muted' }, extra) : null);
      replace(
        body,
        h('h3', {}, `Read (${rs.read_by.length})`),
        rs.read_by.length ? h('ul', { class: 'people' }, rs.read_by.map((r) => person(r.user_id, r.read_at ? fullTime(r.read_at) : ''))) : h('p', { class: 'muted' }, 'Nobody yet.'),
        h('h3', {}, `Not yet (${rs.unread_by.length})`),
        rs.unread_by.length ? h('ul', { class: 'people' }, rs.unread_by.map((id) => person(id))) : h('p', { class: 'muted' }, 'Everyone who shares read receipts has read it.'),
        h('p', { class: 'muted small' }, 'People who turned read receipts off are in neither list.')
      );
    } catch (e) {
      replace(body, h('p', { class: 'error' }, e.message));
    }
  }

  function scrollToMessage(id, behavior = 'smooth') {
    const el = items.querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (!el) return toast('That message is further up: scroll to load it.');
    el.scrollIntoView({ block: 'center', behavior });
    el.classList.add('flash');
    el.focus({ preventScroll: true });
    setTimeout(() => el.classList.remove('flash'), 1600);
  }

  /** Show message `id` (seq `seq`): loaded around it first when it is not held (a pin, a mention). */
  async function jumpTo(id, seq) {
    await loaded?.catch(() => {});
    if (destroyed.v) return;
    render(); // what is held, drawn now (a render may be waiting for the next frame)
    const find = () => items.querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (!find() && seq) {
      try {
        await actions.loadAround(chatId, seq);
      } catch (e) {
        return toast(e.message, 'error');
      }
      if (destroyed.v) return;
      render();
    }
    if (!find()) return toast(seq ? 'That message is no longer in this chat.' : 'That message is further up: scroll to load it.', seq ? 'error' : 'info');
    stickToBottom = false;
    scrollToMessage(id, 'auto');
    updateJump();
  }

  /** A jump asked for from elsewhere (the Mentions list), for this chat (one to a thread reply is its panel's). */
  function takeJump() {
    const j = state.jump;
    if (j?.chatId !== chatId || j.rootId) return;
    state.jump = null;
    jumpTo(j.id, j.seq);
  }

  const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 60;

  function render() {
    if (destroyed.v) return;
    const l = store.log(chatId);
    const wasAtBottom = stickToBottom || atBottom();
    let anchor = null;
    let anchorOffset = 0;
    if (!wasAtBottom) {
      // A message, not a separator: the day's separator moves up when older messages of the same day come.
      anchor = [...items.children].find((el) => el.dataset.id && el.offsetTop + el.offsetHeight > list.scrollTop);
      if (anchor) anchorOffset = anchor.offsetTop - list.scrollTop;
    }
    reconcile(items, buildItems(), (i) => i.key, renderItem, signature);
    if (l.loaded) announceNew();
    older.textContent = !l.loaded ? 'Loading messages…' : l.loadingOlder ? 'Loading earlier messages…' : l.hasOlder ? '' : 'This is the beginning of the chat.';

    if (!initialScrollDone && l.loaded) {
      initialScrollDone = true;
      const marker = items.querySelector('.unread-sep');
      if (marker && marker.offsetTop > list.clientHeight / 2) {
        list.scrollTop = marker.offsetTop - 80;
        stickToBottom = false;
      } else list.scrollTop = list.scrollHeight;
    } else if (wasAtBottom) {
      list.scrollTop = list.scrollHeight;
    } else if (anchor) {
      // By id: the element itself is drawn anew when it changes (it joins the sender's run above it, say).
      const again = items.querySelector(`[data-id="${CSS.escape(anchor.dataset.id)}"]`);
      if (again) list.scrollTop = again.offsetTop - anchorOffset;
    }
    stickToBottom = false;
    updateJump();
    maybeMarkRead();
    if (l.loaded && l.hasOlder && !l.loadingOlder && list.scrollHeight <= list.clientHeight + 50) actions.loadOlder(chatId).catch(() => {});
  }

  /** Speak messages from others that arrived since the last render (never the history loaded on opening or scrolling up). */
  function announceNew() {
    const msgs = store.messages(chatId).filter((m) => !m.pending);
    const newest = msgs.length ? msgs.at(-1).seq : 0;
    if (announcedSeq === null) {
      announcedSeq = newest;
      return;
    }
    const mine = (m) => m.sender_id === state.me.id || (m.type === 'system' && m.event?.by === state.me.id);
    const fresh = msgs.filter((m) => m.seq > announcedSeq && !mine(m) && !m.deleted);
    announcedSeq = Math.max(announcedSeq, newest);
    if (!fresh.length) return;
    const say = (m) => (m.type === 'system' ? describeEvent(m) : m.sender_blocked ? 'A message from someone you blocked' : `${nameById(m.sender_id)}: ${messageText(m)}`);
    const lines = fresh.length > 3 ? [`${fresh.length} new messages. The last one: ${say(fresh.at(-1))}`] : fresh.map(say);
    for (const line of lines) announcer.append(h('p', {}, line));
    while (announcer.childElementCount > 5) announcer.firstElementChild.remove();
  }

  // A burst of events (a replay after reconnecting) renders once per frame, not once per message.
  let frame = 0;
  function renderSoon() {
    if (!frame) frame = requestAnimationFrame(() => ((frame = 0), render()));
  }

  function updateJump() {
    const bottom = atBottom();
    const unread = chatSummary()?.unread_count || 0;
    jump.hidden = bottom;
    jump.querySelector('span').textContent = !bottom && unread ? String(unread) : '';
    jump.setAttribute('aria-label', !bottom && unread ? `Jump to the newest message, ${unread} unread` : 'Jump to the newest message');
  }

  function maybeMarkRead() {
    if (document.visibilityState === 'visible' && atBottom() && store.log(chatId).loaded) actions.markRead(chatId);
  }

  function renderTyping() {
    const names = store.typingIn(chatId).map(nameById);
    typingLine.textContent = !names.length ? '' : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
  }

  function toggleInfo() {
    if (!info) infoOpener = document.activeElement;
    go(info ? `/chat/${chatId}` : `/chat/${chatId}/info`);
  }

  // On a phone a panel covers the chat: what is under it leaves the Tab order.
  const applyInert = () => (section.inert = (!!info || !!thread) && narrow.matches);

  /** Close a panel (its view already destroyed): focus goes back to what opened it, if focus was in the panel. */
  function panelClosed(panel, opener, fallback) {
    const active = document.activeElement;
    const hadFocus = !active || active === document.body || panel.contains(active);
    replace(panel);
    panel.hidden = true;
    applyInert();
    if (hadFocus) (opener?.isConnected && section.contains(opener) ? opener : fallback()).focus({ preventScroll: true });
  }

  /** The root's summary (or the message itself) in the timeline, if it is there; else the composer. */
  function threadFallback(rootId) {
    const msg = items.querySelector(`.msg[data-id="${CSS.escape(rootId)}"]`);
    return msg?.querySelector('.thread-summary') || msg || composerHost.querySelector('textarea:not([hidden])') || infoButton;
  }

  function openThreadPanel(rootId) {
    if (thread?.rootId === rootId) return;
    thread?.view.destroy();
    threadDrawer.hidden = false;
    thread = {
      rootId,
      view: mountThread(threadDrawer, chatId, rootId, {
        onClose: () => go(`/chat/${chatId}`),
        onShowInChat: (m) => {
          if (narrow.matches) go(`/chat/${chatId}`);
          jumpTo(m.id, m.seq);
        },
        canDelete,
      }),
    };
    applyInert();
    thread.view.focus();
  }

  function closeThreadPanel() {
    if (!thread) return;
    const { rootId, view } = thread;
    view.destroy();
    thread = null;
    panelClosed(threadDrawer, threadOpener, () => threadFallback(rootId));
    threadOpener = null;
  }
  narrow.addEventListener('change', applyInert);

  list.addEventListener('scroll', () => {
    if (list.scrollTop < 400) actions.loadOlder(chatId).catch(() => {});
    updateJump();
    if (atBottom()) maybeMarkRead();
  });
  jump.addEventListener('click', () => {
    list.scrollTo({ top: list.scrollHeight, behavior: 'smooth' });
    composer.focus();
  });
  // Tapping a message on a touch screen shows its actions (they appear on hover with a mouse).
  items.addEventListener('click', (e) => {
    const msg = e.target.closest('.msg');
    if (msg && !e.target.closest('button, a')) msg.focus({ preventScroll: true });
  });
  // Keyboard: in the message list, Up/Down/Home/End move between messages; a focused message shows its actions, Tab reaches them.
  list.addEventListener('keydown', (e) => {
    if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(e.key) || e.target.closest('.msg-actions')) return;
    const all = [...items.querySelectorAll('.msg')];
    if (!all.length) return;
    const current = e.target.closest('.msg');
    let i = current ? all.indexOf(current) : all.length;
    // From a control between messages (a gap's button): the messages on either side of it.
    const next = !current && items.contains(e.target) ? all.findIndex((el) => e.target.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) : -1;
    if (e.key === 'ArrowUp') i = Math.max(0, (next >= 0 ? next : i) - 1);
    else if (e.key === 'ArrowDown') i = next >= 0 ? next : current ? Math.min(all.length - 1, i + 1) : all.length - 1;
    else i = e.key === 'Home' ? 0 : all.length - 1;
    e.preventDefault();
    all[i].focus();
    all[i].scrollIntoView({ block: 'nearest' });
  });
  // Esc: closes the info panel (focus goes back to what opened it); from the message list, back to the composer.
  // The pinned list closes itself first.
  // The composer and the mention list take their own Esc first (leaving edit or reply mode, closing the list).
  layout.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented || document.querySelector('dialog[open]')) return;
    if (info) {
      e.preventDefault();
      go(`/chat/${chatId}`);
    } else if (list.contains(e.target)) {
      e.preventDefault();
      composer.focus();
    }
  });
  const onVisible = () => maybeMarkRead();
  document.addEventListener('visibilitychange', onVisible);

  // Files dragged over the chat are dropped into the composer's tray. Anywhere else in the
  // window a drop does nothing (rather than the browser leaving the app to show the file).
  const carriesFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  let dragDepth = 0;
  const showDrop = (on) => (dropZone.hidden = !on);
  section.addEventListener('dragenter', (e) => {
    if (!carriesFiles(e) || section.inert) return;
    dragDepth++;
    showDrop(true);
  });
  section.addEventListener('dragleave', (e) => {
    if (!carriesFiles(e)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) showDrop(false);
  });
  section.addEventListener('dragover', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = section.inert ? 'none' : 'copy';
  });
  section.addEventListener('drop', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    dragDepth = 0;
    showDrop(false);
    if (section.inert) return;
    if (composer.addFiles(e.dataTransfer.files)) composer.focus();
    else toast('You cannot post files here.', 'error');
  });
  const noNavigation = (e) => {
    if (e.type === 'drop') (dragDepth = 0), showDrop(false);
    if (!carriesFiles(e) || section.contains(e.target) || threadDrawer.contains(e.target)) return; // the thread panel takes its own
    e.preventDefault();
    if (e.type === 'dragover') e.dataTransfer.dropEffect = 'none';
  };
  document.addEventListener('dragover', noNavigation);
  document.addEventListener('drop', noNavigation);

  const offs = [
    on(`log:${chatId}`, renderSoon),
    on(`chat:${chatId}`, () => (renderHeader(), composer.refresh(), render())),
    on('chats', () => (renderHeader(), updateJump())),
    on('users', () => (renderHeader(), render(), renderTyping())),
    on('typing', (id) => id === chatId && renderTyping()),
    on(`pins:${chatId}`, () => ((pinned = store.pinnedIds(chatId)), render())),
    on('jump', takeJump),
  ];

  async function load() {
    const summary = chatSummary();
    if (summary && summary.unread_count > 0) unreadFrom = summary.read_seq + 1;
    renderHeader();
    render();
    try {
      loaded = Promise.all([actions.loadInitial(chatId), actions.loadDetails(chatId)]);
      await loaded;
      if (!unreadFrom) {
        const s = chatSummary();
        if (s && s.unread_count > 0) unreadFrom = s.read_seq + 1;
      }
      render();
      realtime.kick();
      actions.refreshReceipts(chatId).catch(() => {});
    } catch (e) {
      if (e.status === 404) {
        toast('That chat is gone, or you are no longer in it.', 'error');
        go('/', { replace: true });
      } else older.textContent = e.message;
    }
  }
  load();
  renderTyping();
  composer.focus();
  takeJump();

  return {
    route(r) {
      const wantInfo = r.parts[2] === 'info';
      const wantThread = r.parts[2] === 'thread' && r.parts[3] ? r.parts[3] : null;
      infoButton.setAttribute('aria-expanded', String(wantInfo));
      if (!wantThread) closeThreadPanel();
      if (wantInfo && !info) {
        drawer.hidden = false;
        info = mountChatInfo(drawer, chatId);
      } else if (!wantInfo && info) {
        info.destroy();
        info = null;
        panelClosed(drawer, infoOpener, () => infoButton);
        infoOpener = null;
      }
      if (wantThread) openThreadPanel(wantThread);
      applyInert();
    },
    destroy() {
      destroyed.v = true;
      cancelAnimationFrame(frame);
      info?.destroy();
      thread?.view.destroy();
      pins.destroy();
      composer.destroy();
      offs.forEach((off) => off());
      document.removeEventListener('visibilitychange', onVisible);
      document.removeEventListener('dragover', noNavigation);
      document.removeEventListener('drop', noNavigation);
      narrow.removeEventListener('change', applyInert);
    },
  };
}
