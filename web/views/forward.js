// views/forward.js — "Forward": pick up to 10 of my chats (a filter over their names) and send a copy of the message there.

import * as actions from '../lib/actions.js';
import { state } from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { chatTitle, messageText, otherUser } from '../lib/format.js';
import { avatar, busy, dialog, toast } from '../lib/ui.js';

const MAX_TARGETS = 10;

export function forwardDialog(chatId, m) {
  const chosen = new Set();
  const filter = h('input', { type: 'search', placeholder: 'Search chats', 'aria-label': 'Search chats to forward to', autocomplete: 'off' });
  const list = h('ul', { class: 'people picker', role: 'group', 'aria-label': 'Chats' });
  const note = h('p', { class: 'muted small', role: 'status' });
  const send = h('button', { type: 'button', class: 'btn primary', disabled: true }, 'Forward');

  function render() {
    const q = filter.value.trim().toLowerCase();
    const rows = state.chats.filter((c) => !q || chatTitle(c).toLowerCase().includes(q));
    if (!rows.length) return replace(list, h('li', { class: 'muted pad' }, 'No chats match.'));
    replace(
      list,
      rows.map((c) => {
        const box = h('input', {
          type: 'checkbox',
          checked: chosen.has(c.id),
          disabled: !chosen.has(c.id) && chosen.size >= MAX_TARGETS,
          onchange: (e) => {
            if (e.target.checked) chosen.add(c.id);
            else chosen.delete(c.id);
            update();
          },
        });
        const pic = c.type === 'direct' ? avatar(otherUser(c), { size: 36, presence: true }) : avatar(c, { size: 36, label: chatTitle(c), group: true });
        return h('li', {}, h('label', { class: 'person-link' }, box, pic, h('span', { class: 'person-text' }, h('strong', {}, chatTitle(c)), h('small', { class: 'muted' }, c.type === 'group' ? 'Group' : 'Direct chat'))));
      })
    );
  }

  function update() {
    send.disabled = !chosen.size;
    send.textContent = chosen.size > 1 ? `Forward to ${chosen.size} chats` : 'Forward';
    note.textContent = chosen.size >= MAX_TARGETS ? `At most ${MAX_TARGETS} chats at once.` : '';
    render();
  }

  filter.addEventListener('input', render);
  filter.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      list.querySelector('input')?.focus();
    }
  });
  const text = messageText(m).slice(0, 140);
  const dlg = dialog({
    title: 'Forward message',
    body: h('div', { class: 'stack' }, h('blockquote', { class: 'forward-preview' }, text), h('div', { class: 'picker-box' }, filter, list), note),
    actions: [h('button', { type: 'button', class: 'btn', onclick: () => dlg.close() }, 'Cancel'), send],
  });
  send.addEventListener('click', async () => {
    const targets = [...chosen];
    const copies = await busy(send, () => actions.forwardMessage(chatId, m.id, targets));
    if (!Array.isArray(copies)) return; // refused: busy() said why
    dlg.close();
    const one = targets.length === 1 ? state.chats.find((c) => c.id === targets[0]) : null;
    toast(one ? `Forwarded to ${chatTitle(one)}` : `Forwarded to ${targets.length} chats`, 'ok');
  });
  render();
}
