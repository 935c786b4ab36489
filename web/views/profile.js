// views/profile.js — someone's profile card with what I can do about them, and the editor of my own status.

import * as actions from '../lib/actions.js';
import { state } from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { fullTime, nameOf, presenceLine } from '../lib/format.js';
import { avatar, busy, confirm, dialog, field, select, toast } from '../lib/ui.js';
import { go } from '../lib/router.js';

export const MUTE_PERSON = [
  ['1h', 'For 1 hour'],
  ['8h', 'For 8 hours'],
  ['1w', 'For a week'],
  ['forever', 'Until I unmute'],
];

function until(choice) {
  const hours = { '1h': 1, '8h': 8, '1w': 168 }[choice];
  return hours ? new Date(Date.now() + hours * 3600_000).toISOString() : null;
}

/** The things I can do about someone: message, befriend, block, mute. Used by the profile card and the people lists. */
export function personActions(user, { after = () => {}, compact = false } = {}) {
  if (user.id === state.me.id || user.is_deleted) return [];
  const friends = state.contacts.friends || [];
  const outgoing = (state.contacts.outgoing || []).find((r) => r.to_user.id === user.id);
  const incoming = (state.contacts.incoming || []).find((r) => r.from_user.id === user.id);
  const muted = (state.contacts.muted || []).find((m) => m.user.id === user.id);
  const isFriend = user.is_friend ?? friends.some((f) => f.user.id === user.id);
  const act = (label, fn, cls = 'btn small', success) => h('button', { type: 'button', class: cls, onclick: (e) => busy(e.currentTarget, fn, { success }).then(after) }, label);
  const out = [];
  if (!user.is_blocked) {
    out.push(
      act('Message', async () => {
        const chat = await actions.openDirect(user.id);
        document.querySelector('dialog[open]')?.close();
        go(`/chat/${chat.id}`);
      }, 'btn small primary')
    );
    if (isFriend) {
      out.push(act('Remove friend', async () => (await confirm(`Stop being friends with ${nameOf(user)}?`, { confirmLabel: 'Remove', danger: true })) && actions.unfriend(user.id)));
    } else if (incoming) {
      out.push(act('Accept request', () => actions.acceptRequest(incoming.id), 'btn small', 'You are friends now'));
    } else if (outgoing) {
      out.push(act('Cancel request', () => actions.cancelRequest(outgoing.id)));
    } else {
      out.push(act('Add friend', () => actions.sendFriendRequest(user.id), 'btn small', 'Friend request sent'));
    }
  }
  if (!compact) {
    if (muted) out.push(act('Unmute', () => actions.unmute(user.id)));
    else {
      const choice = select('mute', [['', 'Mute…'], ...MUTE_PERSON], '', {
        class: 'btn small',
        'aria-label': `Mute ${nameOf(user)}`,
        onchange: (e) => {
          const v = e.target.value;
          if (v) busy(e.target, () => actions.mute(user.id, until(v)), { success: `${nameOf(user)} is muted` }).then(after);
        },
      });
      out.push(choice);
    }
  }
  out.push(
    user.is_blocked
      ? act('Unblock', () => actions.unblock(user.id), 'btn small', `${nameOf(user)} is unblocked`)
      : act('Block', async () => (await confirm(`Block ${nameOf(user)}? You stop being friends, and they cannot message you or see your status.`, { title: 'Block', confirmLabel: 'Block', danger: true })) && actions.block(user.id), 'btn small danger', null)
  );
  return out;
}

export async function openProfile(userId) {
  if (!userId) return;
  const body = h('div', { class: 'profile' }, h('p', { class: 'muted' }, 'Loading…'));
  dialog({ title: 'Profile', body });
  const load = async () => {
    try {
      const [user] = await Promise.all([actions.getUser(userId), state.contacts.muted ? null : actions.loadContacts().catch(() => {})]);
      draw(user);
    } catch (e) {
      replace(body, h('p', { class: 'error' }, e.message));
    }
  };
  const draw = (user) => {
    const me = user.id === state.me.id;
    replace(
      body,
      h(
        'div',
        { class: 'info-card center' },
        avatar(user, { size: 80, presence: true }),
        h('h3', {}, nameOf(user)),
        h('p', { class: 'muted' }, `@${user.username}`),
        presenceLine(user) ? h('p', {}, presenceLine(user)) : null,
        user.bio ? h('p', { class: 'bio' }, user.bio) : null,
        h('p', { class: 'muted small' }, `Joined ${fullTime(user.created_at)}`),
        user.is_blocked ? h('p', { class: 'notice' }, 'You blocked this person.') : null
      ),
      me ? h('p', { class: 'center' }, h('a', { href: '#/settings', class: 'btn', onclick: () => document.querySelector('dialog[open]')?.close() }, 'Edit my profile')) : h('div', { class: 'row wrap center' }, personActions(user, { after: load }))
    );
  };
  load();
}

const EXPIRY = [
  ['', 'Don’t clear'],
  ['30m', 'In 30 minutes'],
  ['1h', 'In 1 hour'],
  ['4h', 'In 4 hours'],
  ['today', 'At the end of today'],
  ['1w', 'In a week'],
];

function expiresAt(choice) {
  const minutes = { '30m': 30, '1h': 60, '4h': 240, '1w': 10080 }[choice];
  if (minutes) return new Date(Date.now() + minutes * 60_000).toISOString();
  if (choice === 'today') {
    const d = new Date();
    d.setHours(23, 59, 59, 0);
    return d.toISOString();
  }
  return null;
}

/** The editor of my status: what I show (online, away, busy, appear offline), a line of text, and when it clears. */
export function statusForm({ onSaved } = {}) {
  const me = state.me;
  const status = me.chosen_status || 'online';
  const f = h(
    'form',
    { class: 'stack' },
    h(
      'fieldset',
      { class: 'status-choices' },
      h('legend', {}, 'Show me as'),
      [['online', 'Online'], ['away', 'Away'], ['busy', 'Busy (do not disturb)'], ['offline', 'Offline (appear offline)']].map(([v, label]) =>
        h('label', { class: 'check' }, h('input', { type: 'radio', name: 'status', value: v, checked: v === status }), h('span', { class: `dot dot-${v}` }), h('span', {}, label))
      )
    ),
    field('Status message', h('input', { name: 'status_text', value: me.status_text || '', maxlength: 100, placeholder: 'What are you up to?' })),
    field('Clear after', select('expiry', EXPIRY, '')),
    me.status_expires_at ? h('p', { class: 'muted small' }, `Clears ${fullTime(me.status_expires_at)}`) : null,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, 'Save status'), h('button', { type: 'button', class: 'btn', onclick: () => save({ status: 'online', status_text: null, expires_at: null }) }, 'Reset'))
  );
  async function save(body) {
    try {
      await actions.setStatus(body);
      toast('Status saved', 'ok');
      onSaved?.();
    } catch (e) {
      toast(e.message, 'error');
    }
  }
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(f);
    save({ status: data.get('status'), status_text: data.get('status_text').trim() || null, expires_at: expiresAt(data.get('expiry')) });
  });
  return f;
}

export function statusDialog() {
  const me = state.me;
  let dlg;
  const body = h(
    'div',
    { class: 'stack' },
    h('div', { class: 'row' }, avatar(me, { size: 48 }), h('span', { class: 'person-text' }, h('strong', {}, nameOf(me)), h('small', { class: 'muted' }, `@${me.username}`))),
    statusForm({ onSaved: () => dlg.close() }),
    h('p', { class: 'row' }, h('a', { href: '#/settings', class: 'link', onclick: () => dlg.close() }, 'Profile and settings'))
  );
  dlg = dialog({ title: 'Your status', body });
}
