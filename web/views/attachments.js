// views/attachments.js — files in a chat: the tray of uploads waiting to be sent (per chat, kept while
// the app runs), the attachments of a message (image thumbnails, or an icon, name, size and download
// link), and a lightbox for a full image. File names only ever enter the page as text.

import * as actions from '../lib/actions.js';
import * as store from '../lib/store.js';
import { h, replace } from '../lib/dom.js';
import { humanSize, isStale, kindIcon, MAX_FILES, upload } from '../lib/files.js';
import { icon } from '../lib/icons.js';
import { dialog, toast } from '../lib/ui.js';

// The tray: uploads on their way or done, per chat, until the message that carries them is sent.

const trays = new Map(); // chat id → {items: Item[], views: Set of mounted trays}
let nextKey = 1;

function trayOf(chatId) {
  let t = trays.get(chatId);
  if (!t) {
    t = { items: [], views: new Set() };
    trays.set(chatId, t);
  }
  return t;
}

/** At logout: stop every upload and forget the trays. */
export function resetTrays() {
  for (const t of trays.values()) for (const item of t.items) drop(item);
  trays.clear();
}

function drop(item) {
  if (item.status === 'uploading') item.handle?.abort();
  if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
  item.previewUrl = null;
}

/** A pasted screenshot is called image.png: give it a name that tells it apart. */
function named(file) {
  if (file.name && !/^image\.(png|jpe?g|gif|webp)$/i.test(file.name)) return file;
  const ext = (file.type.split('/')[1] || 'png').replace('jpeg', 'jpg');
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  try {
    return new File([file], `pasted-${stamp}.${ext}`, { type: file.type, lastModified: file.lastModified });
  } catch {
    return file;
  }
}

/**
 * The tray above the composer of `chatId`. Returns {add(files), hasFiles(), uploading(), failed(),
 * take(), focus(), destroy()}. `onChange()` runs whenever an upload moves on or the list changes.
 */
export function mountTray(host, chatId, { onChange, onEmptied } = {}) {
  const tray = trayOf(chatId);
  const list = h('ul', { class: 'tray', 'aria-label': 'Files to send' });
  const rows = new Map(); // item key → {li, bar, status}
  const view = { refresh: () => render() };
  tray.views.add(view);
  replace(host, list);

  function statusText(item) {
    if (item.status === 'error') return item.error;
    if (item.status === 'done') return `${humanSize(item.size)} · ready`;
    const pct = Math.floor(item.progress * 100);
    return `${humanSize(item.size)} · uploading ${pct}%`;
  }

  function buildRow(item) {
    const thumb = item.previewUrl
      ? h('img', { class: 'tray-thumb', src: item.previewUrl, alt: '' })
      : h('span', { class: 'tray-thumb', 'aria-hidden': 'true' }, icon(item.isImage ? 'image' : 'file'));
    const bar = h('progress', { class: 'tray-bar', max: '100', 'aria-label': `Uploading ${item.name}` });
    const status = h('span', { class: 'tray-status' });
    const remove = h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Remove ${item.name}`, title: 'Remove', onclick: () => removeItem(item, true) }, icon('close'));
    const li = h('li', { class: 'tray-item' }, thumb, h('span', { class: 'tray-text' }, h('span', { class: 'tray-name', title: item.name }, item.name), status, bar), remove);
    const row = { li, bar, status, remove, shown: null };
    rows.set(item.key, row);
    return row;
  }

  function updateRow(item, row) {
    row.li.className = `tray-item ${item.status}`;
    row.bar.hidden = item.status !== 'uploading';
    row.bar.value = Math.floor(item.progress * 100);
    const text = statusText(item);
    if (row.shown === text) return;
    // An error is said once, as it appears (role=alert); progress is not read out.
    if (item.status === 'error') {
      const alert = h('span', { class: 'tray-status', role: 'alert' }, text);
      row.status.replaceWith(alert);
      row.status = alert;
    } else row.status.textContent = text;
    row.shown = text;
  }

  function render() {
    const keys = new Set(tray.items.map((i) => i.key));
    for (const [key, row] of rows) {
      if (!keys.has(key)) {
        row.li.remove();
        rows.delete(key);
      }
    }
    tray.items.forEach((item, i) => {
      const row = rows.get(item.key) || buildRow(item);
      updateRow(item, row);
      if (list.children[i] !== row.li) list.insertBefore(row.li, list.children[i] || null);
    });
    host.hidden = !tray.items.length;
    onChange?.();
  }

  const changed = () => tray.views.forEach((v) => v.refresh());

  function add(files) {
    const incoming = [...files].filter((f) => f && typeof f.size === 'number');
    if (!incoming.length) return;
    const room = MAX_FILES - tray.items.length;
    if (incoming.length > room) toast(room > 0 ? `At most ${MAX_FILES} files per message: ${incoming.length - room} not added.` : `At most ${MAX_FILES} files per message.`, 'error');
    for (const raw of incoming.slice(0, Math.max(room, 0))) {
      const file = named(raw);
      const isImage = /^image\/(png|jpeg|gif|webp)$/.test(file.type);
      const item = {
        key: `f${nextKey++}`,
        file,
        name: file.name || 'file',
        size: file.size,
        isImage,
        previewUrl: isImage && file.size > 0 && file.size < 20 * 1024 * 1024 ? URL.createObjectURL(file) : null,
        progress: 0,
        status: 'uploading',
        error: null,
        view: null,
        handle: null,
      };
      tray.items.push(item);
      if (file.size === 0) {
        item.status = 'error';
        item.error = 'the file is empty';
        continue;
      }
      item.handle = upload(file, {
        onProgress(sent, total) {
          item.progress = total ? Math.min(sent / total, 0.99) : 0;
          changed();
        },
      });
      item.handle.promise.then(
        (fileView) => {
          item.status = 'done';
          item.progress = 1;
          item.view = fileView;
          changed();
        },
        (e) => {
          if (e.status === -1) return; // removed meanwhile
          item.status = 'error';
          item.error = e.message;
          changed();
        }
      );
    }
    changed();
  }

  function removeItem(item, fromKeyboard) {
    const i = tray.items.indexOf(item);
    if (i < 0) return;
    const hadFocus = rows.get(item.key)?.li.contains(document.activeElement);
    drop(item);
    tray.items.splice(i, 1);
    changed();
    if (fromKeyboard && hadFocus) {
      const next = tray.items[i] || tray.items[i - 1];
      if (next) rows.get(next.key)?.remove.focus();
      else onEmptied?.();
    }
  }

  render();

  return {
    add,
    hasFiles: () => tray.items.length > 0,
    uploading: () => tray.items.some((i) => i.status === 'uploading'),
    failed: () => tray.items.filter((i) => i.status === 'error'),
    /** The uploaded files, for a message being sent: they leave the tray. */
    take() {
      const done = tray.items.filter((i) => i.status === 'done');
      for (const item of done) drop(item);
      tray.items = tray.items.filter((i) => i.status !== 'done');
      changed();
      return done.map((i) => i.view);
    },
    /** Focus the remove button of the first file that failed. */
    focusFailed() {
      const item = tray.items.find((i) => i.status === 'error');
      if (item) rows.get(item.key)?.remove.focus();
    },
    destroy() {
      tray.views.delete(view);
    },
  };
}

// A message's attachments

const BOX = 260; // the largest side of a thumbnail in a message, in CSS pixels
const SMALL_BOX = 150; // when a message carries several images

/** A FileView with URLs that have not run out (the message again when they have). */
async function fresh(chatId, m, f) {
  if (!isStale(f)) return f;
  const held = (store.findMessage(chatId, m.id)?.attachments || []).find((x) => x.id === f.id);
  if (held && !isStale(held)) return held; // a newer copy came meanwhile
  const again = await actions.refetchMessage(chatId, m);
  return (again.attachments || []).find((x) => x.id === f.id) || f;
}

/** Follow a link whose URL may have run out: with a fresh one if so. */
function viaFresh(chatId, m, f, pick, e) {
  if (!isStale(f) || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  const link = e.currentTarget;
  fresh(chatId, m, f).then(
    (f2) => {
      link.href = pick(f2);
      const a = h('a', { href: pick(f2), download: link.getAttribute('download'), target: link.getAttribute('target'), rel: 'noopener' });
      a.click();
    },
    () => toast('Cannot fetch that file right now.', 'error')
  );
}

function imageTile(chatId, m, f, box) {
  const img = h('img', { src: f.thumbnail_url, alt: f.name, loading: 'lazy', decoding: 'async' });
  if (f.width > 0 && f.height > 0) {
    img.setAttribute('width', String(f.width));
    img.setAttribute('height', String(f.height));
    const scale = Math.min(1, box / f.width, box / f.height);
    img.style.width = `${Math.max(Math.round(f.width * scale), 24)}px`;
  }
  let retried = false;
  img.addEventListener('error', () => {
    if (retried || m.pending) return;
    retried = true;
    actions.refetchMessage(chatId, m).then((again) => {
      const f2 = (again.attachments || []).find((x) => x.id === f.id);
      if (f2?.thumbnail_url && f2.thumbnail_url !== f.thumbnail_url) img.src = f2.thumbnail_url;
    }, () => {});
  });
  return h(
    'a',
    {
      class: 'att-image',
      href: f.url,
      target: '_blank',
      rel: 'noopener',
      'aria-label': `Open image ${f.name} (${humanSize(f.size)})`,
      onclick: (e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return; // a new tab, as asked
        e.preventDefault();
        fresh(chatId, m, f).then((f2) => openLightbox(f2), () => toast('Cannot fetch that image right now.', 'error'));
      },
    },
    img
  );
}

function fileRow(chatId, m, f) {
  return h(
    'a',
    {
      class: 'att-file',
      href: f.url,
      download: f.name,
      'aria-label': `Download ${f.name} (${humanSize(f.size)})`,
      onclick: (e) => viaFresh(chatId, m, f, (x) => x.url, e),
    },
    h('span', { class: `att-icon kind-${f.kind || 'file'}`, 'aria-hidden': 'true' }, icon(kindIcon(f.kind))),
    h('span', { class: 'att-text' }, h('span', { class: 'att-name' }, f.name), h('span', { class: 'att-size' }, humanSize(f.size))),
    h('span', { class: 'att-get', 'aria-hidden': 'true' }, icon('download'))
  );
}

/** The attachments of message `m` (null when it has none). */
export function renderAttachments(chatId, m) {
  const files = m.deleted ? [] : m.attachments || [];
  if (!files.length) return null;
  const images = files.filter((f) => f.kind === 'image' && f.thumbnail_url);
  const others = files.filter((f) => !images.includes(f));
  return h(
    'div',
    { class: 'atts' },
    images.length ? h('div', { class: `att-images${images.length > 1 ? ' many' : ''}` }, images.map((f) => imageTile(chatId, m, f, images.length > 1 ? SMALL_BOX : BOX))) : null,
    others.length ? h('div', { class: 'att-files' }, others.map((f) => fileRow(chatId, m, f))) : null
  );
}

/** The full image in a modal dialog (Esc or the close button ends it), with links to open it in a tab or download it. */
export function openLightbox(f) {
  const img = h('img', { class: 'lightbox-img', src: f.url, alt: f.name });
  if (f.width > 0 && f.height > 0) {
    img.setAttribute('width', String(f.width));
    img.setAttribute('height', String(f.height));
  }
  const { el } = dialog({
    title: f.name,
    wide: true,
    body: h('div', { class: 'lightbox-body' }, img),
    actions: [
      h('span', { class: 'muted small grow' }, [f.width && f.height ? `${f.width}×${f.height} · ` : '', humanSize(f.size)]),
      h('a', { class: 'btn', href: f.url, target: '_blank', rel: 'noopener' }, icon('external'), 'Open in new tab'),
      h('a', { class: 'btn primary', href: f.url, download: f.name }, icon('download'), 'Download'),
    ],
  });
  el.classList.add('lightbox');
}
