// views/newchat.js — starting chats: the new direct chat and new group dialogs, and a people picker they share.

import * as actions from '../lib/actions.js';
import { state } from '../lib/store.js';
import { h, replace, debounce } from '../lib/dom.js';
import { nameOf, presenceLine } from '../lib/format.js';
import { avatar, dialog, field, showFormError, toast } from '../lib/ui.js';
import { go } from '../lib/router.js';

/**
 * A search box over people: friends when empty, everyone matching when typed.
 * `multi`: checkboxes, and picked() lists the chosen ids; otherwise onPick(user) on click.
 */
function peoplePicker({ multi = false, onPick = null, exclude = new Set() }) {
  const input = h('input', { type: 'search', placeholder: 'Search by name or username', 'aria-label': 'Search people', autocomplete: 'off' });
  const list = h('ul', { class: 'people picker', role: multi ? 'group' : 'list', 'aria-label': 'People' });
  const chosen = new Map(); // id → user
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  let shown = [];

  function renderChips() {
    replace(chips, [...chosen.values()].map((u) => h('button', { type: 'button', class: 'chip', 'aria-label': `Remove ${nameOf(u)}`, onclick: () => (chosen.delete(u.id), renderChips(), renderList()) }, nameOf(u), ' ×')));
  }

  function renderList(note) {
    const rows = shown.filter((u) => !exclude.has(u.id) && u.id !== state.me.id);
    if (!rows.length) return replace(list, h('li', { class: 'muted pad' }, note || (input.value.trim() ? 'Nobody found.' : 'No friends yet: search for people by name.')));
    replace(
      list,
      rows.map((u) => {
        const main = [avatar(u, { size: 36, presence: true }), h('span', { class: 'person-text' }, h('strong', {}, nameOf(u)), h('small', { class: 'muted' }, `@${u.username}${presenceLine(u) ? ` · ${presenceLine(u)}` : ''}`))];
        if (!multi) return h('li', {}, h('button', { type: 'button', class: 'person-link', onclick: () => onPick(u) }, main));
        const box = h('input', { type: 'checkbox', checked: chosen.has(u.id), onchange: (e) => (e.target.checked ? chosen.set(u.id, u) : chosen.delete(u.id), renderChips()) });
        return h('li', {}, h('label', { class: 'person-link' }, box, main));
      })
    );
  }

  async function showFriends() {
    if (state.contacts.friends) {
      shown = state.contacts.friends.map((f) => f.user);
      renderList();
    }
    await actions.loadFriends().catch(() => {});
    if (input.value.trim()) return;
    shown = (state.contacts.friends || []).map((f) => f.user);
    renderList();
  }

  const search = debounce(async () => {
    const q = input.value.trim();
    if (!q) return showFriends();
    try {
      const page = await actions.searchUsers(q, 0, 20);
      if (input.value.trim() !== q) return;
      shown = page.items;
      renderList();
    } catch (e) {
      renderList(e.message);
    }
  }, 200);
  input.addEventListener('input', search);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      list.querySelector('button, input')?.focus();
    }
  });

  renderList('Loading…');
  showFriends();
  return { el: h('div', { class: 'picker-box' }, input, multi ? chips : null, list), picked: () => [...chosen.keys()], input };
}

export function newDirectDialog() {
  let dlg;
  const picker = peoplePicker({
    onPick: async (u) => {
      try {
        const chat = await actions.openDirect(u.id);
        dlg.close();
        go(`/chat/${chat.id}`);
      } catch (e) {
        toast(e.message, 'error');
      }
    },
  });
  dlg = dialog({ title: 'New chat', body: h('div', { class: 'stack' }, h('p', { class: 'muted' }, 'Pick a friend, or search for anyone.'), picker.el) });
}

export function newGroupDialog() {
  const picker = peoplePicker({ multi: true });
  const form = h(
    'form',
    { class: 'stack', id: 'new-group-form' },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    field('Group name', h('input', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' })),
    field('Description', h('input', { name: 'description', maxlength: 1000, autocomplete: 'off' }), 'Optional'),
    h('div', { class: 'field' }, h('span', { class: 'label' }, 'Members'), picker.el)
  );
  const create = h('button', { type: 'submit', form: 'new-group-form', class: 'btn primary' }, 'Create group');
  const dlg = dialog({ title: 'New group', body: form, actions: [h('button', { type: 'button', class: 'btn', onclick: () => dlg.close() }, 'Cancel'), create], wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    create.disabled = true;
    try {
      const chat = await actions.createGroup(data.get('name').trim(), data.get('description').trim(), picker.picked());
      dlg.close();
      go(`/chat/${chat.id}`);
    } catch (err) {
      showFormError(form, err);
    } finally {
      create.disabled = false;
    }
  });
  // Enter in the search box should search, not submit the form.
  picker.input.addEventListener('keydown', (e) => e.key === 'Enter' && e.preventDefault());
}

/** Choose several people; resolves with their ids, or null if cancelled. */
export function pickPeopleDialog({ title, confirmLabel, exclude }) {
  const picker = peoplePicker({ multi: true, exclude });
  const dlg = dialog({
    title,
    body: picker.el,
    actions: [h('button', { type: 'button', class: 'btn', onclick: () => dlg.close(null) }, 'Cancel'), h('button', { type: 'button', class: 'btn primary', onclick: () => dlg.close(picker.picked()) }, confirmLabel)],
  });
  return dlg.closed;
}
