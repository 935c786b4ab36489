// dom.js — build elements from trusted structure and untrusted text (always as text), and patch keyed lists in place.

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'multiple', 'required', 'indeterminate']);

/** h('button', {class: 'x', onclick: fn, 'aria-label': 'Close'}, 'text', child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) {
        // Handlers are functions only: an on* attribute from a string would be inline script (the CSP refuses it anyway).
        if (typeof v === 'function') el.addEventListener(k.slice(2), v);
      } else if (k === 'innerHTML' || k === 'outerHTML') throw new Error('h(): markup goes through setSanitizedHtml only');
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

// The server already sanitizes message HTML (ammonia, a short tag list). This second pass
// is defence in depth: anything outside the same list is dropped before it reaches the page.
const ALLOWED = new Set(['P', 'BR', 'STRONG', 'EM', 'DEL', 'CODE', 'PRE', 'A', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'HR']);
// A search result's `snippet_html`: the server escapes the message text and puts <mark> around the matches.
const SNIPPET = new Set(['MARK']);

/**
 * The one way server-rendered HTML enters the page: a message's `html` (and its edit history),
 * or with `kind` 'snippet' a search result's `snippet_html` (text and <mark> only). Never pass
 * other text here.
 */
export function setSanitizedHtml(el, html, kind = 'message') {
  const tpl = document.createElement('template');
  tpl.innerHTML = html; // inert: template content runs no scripts and loads nothing
  scrub(tpl.content, kind === 'snippet' ? SNIPPET : ALLOWED);
  clear(el);
  el.append(tpl.content);
  return el;
}

function scrub(node, allowed) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE) continue;
    if (child.nodeType !== Node.ELEMENT_NODE || !allowed.has(child.tagName)) {
      if (child.nodeType === Node.ELEMENT_NODE) child.replaceWith(document.createTextNode(child.textContent));
      else child.remove();
      continue;
    }
    for (const attr of [...child.attributes]) {
      const keep = (child.tagName === 'A' && attr.name === 'href') || (child.tagName === 'OL' && attr.name === 'start');
      if (!keep) child.removeAttribute(attr.name);
    }
    if (child.tagName === 'A') {
      const href = child.getAttribute('href') || '';
      if (!/^(https?:|mailto:)/i.test(href)) child.removeAttribute('href');
      child.setAttribute('target', '_blank');
      child.setAttribute('rel', 'nofollow noopener noreferrer');
    }
    scrub(child, allowed);
  }
}

/**
 * Make `container`'s children match `items`, reusing the element of each key while its
 * signature is unchanged (so scroll position, focus and selection survive a refresh).
 */
export function reconcile(container, items, key, render, signature = () => '') {
  const before = container._keyed || new Map();
  const after = new Map();
  const wanted = [];
  for (const item of items) {
    const k = key(item);
    const sig = signature(item);
    let entry = before.get(k);
    if (!entry || entry.sig !== sig) {
      const el = render(item);
      el.dataset.key = k;
      entry = { el, sig };
    }
    after.set(k, entry);
    wanted.push(entry.el);
  }
  const focused = document.activeElement;
  const focusKey = focused && container.contains(focused) ? focused.closest('[data-key]')?.dataset.key : null;
  const focusPart = focusKey ? focused.closest('[data-focus-key]')?.dataset.focusKey : null; // a control inside the item
  wanted.forEach((el, i) => {
    if (container.children[i] !== el) container.insertBefore(el, container.children[i] || null);
  });
  while (container.children.length > wanted.length) container.lastElementChild.remove();
  container._keyed = after;
  if (focusKey && !container.contains(document.activeElement)) {
    const el = after.get(focusKey)?.el;
    const part = focusPart ? el?.querySelector(`[data-focus-key="${CSS.escape(focusPart)}"]`) : null;
    // The item first: controls that show only while it has focus (a message's actions) can take focus then.
    (el?.matches('[tabindex], button, a, input') ? el : el?.querySelector('[tabindex], button, a'))?.focus({ preventScroll: true });
    part?.focus({ preventScroll: true });
  }
}

/** Call fn once calls have paused for `ms`, with the latest arguments; `.cancel()` drops a pending call. */
export function debounce(fn, ms) {
  let t;
  const debounced = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(t);
  return debounced;
}
