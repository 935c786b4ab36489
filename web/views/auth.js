// views/auth.js — the screens before a session: log in, register, forgot password, reset password.

import * as api from '../lib/api.js';
import { h, replace } from '../lib/dom.js';
import { field, showFormError } from '../lib/ui.js';
import { go } from '../lib/router.js';

export function renderAuth(root, route, { onLoggedIn }) {
  const screens = { login, register, forgot, 'reset-password': reset };
  const card = h('div', { class: 'card' }, brand(), screens[route.name](route, onLoggedIn));
  replace(root, h('main', { class: 'auth-page' }, card));
  card.querySelector('input')?.focus();
}

function brand() {
  return h('div', { class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: 40, height: 40 }), h('span', {}, 'Block Chat'));
}

function input(name, props = {}) {
  return h('input', { name, id: `auth-${name}`, ...props });
}

function form(title, children, onsubmit, submitLabel) {
  const submit = h('button', { type: 'submit', class: 'btn primary block' }, submitLabel);
  const f = h('form', { class: 'stack', novalidate: false }, h('h1', {}, title), h('p', { class: 'form-error', role: 'alert', hidden: true }), children, submit);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    showFormError(f, null);
    try {
      await onsubmit(new FormData(f), f);
    } catch (err) {
      showFormError(f, err);
    } finally {
      if (submit.isConnected) submit.disabled = false;
    }
  });
  return f;
}

const link = (path, text) => h('a', { href: `#${path}` }, text);

function login(route, onLoggedIn) {
  const f = form(
    'Log in',
    [
      field('Username or email', input('username', { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' })),
      field('Password', input('password', { type: 'password', autocomplete: 'current-password', required: true })),
      h('label', { class: 'check' }, input('remember', { type: 'checkbox', checked: true }), h('span', {}, 'Remember me on this device')),
    ],
    async (data) => {
      await api.login(data.get('username').trim(), data.get('password'), data.get('remember') === 'on');
      await onLoggedIn();
    },
    'Log in'
  );
  const notice = route.params.get('notice');
  return [
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    f,
    h('p', { class: 'alt' }, link('/forgot', 'Forgot your password?')),
    h('p', { class: 'alt' }, 'New here? ', link('/register', 'Create an account')),
  ];
}

function register(route, onLoggedIn) {
  return [
    form(
      'Create an account',
      [
        field('Username', input('username', { autocomplete: 'username', required: true, minlength: 3, maxlength: 32, pattern: '[A-Za-z0-9_.\\-]+', autocapitalize: 'none', spellcheck: 'false' }), '3–32 letters, digits, “_”, “.” or “-”'),
        field('Display name', input('display_name', { autocomplete: 'name', maxlength: 64 }), 'Optional: how others see you'),
        field('Email', input('email', { type: 'email', autocomplete: 'email', required: true })),
        field('Password', input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 128 }), 'At least 8 characters'),
        h('label', { class: 'check' }, input('remember', { type: 'checkbox', checked: true }), h('span', {}, 'Remember me on this device')),
      ],
      async (data) => {
        const username = data.get('username').trim();
        const password = data.get('password');
        const display_name = data.get('display_name').trim() || null;
        await api.register({ username, email: data.get('email').trim(), password, display_name });
        await api.login(username, password, data.get('remember') === 'on');
        await onLoggedIn();
      },
      'Create account'
    ),
    h('p', { class: 'alt' }, 'Have an account? ', link('/login', 'Log in')),
  ];
}

function forgot() {
  const done = h('p', { class: 'notice', role: 'status', hidden: true });
  return [
    form(
      'Forgot your password?',
      [h('p', { class: 'muted' }, 'Enter the email of your account and we will send you a link to choose a new password.'), field('Email', input('email', { type: 'email', autocomplete: 'email', required: true }))],
      async (data, f) => {
        await api.forgotPassword(data.get('email').trim());
        done.textContent = 'If that address has an account, a link is on its way. It works for an hour.';
        done.hidden = false;
        f.reset();
      },
      'Send the link'
    ),
    done,
    h('p', { class: 'alt' }, link('/login', 'Back to log in')),
  ];
}

function reset(route) {
  const token = route.params.get('token') || '';
  if (!token) return [h('h1', {}, 'Reset link incomplete'), h('p', {}, 'Open the link from the email again, or ask for a new one.'), h('p', { class: 'alt' }, link('/forgot', 'Ask for a new link'))];
  return [
    form(
      'Choose a new password',
      [
        field('New password', input('new_password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 128 })),
        field('Repeat it', input('repeat', { type: 'password', autocomplete: 'new-password', required: true })),
      ],
      async (data) => {
        if (data.get('new_password') !== data.get('repeat')) throw Object.assign(new Error('The two passwords differ.'), { fields: { repeat: 'The two passwords differ.' } });
        await api.resetPassword(token, data.get('new_password'));
        if (api.hasSession()) api.forget();
        go(`/login?notice=${encodeURIComponent('Your password is changed. Log in with the new one.')}`, { replace: true });
      },
      'Set password'
    ),
    h('p', { class: 'alt' }, link('/login', 'Back to log in')),
  ];
}
