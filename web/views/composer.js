// views/composer.js — the Markdown composer: Enter sends, Shift+Enter breaks the line, Up edits my last message, @ completes names.
// Files come by the paperclip, a paste or a drop (chat.js) into the tray above it; a send waits for their uploads.
// The same composer answers in a thread's panel (`threadRootId`): its own draft and tray, and "Also send to chat".

import * as actions from '../lib/actions.js';
import * as realtime from '../lib/realtime.js';
import * as store from '../lib/store.js';
import { state } from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { messageText, nameById, nameOf } from '../lib/format.js';
import { avatar, toast } from '../lib/ui.js';
import { mountTray } from './attachments.js';

const drafts = new Map(); // chat id → unsent text, kept while the app runs
const MAX = 4000;
/** The group-wide mentions, offered after the members. */
const EVERYONE = [
  { id: 'all', username: 'all', special: 'Everyone in the group' },
  { id: 'here', username: 'here', special: 'Everyone online now' },
];

/** Under a message of mine the server refused or never got: why, and Retry / Discard. */
export function notSentNote(chatId, m) {
  return h(
    'div',
    { class: 'send-failed', role: 'alert' },
    h('span', {}, `Not sent${m.error ? `: ${m.error}` : ''}`),
    h('button', { type: 'button', class: 'link', onclick: () => actions.deliver(chatId, m) }, 'Retry'),
    h('button', { type: 'button', class: 'link', onclick: () => actions.discardPending(chatId, m.client_id) }, 'Discard')
  );
}

export function mountComposer(host, chatId, { onSent, threadRootId = null }) {
  const key = threadRootId ? `${chatId} ${threadRootId}` : chatId; // its draft and its tray
  const idPart = threadRootId ? `${chatId}-thread-${threadRootId}` : chatId;
  const hintId = `composer-hint-${idPart}`;
  const textarea = h('textarea', { rows: '1', placeholder: threadRootId ? 'Reply…' : 'Write a message…', 'aria-label': threadRootId ? 'Thread reply' : 'Message', 'aria-describedby': hintId, maxlength: String(MAX), enterkeyhint: 'send' });
  const sendLabel = threadRootId ? 'Send reply' : 'Send';
  const attachLabel = threadRootId ? 'Attach files to the reply' : 'Attach files';
  const sendButton = h('button', { type: 'submit', class: 'send', 'aria-label': sendLabel }, icon('send'));
  const fileInput = h('input', { type: 'file', multiple: true, hidden: true, tabindex: '-1', 'aria-label': 'Files to attach' });
  const attachButton = h('button', { type: 'button', class: 'icon-btn attach', 'aria-label': attachLabel, title: attachLabel, onclick: () => fileInput.click() }, icon('paperclip'));
  const trayHost = h('div', { class: 'tray-host', hidden: true });
  const waitNote = h('p', { class: 'tray-note', role: 'status', hidden: true });
  const context = h('div', { class: 'composer-context', hidden: true });
  const suggest = h('ul', { class: 'suggest', role: 'listbox', 'aria-label': 'People to mention', hidden: true });
  const blockedNote = h('div', { class: 'composer-blocked', hidden: true });
  const tool = (name, label, before, after = before) => h('button', { type: 'button', class: 'icon-btn small', 'aria-label': label, title: label, onclick: () => wrap(before, after) }, icon(name));
  const tools = h('div', { class: 'md-tools', role: 'toolbar', 'aria-label': 'Formatting' }, tool('bold', 'Bold', '**'), tool('italic', 'Italic', '_'), tool('code', 'Code', '`'), tool('link', 'Link', '[', '](https://)'), tool('quote', 'Quote', '> ', ''));
  const counter = h('span', { class: 'counter', 'aria-live': 'polite' });
  const alsoBox = threadRootId ? h('input', { type: 'checkbox' }) : null;
  const also = threadRootId ? h('label', { class: 'check also-in-chat', title: 'The reply shows in the chat too' }, alsoBox, h('span', {}, 'Also send to chat')) : null;
  const HINTS = {
    none: threadRootId ? 'Enter to send · Shift+Enter for a new line · Up to edit your last reply' : 'Enter to send · Shift+Enter for a new line · Up to edit your last message · **bold** _italic_ `code`',
    reply: 'Enter to send the reply · Esc to cancel it · Shift+Enter for a new line',
    edit: 'Enter to save · Esc to cancel editing · Shift+Enter for a new line',
  };
  const hint = h('span', { class: 'hint', id: hintId }, HINTS.none);
  const form = h(
    'form',
    { class: 'composer' },
    context,
    trayHost,
    waitNote,
    suggest,
    h('div', { class: 'composer-row' }, attachButton, fileInput, textarea, sendButton),
    h('div', { class: 'composer-foot' }, tools, also, hint, counter)
  );
  replace(host, blockedNote, form);

  let mode = null; // {kind: 'reply'|'edit', message}
  let suggestions = [];
  let selected = 0;
  let waiting = false; // Enter was pressed while files were still uploading: send when they are done
  const tray = mountTray(trayHost, key, { onChange: trayChanged, onEmptied: () => textarea.focus() });

  textarea.value = drafts.get(key) || '';

  function grow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
    const left = MAX - textarea.value.length;
    counter.textContent = left < 200 ? `${left} left` : '';
  }

  function wrap(before, after) {
    const { selectionStart: s, selectionEnd: e, value } = textarea;
    const picked = value.slice(s, e);
    textarea.setRangeText(`${before}${picked}${after}`, s, e, 'end');
    if (!picked) textarea.setSelectionRange(s + before.length, s + before.length);
    textarea.focus();
    onInput();
  }

  function setMode(next) {
    mode = next;
    hint.textContent = HINTS[mode?.kind || 'none'];
    if (!mode) {
      context.hidden = true;
      replace(context);
      return;
    }
    const m = mode.message;
    const label = mode.kind === 'edit' ? 'Editing your message' : `Replying to ${nameById(m.sender_id)}`;
    replace(
      context,
      h('span', { class: 'context-icon' }, icon(mode.kind === 'edit' ? 'edit' : 'reply')),
      h('span', { class: 'context-text' }, h('strong', {}, label), h('span', {}, messageText(m).slice(0, 120))),
      h('button', { type: 'button', class: 'icon-btn small', 'aria-label': mode.kind === 'edit' ? 'Cancel editing' : 'Cancel reply', onclick: cancelMode }, icon('close'))
    );
    context.hidden = false;
  }

  function cancelMode() {
    if (mode?.kind === 'edit') textarea.value = drafts.get(key) || '';
    setMode(null);
    grow();
    textarea.focus();
  }

  async function submit() {
    const text = textarea.value.trim();
    if (mode?.kind === 'edit') {
      const m = mode.message;
      if (!text) return toast('A message cannot be empty. Delete it instead.', 'error');
      if (text === m.content) return cancelMode();
      try {
        await actions.editMessage(chatId, m.id, text);
        textarea.value = drafts.get(key) || '';
        setMode(null);
        grow();
      } catch (e) {
        toast(e.message, 'error');
      }
      return;
    }
    if (!text && !tray.hasFiles()) return;
    if (tray.failed().length) {
      setWaiting(false);
      toast(tray.failed().length === 1 ? 'A file could not be uploaded: remove it to send.' : 'Some files could not be uploaded: remove them to send.', 'error');
      tray.focusFailed();
      return;
    }
    if (tray.uploading()) return setWaiting(true);
    setWaiting(false);
    const files = tray.take();
    const replyTo = mode?.kind === 'reply' ? mode.message.id : null;
    const alsoInChat = !!alsoBox?.checked;
    textarea.value = '';
    drafts.delete(key);
    if (alsoBox) alsoBox.checked = false;
    setMode(null);
    grow();
    onSent?.();
    await actions.sendMessage(chatId, text, replyTo, files, { threadRootId, alsoInChat });
    realtime.kick();
  }

  // Files: sending waits for the uploads, and says so.
  function setWaiting(on) {
    waiting = on;
    sendButton.classList.toggle('waiting', on);
    sendButton.setAttribute('aria-label', on ? `${sendLabel} (waiting for the uploads)` : sendLabel);
    waitNote.hidden = !on;
    if (on) replace(waitNote, h('span', {}, 'Sending when the uploads finish… '), h('button', { type: 'button', class: 'link', onclick: () => (setWaiting(false), textarea.focus()) }, 'Cancel'));
    else replace(waitNote);
  }

  function trayChanged() {
    if (!waiting) return;
    if (!tray.hasFiles() && !textarea.value.trim()) return setWaiting(false);
    if (!tray.uploading()) submit();
  }

  function addFiles(files) {
    if (form.hidden) return false;
    tray.add(files);
    return true;
  }

  fileInput.addEventListener('change', () => {
    addFiles(fileInput.files);
    fileInput.value = ''; // the same file again is a change too
    textarea.focus();
  });
  // Pasted images (a screenshot) join the tray; pasted text stays text.
  textarea.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (!files.length || mode?.kind === 'edit') return;
    if (!e.clipboardData.types.includes('text/plain')) e.preventDefault();
    addFiles(files);
  });

  // @mentions: in groups, suggest members whose name starts with what follows the @, and @all /
  // @here where the group lets me use them.
  function mentionQuery() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const m = before.match(/(?:^|\s)@([\w.-]{0,32})$/);
    return m ? m[1].toLowerCase() : null;
  }

  function onInput() {
    if (mode?.kind !== 'edit') {
      drafts.set(key, textarea.value);
      if (textarea.value.trim() && !threadRootId) realtime.typing(chatId); // the hint would show under the timeline
    }
    grow();
    const q = mentionQuery();
    const chat = state.details.get(chatId);
    const members = chat?.members || [];
    if (q === null || chat?.type !== 'group') suggestions = [];
    else {
      const people = members
        .map((m) => m.user)
        .filter((u) => u.id !== state.me.id && !u.is_deleted && (u.username.startsWith(q) || nameOf(u).toLowerCase().startsWith(q)))
        .slice(0, 6);
      const role = chat.me?.role;
      const mayAll = (chat.settings?.mention_all || 'everyone') === 'everyone' || role === 'admin' || role === 'owner';
      const everyone = mayAll ? EVERYONE.filter((x) => x.username.startsWith(q)) : [];
      suggestions = [...people, ...everyone];
    }
    selected = 0;
    renderSuggest();
  }

  function renderSuggest() {
    suggest.hidden = !suggestions.length;
    textarea.setAttribute('aria-expanded', String(!!suggestions.length));
    replace(
      suggest,
      suggestions.map((u, i) =>
        h(
          'li',
          { role: 'option', id: `mention-${idPart}-${u.id}`, 'aria-selected': String(i === selected), class: i === selected ? 'selected' : '', onmousedown: (e) => (e.preventDefault(), pick(u)) },
          avatar(u, { size: 24, group: !!u.special, label: u.special }),
          h('span', {}, u.special || nameOf(u)),
          h('small', { class: 'muted' }, `@${u.username}`)
        )
      )
    );
    if (suggestions.length) textarea.setAttribute('aria-activedescendant', `mention-${idPart}-${suggestions[selected].id}`);
    else textarea.removeAttribute('aria-activedescendant');
  }

  function pick(u) {
    const pos = textarea.selectionStart;
    const before = textarea.value.slice(0, pos).replace(/@([\w.-]{0,32})$/, `@${u.username} `);
    textarea.value = before + textarea.value.slice(pos);
    textarea.setSelectionRange(before.length, before.length);
    suggestions = [];
    renderSuggest();
    onInput();
  }

  textarea.addEventListener('input', onInput);
  textarea.addEventListener('keydown', (e) => {
    if (suggestions.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        selected = (selected + (e.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
        return renderSuggest();
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        return pick(suggestions[selected]);
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        suggestions = [];
        return renderSuggest();
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && waiting) {
      e.preventDefault();
      e.stopPropagation();
      setWaiting(false);
    } else if (e.key === 'Escape' && mode) {
      e.preventDefault();
      e.stopPropagation();
      cancelMode();
    } else if (e.key === 'ArrowUp' && !textarea.value && !mode && !tray.hasFiles()) {
      const held = threadRootId ? store.threadReplies(threadRootId) : store.messages(chatId);
      const mine = held.filter((m) => m.sender_id === state.me.id && m.type === 'text' && !m.deleted && !m.pending && m.content);
      if (mine.length) {
        e.preventDefault();
        edit(mine.at(-1));
      }
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });

  function edit(m) {
    setMode({ kind: 'edit', message: m });
    textarea.value = m.content;
    grow();
    textarea.focus();
    textarea.setSelectionRange(m.content.length, m.content.length);
  }

  /** Whether I may post here; if not, say why instead of showing the composer. */
  function refresh() {
    const chat = state.details.get(chatId);
    if (!chat) return;
    let reason = null;
    let action = null;
    if (chat.type === 'group' && chat.settings.post === 'admins' && chat.me.role === 'member') reason = 'Only admins can post in this group.';
    if (chat.type === 'direct') {
      const other = chat.members.find((m) => m.user.id !== state.me.id)?.user;
      if (other?.is_deleted) reason = 'This account was deleted.';
      else if (other?.is_blocked) {
        reason = `You blocked ${nameOf(other)}.`;
        action = h('button', { type: 'button', class: 'btn small', onclick: async () => (await actions.unblock(other.id), actions.loadDetails(chatId)) }, 'Unblock');
      }
    }
    form.hidden = !!reason;
    blockedNote.hidden = !reason;
    replace(blockedNote, reason ? h('span', {}, reason) : null, action);
  }

  grow();
  refresh();

  return {
    focus: () => textarea.focus({ preventScroll: true }),
    reply(m) {
      if (mode?.kind === 'edit') textarea.value = drafts.get(key) || '';
      setMode({ kind: 'reply', message: m });
      grow();
      textarea.focus();
    },
    edit,
    refresh,
    /** Files dropped on the chat: into the tray (false when I cannot post here). */
    addFiles,
    destroy() {
      if (mode?.kind !== 'edit') drafts.set(key, textarea.value);
      tray.destroy();
    },
  };
}
