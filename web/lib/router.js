// router.js — hash routes (#/chat/ID, #/reset-password?token=…): emailed links use them and the server needs no page routes.

export function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'home', parts, params: new URLSearchParams(qs), path };
}

export function go(path, { replace = false } = {}) {
  const target = `#${path}`;
  if (location.hash === target) return;
  if (replace) {
    history.replaceState(null, '', target);
    dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = path;
  }
}

export const onChange = (fn) => addEventListener('hashchange', fn);
