// tokens.js — where the session lives: localStorage for "remember me" (shared by tabs), sessionStorage otherwise.

const KEY = 'blockchat.session';

function read(storage) {
  try {
    const raw = storage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

/** {access_token, refresh_token, expires_at (ms), remember} or null. */
export function load() {
  const remembered = read(localStorage);
  if (remembered?.refresh_token) return { ...remembered, remember: true };
  const session = read(sessionStorage);
  if (session?.refresh_token) return { ...session, remember: false };
  return null;
}

export function save(session) {
  const { access_token, refresh_token, expires_at, remember } = session;
  const value = JSON.stringify({ access_token, refresh_token, expires_at });
  try {
    (remember ? localStorage : sessionStorage).setItem(KEY, value);
    (remember ? sessionStorage : localStorage).removeItem(KEY);
  } catch {
    // Private mode or a full quota: the session still works until the tab closes.
  }
}

export function clear() {
  try {
    localStorage.removeItem(KEY);
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
}

/** Another tab changed the remembered session (rotated it, or logged out). */
export function onChange(fn) {
  addEventListener('storage', (e) => {
    if (e.key === KEY && e.storageArea === localStorage) fn(load());
  });
}
