// views/chatinfo.js — the chat info drawer: my settings for the chat, group info and rules, members and their roles.

import * as actions from '../lib/actions.js';
import { state, on, stable } from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { chatTitle, nameOf, otherUser, presenceLine, fullTime } from '../lib/format.js';
import { avatar, busy, confirm, field, photoControls, select, showFormError, toast } from '../lib/ui.js';
import { go } from '../lib/router.js';
import { openProfile } from './profile.js';
import { pickPeopleDialog } from './newchat.js';

const MUTE_CHOICES = [
  ['', 'Not muted'],
  ['1h', 'For 1 hour'],
  ['8h', 'For 8 hours'],
  ['1w', 'For a week'],
  ['forever', 'Until I turn it back on'],
];

export function muteUntil(choice) {
  const hours = { '1h': 1, '8h': 8, '1w': 168 }[choice];
  if (hours) return new Date(Date.now() + hours * 3600_000).toISOString();
  if (choice === 'forever') return '9999-12-31T00:00:00Z';
  return null;
}

const allows = (policy, role) => policy === 'everyone' || role === 'admin' || role === 'owner';

export function mountChatInfo(host, chatId) {
  const body = h('div', { class: 'drawer-body' });
  replace(
    host,
    h('header', { class: 'drawer-head' }, h('h2', {}, 'Chat info'), h('a', { href: `#/chat/${chatId}`, class: 'icon-btn', 'aria-label': 'Close chat info' }, icon('close'))),
    body
  );
  host.querySelector('.icon-btn')?.focus();

  let lastSig = '';
  function render() {
    const chat = state.details.get(chatId);
    if (!chat) return replace(body, h('p', { class: 'muted' }, 'Loading…'));
    const sig = stable([chat, otherUser(chat)]);
    const typing = document.activeElement?.matches('input:not([type=checkbox]), textarea') && body.contains(document.activeElement);
    if (sig === lastSig || typing) return;
    lastSig = sig;
    const active = document.activeElement && body.contains(document.activeElement) ? document.activeElement : null;
    const keep = active?.getAttribute('name');
    const keepKey = active?.dataset.focusKey;
    replace(body, chat.type === 'direct' ? directInfo(chat) : groupInfo(chat), mySettings(chat), dangerZone(chat));
    if (keep) body.querySelector(`[name="${keep}"]`)?.focus();
    else if (keepKey) (body.querySelector(`[data-focus-key="${keepKey}"]`) || body.querySelector('[data-focus-key="photo-change"]'))?.focus();
  }

  function directInfo(chat) {
    const other = otherUser(chat);
    return h(
      'section',
      { class: 'info-card center' },
      avatar(other, { size: 72, presence: true }),
      h('h3', {}, nameOf(other)),
      h('p', { class: 'muted' }, `@${other?.username || ''}`),
      h('p', {}, presenceLine(other)),
      other?.bio ? h('p', { class: 'bio' }, other.bio) : null,
      h('button', { type: 'button', class: 'btn', onclick: () => openProfile(other.id) }, 'View profile')
    );
  }

  function groupInfo(chat) {
    const role = chat.me.role;
    const canEdit = allows(chat.settings.edit_info, role);
    const isAdmin = role === 'admin' || role === 'owner';
    const parts = [
      h(
        'section',
        { class: 'info-card center' },
        avatar(chat, { size: 72, group: true, label: chatTitle(chat) }),
        h('h3', {}, chatTitle(chat)),
        chat.description ? h('p', { class: 'bio' }, chat.description) : null,
        h('p', { class: 'muted small' }, `Created ${fullTime(chat.created_at)}`),
        canEdit ? photoControls({ has: !!chat.avatar_url, label: 'group photo', set: (file) => actions.setChatAvatar(chatId, file), remove: () => actions.removeChatAvatar(chatId) }) : null
      ),
    ];
    if (canEdit) {
      const f = h(
        'form',
        { class: 'stack' },
        h('p', { class: 'form-error', role: 'alert', hidden: true }),
        field('Group name', h('input', { name: 'name', value: chat.name || '', required: true, maxlength: 100 })),
        field('Description', h('textarea', { name: 'description', rows: 2, maxlength: 1000 }, chat.description || '')),
        h('button', { type: 'submit', class: 'btn primary' }, 'Save')
      );
      f.addEventListener('submit', async (e) => {
        e.preventDefault();
        const data = new FormData(f);
        try {
          await actions.updateChat(chatId, { name: data.get('name').trim(), description: data.get('description').trim() });
          toast('Saved', 'ok');
        } catch (err) {
          showFormError(f, err);
        }
      });
      parts.push(h('section', { class: 'info-section' }, h('h3', {}, 'Name and description'), f));
    }
    if (isAdmin) {
      const policy = (name, label) =>
        field(label, select(name, [['everyone', 'Everyone'], ['admins', 'Admins only']], chat.settings[name], { onchange: (e) => busy(e.target, () => actions.updateChat(chatId, { settings: { [name]: e.target.value } }), { success: 'Saved' }) }));
      parts.push(
        h(
          'section',
          { class: 'info-section' },
          h('h3', {}, 'Group rules'),
          policy('post', 'Who can post'),
          policy('add_members', 'Who can add members'),
          policy('edit_info', 'Who can edit name, description and photo'),
          policy('pin', 'Who can pin messages'),
          policy('mention_all', 'Who can mention @all and @here')
        )
      );
    }
    parts.push(members(chat));
    return parts;
  }

  function members(chat) {
    const role = chat.me.role;
    const canAdd = allows(chat.settings.add_members, role);
    const order = { owner: 0, admin: 1, member: 2 };
    const sorted = [...chat.members].sort((a, b) => order[a.role] - order[b.role] || nameOf(a.user).localeCompare(nameOf(b.user)));
    return h(
      'section',
      { class: 'info-section' },
      h('div', { class: 'section-head' }, h('h3', {}, `Members (${chat.members.length})`), canAdd ? h('button', { type: 'button', class: 'btn small', onclick: addPeople }, icon('userPlus'), 'Add') : null),
      h('ul', { class: 'people' }, sorted.map((m) => memberRow(chat, m)))
    );
  }

  function memberRow(chat, m) {
    const me = m.user.id === state.me.id;
    const myRole = chat.me.role;
    const controls = [];
    if (!me && myRole === 'owner') {
      controls.push(
        select('role', [['member', 'Member'], ['admin', 'Admin'], ['owner', 'Owner']], m.role, {
          'aria-label': `Role of ${nameOf(m.user)}`,
          onchange: async (e) => {
            const role = e.target.value;
            if (role === 'owner' && !(await confirm(`Hand the group over to ${nameOf(m.user)}? You become an admin.`, { title: 'Transfer ownership', confirmLabel: 'Transfer' }))) {
              e.target.value = m.role;
              return;
            }
            await busy(e.target, () => actions.setRole(chatId, m.user.id, role), { success: 'Role changed' });
          },
        })
      );
    } else controls.push(m.role !== 'member' ? h('span', { class: `role role-${m.role}` }, m.role) : null);
    if (!me && (myRole === 'owner' || (myRole === 'admin' && m.role === 'member'))) {
      controls.push(
        h('button', {
          type: 'button',
          class: 'icon-btn small',
          'aria-label': `Remove ${nameOf(m.user)}`,
          title: 'Remove from group',
          onclick: async (e) => {
            if (await confirm(`Remove ${nameOf(m.user)} from the group?`, { confirmLabel: 'Remove', danger: true })) await busy(e.currentTarget, () => actions.removeMember(chatId, m.user.id));
          },
        }, icon('close'))
      );
    }
    return h(
      'li',
      { class: 'person-row' },
      h('button', { type: 'button', class: 'person-link', onclick: () => openProfile(m.user.id) }, avatar(m.user, { size: 36, presence: true }), h('span', { class: 'person-text' }, h('strong', {}, me ? `${nameOf(m.user)} (you)` : nameOf(m.user)), h('small', { class: 'muted' }, presenceLine(m.user) || `@${m.user.username}`))),
      h('span', { class: 'person-controls' }, controls)
    );
  }

  async function addPeople() {
    const chat = state.details.get(chatId);
    const ids = await pickPeopleDialog({ title: 'Add members', confirmLabel: 'Add', exclude: new Set(chat.members.map((m) => m.user.id)) });
    if (ids?.length) await busy(null, () => actions.addMembers(chatId, ids), { success: ids.length === 1 ? 'Member added' : 'Members added' });
  }

  function mySettings(chat) {
    const me = chat.me;
    const current = !me.muted_until ? '' : new Date(me.muted_until).getFullYear() > 9000 ? 'forever' : 'custom';
    const choices = current === 'custom' ? [...MUTE_CHOICES, ['custom', `Until ${fullTime(me.muted_until)}`]] : MUTE_CHOICES;
    const set = (body, target) => busy(target, () => actions.updateMySettings(chatId, body));
    const toggle = (name, label) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name, checked: me[name], onchange: (e) => set({ [name]: e.target.checked }, e.target) }), h('span', {}, label));
    return h(
      'section',
      { class: 'info-section' },
      h('h3', {}, 'For me'),
      field('Mute notifications', select('muted_until', choices, current, { onchange: (e) => e.target.value !== 'custom' && set({ muted_until: muteUntil(e.target.value) }, e.target) })),
      field('Notify me about', select('notifications', [['all', 'All messages'], ['mentions', 'Mentions only'], ['none', 'Nothing']], me.notifications, { onchange: (e) => set({ notifications: e.target.value }, e.target) })),
      toggle('pinned', 'Pin to the top of my list'),
      toggle('archived', 'Archive (hide from the main list)')
    );
  }

  function dangerZone(chat) {
    const buttons = [];
    if (chat.type === 'direct') {
      buttons.push(
        h('button', {
          type: 'button',
          class: 'btn',
          onclick: async (e) => {
            if (!(await confirm('Hide this chat from your list? It comes back when a new message arrives; the other person keeps it.', { title: 'Hide chat', confirmLabel: 'Hide' }))) return;
            if ((await busy(e.currentTarget, () => actions.deleteChat(chatId).then(() => true))) === true) go('/');
          },
        }, icon('archive'), 'Hide chat')
      );
    } else {
      buttons.push(
        h('button', {
          type: 'button',
          class: 'btn danger',
          onclick: async (e) => {
            const owner = chat.me.role === 'owner';
            if (!(await confirm(owner ? 'Leave the group? The longest-standing admin (or member) becomes its owner.' : 'Leave the group? You can only come back if someone adds you.', { title: 'Leave group', confirmLabel: 'Leave', danger: true }))) return;
            if ((await busy(e.currentTarget, () => actions.removeMember(chatId, 'me').then(() => true))) === true) go('/');
          },
        }, icon('logout'), 'Leave group')
      );
      if (chat.me.role === 'owner') {
        buttons.push(
          h('button', {
            type: 'button',
            class: 'btn danger',
            onclick: async (e) => {
              if (!(await confirm(`Delete “${chatTitle(chat)}” and its messages for everyone?`, { title: 'Delete group', confirmLabel: 'Delete', danger: true }))) return;
              if ((await busy(e.currentTarget, () => actions.deleteChat(chatId).then(() => true))) === true) go('/');
            },
          }, icon('trash'), 'Delete group')
        );
      }
    }
    return h('section', { class: 'info-section actions-col' }, buttons);
  }

  const offs = [on(`chat:${chatId}`, render), on('users', render)];
  render();
  actions.loadDetails(chatId).catch(() => {});
  return { destroy: () => offs.forEach((off) => off()) };
}
