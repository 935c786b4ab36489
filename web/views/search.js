// views/search.js — message search across my chats (or one): words, "phrases" and -exclusions, filters
// for files and links, results with the matches highlighted; choosing one opens its chat on that message.
//
// The query and filters live in the URL (#/search?q=…&chat=…&in=1&has=file), kept current as one
// types (replaceState, so no history entry per key): Back from a chosen result comes here again,
// and the results shown last are restored (with focus on the one that was chosen) instead of fetched.

import * as actions from '../lib/actions.js';
import * as router from '../lib/router.js';
import { state, on, chatById } from '../lib/store.js';
import { debounce, h, reconcile, replace, setSanitizedHtml } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { chatTitle, filesOf, fullTime, listTime, nameById, otherUser } from '../lib/format.js';
import { avatar, busy, setTitle } from '../lib/ui.js';
import { messageHref, showInChat } from './mentions.js';

const PAGE = 20;
const QUERY_MAX = 200; // the server's limit, in characters
const TYPING_MS = 250;
const REUSE_MS = 120_000; // results shown last are reused this long when coming back to the same search

let returnTo = null; // where closing the search goes back to (the screen it was opened from)
let last = null; // the last results shown: {key, q, results, next, at, chosen (a message id)}
let mounted = null; // the open search view: {focusInput}

const pathFor = ({ q, chat, only, has }) => {
  const qs = new URLSearchParams();
  if (q) qs.set('q', q);
  if (chat) qs.set('chat', chat);
  if (chat && only) qs.set('in', '1');
  if (has) qs.set('has', has);
  const s = qs.toString();
  return s ? `/search?${s}` : '/search';
};

/**
 * Open the search (the sidebar's button, Ctrl+K or "/", a chat's "Search in this chat", the chat
 * filter's "Search messages for …"). `chatId`: the chat it is opened from, offered as a filter
 * (applied with `only`). `q`: the words to look for, else the last search again (selected, so
 * typing replaces it). When the search is open already, this only moves focus to its field.
 */
export function openSearch({ chatId = null, only = false, q = null } = {}) {
  const r = router.current();
  if (r.name === 'search' && mounted) return mounted.focusInput(q);
  returnTo = r.path && r.path !== '/search' ? r.path : '/';
  if (last) last.chosen = null; // opened afresh: focus goes to the field, not to a result chosen before
  router.go(pathFor({ q: q ?? last?.q ?? '', chat: chatId, only }));
}

/** What a 422 (or another refusal) means, in words. */
function wording(e) {
  const msg = e.fields?.q;
  if (e.status === 422 && msg) {
    if (/at most 200/.test(msg)) return `The search is too long: ${QUERY_MAX} characters at most.`;
    if (/something to look for/.test(msg)) return 'Type a word to look for (not only words to leave out, with -).';
    if (/at most 10/.test(msg)) return 'Use at most 10 words or phrases.';
    return `Cannot search: ${msg}.`;
  }
  return e.message || 'The search failed.';
}

export function mountSearch(pane) {
  const input = h('input', {
    type: 'search',
    class: 'search-input',
    placeholder: 'Search messages',
    'aria-label': 'Search messages',
    'aria-describedby': 'search-help',
    'aria-keyshortcuts': 'Control+K',
    autocomplete: 'off',
    spellcheck: 'false',
    enterkeyhint: 'search',
    maxlength: String(QUERY_MAX),
  });
  const onlyBox = h('input', { type: 'checkbox' });
  const onlyText = h('span');
  const onlyChip = h('label', { class: 'filter-chip', hidden: true }, onlyBox, onlyText);
  const hasChip = (value, iconName, text) => h('button', { type: 'button', class: 'filter-chip', 'aria-pressed': 'false', dataset: { has: value } }, icon(iconName), text);
  const filesChip = hasChip('file', 'paperclip', 'With files');
  const linksChip = hasChip('link', 'link', 'With links');
  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'aria-label': 'Messages' },
    h('div', { class: 'search' }, icon('search'), input),
    h('div', { class: 'search-filters', role: 'group', 'aria-label': 'Filters' }, onlyChip, filesChip, linksChip)
  );
  const help = h('p', { class: 'search-help', id: 'search-help' }, 'Every word must occur, whole or as part of a word; accents and case do not matter. ', h('code', {}, '"Quotes"'), ' find a phrase, ', h('code', {}, '-word'), ' leaves a word out.');
  const closeButton = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close search', title: 'Close search (Esc)', onclick: () => close() }, icon('close'));
  const status = h('p', { class: 'search-status', role: 'status' });
  const errorLine = h('p', { class: 'error search-error', role: 'alert' });
  const list = h('ul', { class: 'search-results', 'aria-label': 'Results (arrow keys move between them)' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Show more results');
  const section = h(
    'section',
    { class: 'page search-page', 'aria-labelledby': 'search-title' },
    h('header', { class: 'page-head' }, h('h1', { id: 'search-title', class: 'grow' }, 'Search messages'), closeButton),
    h('div', { class: 'search-bar' }, form, help),
    h('div', { class: 'page-body' }, status, errorLine, list, h('div', { class: 'row center' }, more))
  );
  replace(pane, section);
  setTitle('Search');

  let chatId = null; // the chat the search was opened from (the "Only in" filter offers it)
  let only = false;
  let has = null; // 'file' | 'link' | null
  let results = null; // SearchResult[] shown, or null before a search
  let next = null; // next_cursor
  let loading = false;
  let error = '';
  let seq = 0; // answers to older requests are dropped
  let destroyed = false;
  const fetching = new Set(); // chats not in my list whose details are on their way (for their names)

  const query = () => input.value.trim();
  /** What decides the results (the chat counts only while its filter is on). */
  const keyOf = () => JSON.stringify([query(), only ? chatId : null, has]);
  const chatOf = (id) => chatById(id) || state.details.get(id) || null;

  function titleOf(r) {
    const m = r.message;
    const chat = chatOf(m.chat_id);
    if (chat) return chatTitle(chat);
    if (!fetching.has(m.chat_id)) {
      fetching.add(m.chat_id);
      actions.loadDetails(m.chat_id).then(() => !destroyed && render(), () => {});
    }
    if (r.chat_type === 'group') return r.chat_name || 'Group';
    // A direct chat not in my list (yet): the other person wrote it, unless I did.
    return m.sender_id && m.sender_id !== state.me?.id ? nameById(m.sender_id) : 'Direct chat';
  }

  function row(r) {
    const m = r.message;
    const title = titleOf(r);
    if (m.sender_id) actions.ensureUser(m.sender_id);
    const who = m.sender_id ? nameById(m.sender_id) : '';
    const mine = m.sender_id === state.me?.id;
    const chat = chatOf(m.chat_id);
    const snippet = h('span', { class: 'snippet' });
    if (m.deleted) snippet.textContent = 'This message was deleted';
    else if (m.sender_blocked) snippet.textContent = 'A message from someone you blocked';
    else setSanitizedHtml(snippet, r.snippet_html, 'snippet'); // escaped by the server; only <mark> is kept
    const files = m.sender_blocked ? [] : filesOf(m);
    const group = r.chat_type === 'group';
    const pic = group ? avatar(chat || { id: m.chat_id }, { size: 40, group: true, label: title }) : avatar(otherUser(chat) || (mine ? null : state.users.get(m.sender_id)) || { id: m.chat_id, display_name: title }, { size: 40 });
    // Who wrote it: in a group always; in a direct chat the title names the other person, so only "You".
    const showWho = who && (group || mine);
    const heading = group ? `${who ? `${who} in ` : ''}${title}` : mine ? `You to ${title}` : title;
    const filesText = files.length ? `, with ${files.length === 1 ? `the file ${files[0].name}` : `${files.length} files`}` : '';
    return h(
      'li',
      {},
      h(
        'a',
        {
          href: messageHref(m),
          class: 'result-row',
          dataset: { id: m.id },
          'aria-label': `${heading}, ${fullTime(m.created_at)}: ${snippet.textContent}${filesText}`,
          onclick: (e) => {
            if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return; // a new tab, as asked
            if (last) last.chosen = m.id;
            showInChat(m); // the chat opens on this message (loaded around it if need be), focused
          },
        },
        pic,
        h(
          'span',
          { class: 'result-main' },
          h('span', { class: 'result-top' }, h('strong', { class: 'result-chat' }, title), h('time', { datetime: m.created_at, title: fullTime(m.created_at) }, listTime(m.created_at))),
          h('span', { class: 'result-text' }, showWho ? h('span', { class: 'result-who' }, `${who}: `) : null, snippet),
          files.length ? h('span', { class: 'result-files' }, icon('paperclip'), h('span', {}, files.map((f) => f.name).join(', '))) : null
        )
      )
    );
  }

  const signature = (r) => {
    const m = r.message;
    const chat = chatOf(m.chat_id);
    // The snippet too: the same message found by other words has other matches marked.
    return JSON.stringify([r.snippet_html, m.deleted, m.sender_blocked, filesOf(m).map((f) => f.name), titleOf(r), nameById(m.sender_id), chat?.avatar_url, otherUser(chat)?.avatar_url, state.users.get(m.sender_id)?.avatar_url]);
  };

  function renderFilters() {
    const chat = chatId ? chatOf(chatId) : null;
    onlyChip.hidden = !chatId;
    onlyBox.checked = only;
    onlyText.textContent = chat ? `Only in ${chatTitle(chat)}` : 'Only in this chat';
    for (const chip of [filesChip, linksChip]) chip.setAttribute('aria-pressed', String(chip.dataset.has === has));
  }

  function render() {
    if (destroyed) return;
    renderFilters();
    reconcile(list, results || [], (r) => r.message.id, row, signature);
    errorLine.textContent = error;
    more.hidden = !results?.length || !next;
    const n = results?.length || 0;
    const filtered = only || has;
    if (error) status.textContent = '';
    else if (!query()) status.textContent = '';
    else if (results === null) status.textContent = loading ? 'Searching…' : '';
    else if (!n) status.textContent = filtered ? 'No results with these filters' : 'No results';
    else status.textContent = `${n} result${n === 1 ? '' : 's'}${next ? ', more below' : ''}`;
  }

  /** Keep the URL on what is shown (no history entry: Back leaves the search, not the last key). */
  function syncUrl() {
    history.replaceState(null, '', `#${pathFor({ q: query(), chat: chatId, only, has })}`);
  }

  async function run({ append = false } = {}) {
    const q = query();
    const mine = ++seq;
    if (!q) {
      results = null;
      next = null;
      error = '';
      loading = false;
      return render();
    }
    const key = keyOf();
    loading = true;
    if (!append) render();
    try {
      const page = await actions.searchMessages({ q, chatId: only ? chatId : null, has, cursor: append ? next : null, limit: PAGE });
      if (mine !== seq || destroyed) return;
      if (append) {
        const held = new Set(results.map((r) => r.message.id));
        results = [...results, ...page.results.filter((r) => !held.has(r.message.id))];
      } else results = page.results;
      next = page.next_cursor;
      error = '';
      last = { key, q, results, next, at: Date.now(), chosen: null };
    } catch (e) {
      if (mine !== seq || destroyed) return;
      error = wording(e);
      if (!append) (results = null), (next = null);
    } finally {
      if (mine === seq) loading = false;
    }
    render();
  }

  const runSoon = debounce(() => run(), TYPING_MS);
  /** Filters and Enter search at once; typing waits for a pause. */
  function searchNow() {
    syncUrl();
    runSoon.cancel();
    return run();
  }

  input.addEventListener('input', () => {
    syncUrl();
    if (!query()) return searchNow();
    seq++; // an answer for what was typed before is of no use now
    runSoon();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    searchNow();
  });
  onlyBox.addEventListener('change', () => {
    only = onlyBox.checked;
    searchNow();
  });
  for (const chip of [filesChip, linksChip]) {
    chip.addEventListener('click', () => {
      has = has === chip.dataset.has ? null : chip.dataset.has;
      searchNow();
    });
  }
  more.addEventListener('click', () =>
    busy(more, async () => {
      const before = results?.length || 0;
      await run({ append: true });
      // Focus goes on to the first of the new results.
      list.querySelectorAll('a.result-row')[before]?.focus();
    })
  );

  function close() {
    router.go(returnTo || (chatId ? `/chat/${chatId}` : '/'));
  }

  // Keyboard: Down from the field goes to the results; Up/Down/Home/End move through them (Up from the
  // first goes back to the field); Enter opens one. Esc from a result or a filter goes back to the
  // field, and from the field closes the search.
  section.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.isComposing || document.querySelector('dialog[open]')) return;
    const links = [...list.querySelectorAll('a.result-row')];
    if (e.key === 'Escape') {
      e.preventDefault(); // also keeps the browser from just emptying the search field
      if (e.target === input) close();
      else input.focus();
      return;
    }
    if (e.target === input) {
      if (e.key === 'ArrowDown' && links.length) {
        e.preventDefault();
        links[0].focus();
      }
      return;
    }
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowDown: Math.min(links.length - 1, i + 1), ArrowUp: i - 1, Home: 0, End: links.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    (to < 0 ? input : links[to]).focus();
  });

  const offs = [on('chats', render), on('users', render)];

  function focusInput(q = null) {
    if (q != null && q !== query()) {
      input.value = q;
      searchNow();
    }
    input.focus();
    input.select();
  }
  mounted = { focusInput };

  return {
    /** The URL says what to search for (on opening, and if it is changed by hand). */
    route(r) {
      const p = r.params;
      const want = { q: p.get('q') || '', chat: p.get('chat') || null, only: p.get('in') === '1' && !!p.get('chat'), has: ['file', 'link'].includes(p.get('has')) ? p.get('has') : null };
      const first = results === null && !loading && seq === 0;
      if (!first && want.q === query() && want.chat === chatId && want.only === only && want.has === has) return;
      input.value = want.q.slice(0, QUERY_MAX);
      chatId = want.chat;
      only = want.only;
      has = want.has;
      returnTo ??= chatId ? `/chat/${chatId}` : '/';
      const reuse = last && last.key === keyOf() && Date.now() - last.at < REUSE_MS && query();
      if (reuse) {
        results = last.results;
        next = last.next;
        render();
      } else run();
      const chosen = reuse && last.chosen ? list.querySelector(`a.result-row[data-id="${CSS.escape(last.chosen)}"]`) : null;
      if (chosen) {
        chosen.focus({ preventScroll: true });
        chosen.scrollIntoView({ block: 'center' });
      } else focusInput();
    },
    destroy() {
      destroyed = true;
      runSoon.cancel();
      offs.forEach((off) => off());
      if (mounted?.focusInput === focusInput) mounted = null;
    },
  };
}
