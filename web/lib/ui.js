// ui.js — shared pieces of the interface: avatars, modal dialogs, confirmations, toasts, form errors.

import { append, h } from './dom.js';
import { icon } from './icons.js';
import { hue, initials, nameOf, statusWord } from './format.js';
import { userById } from './store.js';
import { avatarExpired } from './actions.js';

/** Only our own (signed, relative) image URLs: the CSP refuses others, and initials stand in. */
const ownUrl = (url) => typeof url === 'string' && url.startsWith('/') && !url.startsWith('//');
const runOut = (url) => {
  const m = /[?&]expires=(\d+)/.exec(url);
  return !!m && Number(m[1]) * 1000 < Date.now() + 30_000;
};

/**
 * A round picture of a person (or, with `group`, of a group chat: pass the chat): their photo
 * when they have one, over their initials (or the group icon), which show while it loads or if
 * it cannot. Decorative: the name is always said next to it.
 */
export function avatar(user, { size = 40, presence = false, group = false, label = null } = {}) {
  const name = label ?? nameOf(user);
  const el = h('span', { class: `avatar${group ? ' group' : ''}`, 'aria-hidden': 'true' });
  el.style.setProperty('--size', `${size}px`);
  el.style.setProperty('--hue', hue(user?.id || name));
  el.append(group ? icon('users') : initials(name));
  // The freshest copy of a person we hold (a list's copy of them may be older).
  const known = !group && user?.id ? userById(user.id) : null;
  const url = known && 'avatar_url' in known ? known.avatar_url : user?.avatar_url;
  if (ownUrl(url)) {
    const img = h('img', { class: 'avatar-img', src: url, alt: '', decoding: 'async', loading: size >= 64 ? 'eager' : 'lazy' });
    img.addEventListener('error', () => {
      img.remove();
      if (runOut(url) && user?.id) avatarExpired(user.id, group);
    });
    el.append(img);
    el.classList.add('has-img');
  }
  if (presence && user?.status) el.append(presenceDot(user.status));
  return el;
}

/**
 * "Change photo" (a file picker for an image) and, when there is one, "Remove photo", for me or
 * a group. `set(file)` and `remove()` make the calls; errors (not an image, too large) are toasted.
 */
export function photoControls({ has, set, remove, label = 'photo' }) {
  const input = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', hidden: true, tabindex: '-1', 'aria-label': `Choose a ${label}` });
  const change = h('button', { type: 'button', class: 'btn small', dataset: { focusKey: 'photo-change' }, onclick: () => input.click() }, icon('camera'), `Change ${label}`);
  input.addEventListener('change', () => {
    const file = input.files[0];
    input.value = '';
    if (file) busy(change, () => set(file), { success: 'Photo saved' });
  });
  const drop = has ? h('button', { type: 'button', class: 'btn small', dataset: { focusKey: 'photo-remove' }, onclick: (e) => busy(e.currentTarget, remove, { success: 'Photo removed' }) }, `Remove ${label}`) : null;
  return h('div', { class: 'row wrap photo-controls' }, change, input, drop);
}

export const presenceDot = (status) => h('span', { class: `dot dot-${status}`, title: statusWord(status) });

/**
 * A modal <dialog>: Esc and the close button dismiss it, focus stays inside, and focus
 * returns to where it was. Resolves `closed` with the value passed to close().
 */
export function dialog({ title, body, actions = [], wide = false, onClose = null }) {
  const opener = document.activeElement;
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const el = h('dialog', { class: `modal${wide ? ' wide' : ''}`, 'aria-labelledby': titleId });
  let result;
  let resolve;
  const closed = new Promise((r) => (resolve = r));
  const close = (value) => {
    result = value;
    if (el.open) el.close();
  };
  const closeButton = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => close() }, icon('close'));
  append(el, [
    h('header', { class: 'modal-head' }, h('h2', { id: titleId }, title), closeButton),
    h('div', { class: 'modal-body' }, body),
    actions.length ? h('footer', { class: 'modal-foot' }, actions) : null,
  ]);
  el.addEventListener('close', () => {
    el.remove();
    onClose?.(result);
    resolve(result);
    // Back to the opener, unless something else took focus meanwhile (a view the dialog navigated to).
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && opener?.isConnected) opener.focus({ preventScroll: true });
  });
  el.addEventListener('click', (e) => {
    if (e.target === el) close(); // a click on the backdrop
  });
  document.body.append(el);
  el.showModal();
  // Focus goes into the dialog: its autofocus or first field, else the close button.
  const first = el.querySelector('[autofocus], .modal-body input:not([type=checkbox]), .modal-body textarea, .modal-body select');
  (first || closeButton).focus();
  return { el, close, closed };
}

export async function confirm(text, { title = 'Are you sure?', confirmLabel = 'OK', danger = false } = {}) {
  const { closed, close } = dialog({
    title,
    body: h('p', {}, text),
    actions: [
      h('button', { type: 'button', class: 'btn', onclick: () => close(false) }, 'Cancel'),
      h('button', { type: 'button', class: `btn ${danger ? 'danger' : 'primary'}`, autofocus: true, onclick: () => close(true) }, confirmLabel),
    ],
  });
  return (await closed) === true;
}

export function prompt(text, { title, label, value = '', type = 'text', confirmLabel = 'OK', danger = false } = {}) {
  const input = h('input', { type, value, 'aria-label': label || text, autocomplete: type === 'password' ? 'current-password' : 'off' });
  const form = h('form', { class: 'stack' }, h('p', {}, text), h('label', { class: 'field' }, h('span', {}, label || ''), input));
  const { closed, close } = dialog({
    title: title || text,
    body: form,
    actions: [
      h('button', { type: 'button', class: 'btn', onclick: () => close(null) }, 'Cancel'),
      h('button', { type: 'button', class: `btn ${danger ? 'danger' : 'primary'}`, onclick: () => close(input.value) }, confirmLabel),
    ],
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    close(input.value);
  });
  return closed;
}

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast ${kind}` }, text);
  box.append(t);
  setTimeout(() => t.classList.add('leaving'), 4000);
  setTimeout(() => t.remove(), 4400);
}

/** Run an action from a button: disable it meanwhile, toast the error. */
export async function busy(button, fn, { success } = {}) {
  if (button) button.disabled = true;
  try {
    const r = await fn();
    if (success) toast(success, 'ok');
    return r;
  } catch (e) {
    toast(e.message || String(e), 'error');
    return undefined;
  } finally {
    if (button?.isConnected) button.disabled = false;
  }
}

/** Show an API error on a form: per field where the server named one, else at the top. */
export function showFormError(form, err) {
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const fields = err?.fields || {};
  let placed = false;
  for (const [name, msg] of Object.entries(fields)) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    const id = `${input.id || name}-error`;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', id);
    input.closest('.field')?.append(h('span', { class: 'field-error', id }, msg));
    if (!placed) input.focus();
    placed = true;
  }
  const top = form.querySelector('.form-error');
  if (top) {
    top.textContent = placed || !err ? '' : err.message;
    top.hidden = placed || !err;
  }
}

export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), input, hint ? h('span', { class: 'hint' }, hint) : null);
}

export function select(name, options, value, props = {}) {
  return h(
    'select',
    { name, ...props },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))
  );
}

export function empty(text, extra = null) {
  return h('div', { class: 'empty' }, h('p', {}, text), extra);
}

// The tab title: the current view, with the unread count in front so it shows on the tab.
let viewTitle = '';
let unreadCount = 0;
const applyTitle = () => (document.title = `${unreadCount ? `(${unreadCount}) ` : ''}${viewTitle ? `${viewTitle} · ` : ''}Block Chat`);
export function setTitle(title) {
  viewTitle = title || '';
  applyTitle();
}
export function setUnreadTitle(n) {
  unreadCount = n;
  applyTitle();
}
