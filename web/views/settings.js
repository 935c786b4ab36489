// views/settings.js — my account: profile, status, privacy, devices (sessions), password, email, deleting the account.

import * as api from '../lib/api.js';
import * as actions from '../lib/actions.js';
import { state, on } from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { ago, fullTime, nameOf } from '../lib/format.js';
import { avatar, busy, confirm, field, photoControls, prompt, select, showFormError, setTitle, toast } from '../lib/ui.js';
import { statusForm } from './profile.js';
import * as notify from '../lib/notify.js';

function section(title, ...children) {
  return h('section', { class: 'settings-section', 'aria-label': title }, h('h2', {}, title), children);
}

function savingForm(children, submitLabel, onsubmit) {
  const submit = h('button', { type: 'submit', class: 'btn primary' }, submitLabel);
  const f = h('form', { class: 'stack' }, h('p', { class: 'form-error', role: 'alert', hidden: true }), children, h('div', { class: 'row' }, submit));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    showFormError(f, null);
    try {
      await onsubmit(new FormData(f), f);
    } catch (err) {
      showFormError(f, err);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

export function mountSettings(pane) {
  const sessionsBox = h('div', { class: 'sessions' }, h('p', { class: 'muted' }, 'Loading…'));
  const body = h('div', { class: 'page-body' });
  replace(
    pane,
    h('section', { class: 'page' }, h('header', { class: 'page-head' }, h('a', { href: '#/', class: 'icon-btn back', 'aria-label': 'Back to chats' }, icon('back')), h('h1', {}, 'Settings')), body)
  );
  setTitle('Settings');

  function render() {
    const me = state.me;
    replace(
      body,
      h(
        'div',
        { class: 'me-card' },
        avatar(me, { size: 64 }),
        h(
          'div',
          { class: 'me-card-text' },
          h('h2', {}, nameOf(me)),
          h('p', { class: 'muted' }, `@${me.username} · ${me.email}`),
          me.is_admin ? h('span', { class: 'role role-admin' }, 'server admin') : null,
          photoControls({
            has: !!me.avatar_url,
            set: (file) => actions.setMyAvatar(file),
            remove: () => actions.removeMyAvatar(),
          })
        )
      ),
      section('Status', statusForm()),
      section('Profile', profileForm(me)),
      section('Privacy', privacyForm(me)),
      section('Notifications', notificationsToggle()),
      section(
        'Devices',
        h('p', { class: 'muted' }, 'Where you are logged in. End a session to log that device out.'),
        sessionsBox,
        h(
          'div',
          { class: 'row wrap' },
          h('button', { type: 'button', class: 'btn', onclick: (e) => busy(e.currentTarget, logoutOthers) }, 'Log out other devices'),
          h('button', { type: 'button', class: 'btn danger', onclick: async () => (await confirm('Log out on every device, this one included?', { confirmLabel: 'Log out everywhere', danger: true })) && busy(null, api.logoutAll) }, 'Log out everywhere')
        )
      ),
      section('Password', passwordForm()),
      section('Email', emailForm(me)),
      section(
        'Account',
        h('div', { class: 'row wrap' }, h('button', { type: 'button', class: 'btn', onclick: () => api.logout() }, icon('logout'), 'Log out'), h('button', { type: 'button', class: 'btn danger', onclick: deleteAccount }, icon('trash'), 'Delete my account'))
      )
    );
    loadSessions();
  }

  function profileForm(me) {
    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    return savingForm(
      [
        field('Display name', h('input', { name: 'display_name', value: me.display_name, maxlength: 64, autocomplete: 'name' })),
        field('About you', h('textarea', { name: 'bio', rows: 3, maxlength: 500 }, me.bio || '')),
        field('Language', h('input', { name: 'locale', value: me.locale || '', placeholder: navigator.language, autocomplete: 'language' }), 'A language tag such as en or de-CH'),
        field('Time zone', h('input', { name: 'time_zone', value: me.time_zone || '', placeholder: Intl.DateTimeFormat().resolvedOptions().timeZone, list: 'tz-list' })),
        h('datalist', { id: 'tz-list' }, zones.map((z) => h('option', { value: z }))),
      ],
      'Save profile',
      async (data) => {
        await actions.updateMe({ display_name: data.get('display_name').trim(), bio: data.get('bio').trim(), locale: data.get('locale').trim() || null, time_zone: data.get('time_zone').trim() || null });
        toast('Profile saved', 'ok');
      }
    );
  }

  function privacyForm(me) {
    const p = me.privacy;
    const audience = [['everyone', 'Everyone'], ['contacts', 'Friends only'], ['nobody', 'Nobody']];
    return savingForm(
      [
        field('Who sees my status and last seen', select('presence', audience, p.presence)),
        field('Who can start a direct chat with me', select('direct_messages', audience.slice(0, 2), p.direct_messages)),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'read_receipts', checked: p.read_receipts }), h('span', {}, 'Send read receipts (others see when I have read their messages)')),
      ],
      'Save privacy',
      async (data) => {
        await actions.updateMe({ privacy: { presence: data.get('presence'), direct_messages: data.get('direct_messages'), read_receipts: data.get('read_receipts') === 'on' } });
        toast('Privacy saved', 'ok');
      }
    );
  }

  /** Browser notifications: the permission prompt comes from this click, never on load. */
  function notificationsToggle() {
    const note = h('p', { class: 'muted small' });
    const box = h('input', { type: 'checkbox', name: 'notify', checked: notify.enabled(), disabled: !notify.supported() });
    const explain = () => {
      const p = notify.permission();
      note.textContent =
        p === 'unsupported'
          ? 'This browser cannot show notifications.'
          : p === 'denied'
            ? 'The browser blocks notifications for this site: allow them in its site settings first.'
            : 'For new messages while Block Chat is in the background. Muted chats and people stay quiet.';
    };
    box.addEventListener('change', async () => {
      if (!box.checked) {
        notify.disable();
        return explain();
      }
      const p = await notify.enable();
      box.checked = p === 'granted';
      if (box.checked) actions.loadMuted().catch(() => {});
      if (p !== 'granted') toast(p === 'denied' ? 'Notifications are blocked in the browser settings.' : 'Notifications were not allowed.', 'error');
      explain();
    });
    explain();
    return h('div', { class: 'stack' }, h('label', { class: 'check' }, box, h('span', {}, 'Show a notification for new messages')), note);
  }

  function passwordForm() {
    return savingForm(
      [
        h('input', { type: 'text', name: 'username', value: state.me.username, autocomplete: 'username', hidden: true, readonly: true }),
        field('Current password', h('input', { type: 'password', name: 'current_password', autocomplete: 'current-password', required: true })),
        field('New password', h('input', { type: 'password', name: 'new_password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 128 }), 'At least 8 characters. Your other devices are logged out.'),
      ],
      'Change password',
      async (data, f) => {
        await actions.changePassword(data.get('current_password'), data.get('new_password'));
        f.reset();
        toast('Password changed. Other devices are logged out.', 'ok');
        loadSessions();
      }
    );
  }

  function emailForm(me) {
    return savingForm(
      [field('Email', h('input', { type: 'email', name: 'email', value: me.email, autocomplete: 'email', required: true })), field('Current password', h('input', { type: 'password', name: 'current_password', autocomplete: 'current-password', required: true }), 'Needed to change the email')],
      'Change email',
      async (data, f) => {
        await actions.updateMe({ email: data.get('email').trim(), current_password: data.get('current_password') });
        f.querySelector('[name=current_password]').value = '';
        toast('Email changed', 'ok');
      }
    );
  }

  async function loadSessions() {
    try {
      const list = await actions.sessions();
      replace(
        sessionsBox,
        h(
          'ul',
          { class: 'session-list' },
          list.map((s) =>
            h(
              'li',
              { class: 'session' },
              h(
                'div',
                { class: 'grow' },
                h('strong', {}, describeAgent(s.user_agent), s.current ? h('span', { class: 'tag' }, 'this device') : null),
                h('small', { class: 'muted' }, [s.ip, `active ${ago(s.last_used_at)}`, `since ${fullTime(s.created_at)}`, s.remember_me ? 'remembered' : 'until idle'].filter(Boolean).join(' · '))
              ),
              s.current ? null : h('button', { type: 'button', class: 'btn small', 'aria-label': `End session on ${describeAgent(s.user_agent)}`, onclick: (e) => busy(e.currentTarget, () => actions.endSession(s.id).then(loadSessions)) }, 'End')
            )
          )
        )
      );
    } catch (e) {
      replace(sessionsBox, h('p', { class: 'error' }, e.message));
    }
  }

  async function logoutOthers() {
    const list = await actions.sessions();
    const others = list.filter((s) => !s.current);
    await Promise.all(others.map((s) => actions.endSession(s.id)));
    toast(others.length ? `Logged out ${others.length} other device${others.length > 1 ? 's' : ''}` : 'No other devices', 'ok');
    loadSessions();
  }

  async function deleteAccount() {
    const password = await prompt('This erases your profile and ends every session. Your messages in shared chats stay, from “Deleted user”. Enter your password to confirm.', { title: 'Delete account', label: 'Password', type: 'password', confirmLabel: 'Delete my account', danger: true });
    if (!password) return;
    try {
      await actions.deleteAccount(password);
      api.forget();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  const typing = () => body.contains(document.activeElement) && document.activeElement.matches('input:not([type=checkbox]):not([type=radio]), textarea');
  // Focus on a photo button survives the redraw that a new photo brings.
  const redraw = () => {
    if (typing()) return;
    const key = body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    render();
    if (key) (body.querySelector(`[data-focus-key="${key}"]`) || body.querySelector('[data-focus-key="photo-change"]'))?.focus();
  };
  const offs = [on('me', redraw), on('sessions', () => loadSessions())];
  render();
  return { destroy: () => offs.forEach((off) => off()) };
}

function describeAgent(ua) {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /curl/.test(ua) ? 'curl' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}
