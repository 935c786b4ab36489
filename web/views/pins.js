// views/pins.js — a chat's pinned messages: a bar under the header (how many, and the newest
// pin) that opens a list over the messages; a pin in the list shows that message in the history.

import * as actions from '../lib/actions.js';
import { state, on } from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { ago, fullTime, messageText, nameById } from '../lib/format.js';
import { busy } from '../lib/ui.js';

/**
 * `bar` goes under the chat header, `panel` over the top of the messages. `onJump(message)`
 * shows a message; `canPin()` says whether I may unpin here.
 */
export function mountPins(chatId, { onJump, canPin }) {
  const panelId = `pins-${chatId}`;
  const count = h('span', { class: 'pins-count' });
  const latest = h('span', { class: 'pins-latest' });
  const toggle = h('button', { type: 'button', class: 'pins-toggle', 'aria-expanded': 'false', 'aria-controls': panelId }, icon('pin'), count, latest);
  const bar = h('div', { class: 'pins-bar', hidden: true }, toggle);
  const list = h('ul', { class: 'pins-list' });
  const closeButton = h('button', { type: 'button', class: 'icon-btn small', 'aria-label': 'Close pinned messages', onclick: () => close(true) }, icon('close'));
  const panel = h('div', { class: 'pins-panel', id: panelId, role: 'region', 'aria-labelledby': `${panelId}-title`, hidden: true }, h('div', { class: 'pins-panel-head' }, h('h2', { id: `${panelId}-title` }, 'Pinned messages'), closeButton), list);

  const pins = () => state.pins.get(chatId) || [];
  const snippet = (m) => (m.deleted ? 'Deleted message' : messageText(m).slice(0, 160) || 'A message');

  function render() {
    const all = pins();
    bar.hidden = !all.length;
    if (!all.length) close(false);
    count.textContent = `${all.length} pinned message${all.length === 1 ? '' : 's'}`;
    latest.textContent = all.length ? `${nameById(all[0].message.sender_id)}: ${snippet(all[0].message)}` : '';
    if (panel.hidden) return;
    const hadFocus = panel.contains(document.activeElement);
    const focusedId = hadFocus ? document.activeElement.closest('[data-id]')?.dataset.id : null;
    replace(
      list,
      all.map((p) => {
        const m = p.message;
        const who = nameById(m.sender_id);
        return h(
          'li',
          { class: 'pin-row', dataset: { id: m.id } },
          h(
            'button',
            { type: 'button', class: 'pin-item', onclick: () => (close(false), onJump(m)), 'aria-label': `${who}: ${snippet(m)} (show in the chat)` },
            h('span', { class: 'pin-head' }, h('strong', {}, who), h('time', { datetime: m.created_at, title: fullTime(m.created_at) }, ago(m.created_at))),
            h('span', { class: 'pin-text' }, snippet(m)),
            p.pinned_by ? h('small', { class: 'muted' }, `Pinned by ${nameById(p.pinned_by) === 'You' ? 'you' : nameById(p.pinned_by)}, ${ago(p.pinned_at)}`) : null
          ),
          canPin() ? h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Unpin the message from ${who}`, title: 'Unpin', onclick: (e) => busy(e.currentTarget, () => actions.unpinMessage(chatId, m.id)) }, icon('pinOff')) : null
        );
      })
    );
    // The list is drawn again: focus stays on the same pin, or the first one if that pin went.
    if (hadFocus && !panel.contains(document.activeElement)) ((focusedId && list.querySelector(`[data-id="${CSS.escape(focusedId)}"] .pin-item`)) || list.querySelector('.pin-item') || closeButton).focus();
  }

  function open() {
    panel.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    render();
    (list.querySelector('.pin-item') || closeButton).focus();
  }

  function close(refocus) {
    if (panel.hidden) return;
    panel.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    if (refocus && !bar.hidden) toggle.focus();
  }

  toggle.addEventListener('click', () => (panel.hidden ? open() : close(true)));
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close(true);
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const items = [...list.querySelectorAll('.pin-item')];
      const i = items.indexOf(document.activeElement);
      if (i < 0) return;
      e.preventDefault();
      items[Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
    }
  });
  // A click elsewhere closes the list (focus stays where the click put it).
  const outside = (e) => {
    if (!panel.hidden && !panel.contains(e.target) && !bar.contains(e.target)) close(false);
  };
  document.addEventListener('pointerdown', outside);

  const offs = [on(`pins:${chatId}`, render), on('users', render)];
  render();
  actions.loadPins(chatId).catch(() => {});

  return {
    bar,
    panel,
    render,
    isOpen: () => !panel.hidden,
    destroy() {
      offs.forEach((off) => off());
      document.removeEventListener('pointerdown', outside);
    },
  };
}
