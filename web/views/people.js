// views/people.js — the people panel: friends, friend requests, finding people, and who I blocked or muted.

import * as actions from '../lib/actions.js';
import { state, on } from '../lib/store.js';
import { h, replace, debounce } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { ago, fullTime, nameOf, presenceLine } from '../lib/format.js';
import { avatar, busy, empty, setTitle } from '../lib/ui.js';
import { openProfile, personActions } from './profile.js';

const TABS = [
  ['friends', 'Friends'],
  ['requests', 'Requests'],
  ['find', 'Find people'],
  ['blocked', 'Blocked'],
  ['muted', 'Muted'],
];

export function mountPeople(pane) {
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'People' });
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', tabindex: '0' });
  replace(
    pane,
    h(
      'section',
      { class: 'page' },
      h('header', { class: 'page-head' }, h('a', { href: '#/', class: 'icon-btn back', 'aria-label': 'Back to chats' }, icon('back')), h('h1', {}, 'People')),
      tabList,
      panel
    )
  );
  setTitle('People');

  let tab = 'friends';
  let query = '';
  let found = null;
  let foundTotal = 0;

  function renderTabs() {
    const incoming = state.contacts.incoming?.length || 0;
    replace(
      tabList,
      TABS.map(([id, label]) =>
        h(
          'button',
          { type: 'button', role: 'tab', id: `tab-${id}`, 'aria-selected': String(id === tab), tabindex: id === tab ? '0' : '-1', class: 'tab', onclick: () => select(id) },
          label,
          id === 'requests' && incoming ? [h('span', { class: 'badge', 'aria-hidden': 'true' }, String(incoming)), h('span', { class: 'sr-only' }, `, ${incoming} waiting`)] : null
        )
      )
    );
    panel.setAttribute('aria-labelledby', `tab-${tab}`);
  }

  function select(id, focus = false) {
    tab = id;
    renderTabs();
    renderPanel();
    if (focus) tabList.querySelector(`#tab-${id}`)?.focus();
    if (id === 'find') panel.querySelector('input')?.focus();
  }

  tabList.addEventListener('keydown', (e) => {
    const i = TABS.findIndex(([id]) => id === tab);
    if (e.key === 'ArrowRight') select(TABS[(i + 1) % TABS.length][0], true);
    else if (e.key === 'ArrowLeft') select(TABS[(i + TABS.length - 1) % TABS.length][0], true);
  });

  const refresh = () => actions.loadContacts().catch(() => {});

  function personRow(user, extra = [], controls = null) {
    return h(
      'li',
      { class: 'person-row' },
      h('button', { type: 'button', class: 'person-link', onclick: () => openProfile(user.id) }, avatar(user, { size: 40, presence: true }), h('span', { class: 'person-text' }, h('strong', {}, nameOf(user)), h('small', { class: 'muted' }, [`@${user.username}`, presenceLine(user), ...extra].filter(Boolean).join(' · ')))),
      h('span', { class: 'person-controls' }, controls ?? personActions(user, { after: refresh, compact: true }))
    );
  }

  function list(items, emptyText) {
    return items.length ? h('ul', { class: 'people' }, items) : empty(emptyText);
  }

  function renderPanel() {
    const c = state.contacts;
    const keep = document.activeElement && panel.contains(document.activeElement) && document.activeElement.matches('input');
    if (keep && tab === 'find') return renderFound();
    if (tab === 'friends') {
      if (!c.friends) return replace(panel, h('p', { class: 'muted pad' }, 'Loading…'));
      replace(panel, list(c.friends.map((f) => personRow(f.user, [`friends since ${fullTime(f.since)}`])), 'No friends yet. Find people to add them.'));
    } else if (tab === 'requests') {
      if (!c.incoming || !c.outgoing) return replace(panel, h('p', { class: 'muted pad' }, 'Loading…'));
      replace(
        panel,
        h('h2', { class: 'sub' }, 'Asking you'),
        list(
          c.incoming.map((r) =>
            personRow(r.from_user, [ago(r.created_at)], [
              h('button', { type: 'button', class: 'btn small primary', onclick: (e) => busy(e.currentTarget, () => actions.acceptRequest(r.id), { success: `You and ${nameOf(r.from_user)} are friends` }) }, 'Accept'),
              h('button', { type: 'button', class: 'btn small', onclick: (e) => busy(e.currentTarget, () => actions.declineRequest(r.id)) }, 'Decline'),
            ])
          ),
          'No requests waiting.'
        ),
        h('h2', { class: 'sub' }, 'Sent by you'),
        list(c.outgoing.map((r) => personRow(r.to_user, [`sent ${ago(r.created_at)}`], [h('button', { type: 'button', class: 'btn small', onclick: (e) => busy(e.currentTarget, () => actions.cancelRequest(r.id)) }, 'Cancel')])), 'No requests sent.')
      );
    } else if (tab === 'find') {
      const input = h('input', { type: 'search', value: query, placeholder: 'Name or username', 'aria-label': 'Find people', autocomplete: 'off' });
      input.addEventListener('input', () => {
        query = input.value;
        search();
      });
      replace(panel, h('div', { class: 'search wide' }, icon('search'), input), h('div', { class: 'found' }));
      renderFound();
    } else if (tab === 'blocked') {
      if (!c.blocked) return replace(panel, h('p', { class: 'muted pad' }, 'Loading…'));
      replace(panel, list(c.blocked.map((b) => personRow(b.user, [`since ${fullTime(b.since)}`], [h('button', { type: 'button', class: 'btn small', onclick: (e) => busy(e.currentTarget, () => actions.unblock(b.user.id)) }, 'Unblock')])), 'You have not blocked anyone.'));
    } else if (tab === 'muted') {
      if (!c.muted) return replace(panel, h('p', { class: 'muted pad' }, 'Loading…'));
      replace(panel, list(c.muted.map((m) => personRow(m.user, [m.until ? `until ${fullTime(m.until)}` : 'until you unmute'], [h('button', { type: 'button', class: 'btn small', onclick: (e) => busy(e.currentTarget, () => actions.unmute(m.user.id)) }, 'Unmute')])), 'You have not muted anyone.'));
    }
  }

  function renderFound() {
    const box = panel.querySelector('.found');
    if (!box) return;
    if (found === null) return replace(box, empty('Search everyone on this server by name or username.'));
    const more = found.length < foundTotal ? h('button', { type: 'button', class: 'btn', onclick: (e) => busy(e.currentTarget, () => search.now(found.length)) }, 'Show more') : null;
    replace(box, h('p', { class: 'muted small' }, `${foundTotal} found`), list(found.map((u) => personRow(u)), 'Nobody matches.'), more);
  }

  async function runSearch(skip = 0) {
    const q = query.trim();
    if (!q) {
      found = null;
      return renderFound();
    }
    const page = await actions.searchUsers(q, skip, 20);
    if (query.trim() !== q) return;
    found = skip ? [...found, ...page.items] : page.items;
    foundTotal = page.total;
    renderFound();
  }
  const search = debounce(() => runSearch().catch(() => {}), 200);
  search.now = runSearch;

  const offs = [
    on('contacts', () => {
      renderTabs();
      if (tab === 'find') runSearch().catch(() => {});
      else renderPanel();
    }),
  ];
  renderTabs();
  renderPanel();
  refresh();

  return {
    route(r) {
      if (r.parts[1] && TABS.some(([id]) => id === r.parts[1]) && r.parts[1] !== tab) select(r.parts[1]);
    },
    destroy: () => offs.forEach((off) => off()),
  };
}
