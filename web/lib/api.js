// api.js — the one fetch wrapper: JSON in and out, the bearer token, a refresh before it expires and once on a 401.
//
// Refresh tokens are single use and reusing one revokes the session, so exactly one refresh
// runs at a time: one promise per tab, and a Web Lock across tabs that share localStorage
// (inside the lock a tab first looks whether another tab already rotated the pair).

import * as tokens from './tokens.js';

export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(detail, status));
    this.status = status;
    this.detail = detail;
  }
  /** Field name → message, from a 422 body. */
  get fields() {
    const out = {};
    if (Array.isArray(this.detail)) {
      for (const d of this.detail) {
        const field = (d.loc || []).filter((p) => p !== 'body' && p !== 'query').join('.');
        if (field && !out[field]) out[field] = d.msg;
      }
    }
    return out;
  }
}

function describe(detail, status) {
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const field = (d.loc || []).filter((p) => p !== 'body' && p !== 'query').join('.');
        return field ? `${field.replace(/_/g, ' ')}: ${d.msg}` : d.msg;
      })
      .join('; ');
  }
  if (typeof detail === 'string' && detail) return detail;
  if (status === 0) return 'Cannot reach the server. Check your connection.';
  if (status === 429) return 'Too many attempts. Wait a moment and try again.';
  return `Something went wrong (${status}).`;
}

let session = tokens.load();
let refreshing = null;
let timer = null;
const loggedOutListeners = new Set();

if (session) schedule();

export const hasSession = () => !!session?.refresh_token;
export const onLoggedOut = (fn) => loggedOutListeners.add(fn);

tokens.onChange((stored) => {
  if (!session?.remember) return;
  if (!stored) return expire();
  session = stored;
  schedule();
});

function adopt(pair, remember) {
  session = {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: Date.now() + pair.expires_in * 1000,
    remember,
  };
  tokens.save(session);
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const wait = Math.max(session.expires_at - Date.now() - 60_000, 1_000);
  timer = setTimeout(() => refresh().catch(() => {}), wait);
}

function expire() {
  const had = !!session;
  session = null;
  clearTimeout(timer);
  tokens.clear();
  if (had) loggedOutListeners.forEach((fn) => fn());
}

/** Forget the session without telling the server (it is gone already). */
export const forget = expire;

/** Trade the refresh token for a new pair; concurrent callers share one attempt. */
export function refresh() {
  if (!refreshing) refreshing = doRefresh().finally(() => (refreshing = null));
  return refreshing;
}

async function doRefresh() {
  const run = async () => {
    const stored = tokens.load();
    if (stored && session && stored.refresh_token !== session.refresh_token && stored.expires_at - Date.now() > 30_000) {
      session = { ...stored, remember: session.remember };
      schedule();
      return;
    }
    const current = stored || session;
    if (!current?.refresh_token) return expire();
    try {
      const pair = await raw('POST', '/auth/refresh', { refresh_token: current.refresh_token });
      adopt(pair, session?.remember ?? current.remember);
    } catch (e) {
      if (e.status === 401) expire();
      else timer = setTimeout(() => refresh().catch(() => {}), 10_000);
      throw e;
    }
  };
  return navigator.locks ? navigator.locks.request('blockchat-refresh', run) : run();
}

async function raw(method, path, body, token) {
  const headers = { accept: 'application/json' };
  const form = body instanceof FormData; // multipart (an avatar): the browser sets its content type
  if (body !== undefined && !form) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : form ? body : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.detail ?? null);
    err.retryAfter = Number(res.headers.get('retry-after')) || null;
    throw err;
  }
  return data;
}

/** An authenticated call (a JSON body, or FormData sent as multipart); refreshes first when the token is about to run out, and once after a 401. */
export async function request(method, path, body) {
  if (!session) throw new ApiError(401, 'Please log in.');
  if (session.expires_at - Date.now() < 15_000) await refresh();
  if (!session) throw new ApiError(401, 'Please log in.');
  const used = session.access_token;
  try {
    return await raw(method, path, body, used);
  } catch (e) {
    if (e.status !== 401 || !session) throw e;
    if (session.access_token === used) await refresh();
    if (!session) throw e;
    return raw(method, path, body, session.access_token);
  }
}

/** An access token good for at least `minValidMs` more (refreshed first if not), or null once logged out. For the WebSocket. */
export async function freshToken(minValidMs = 60_000) {
  if (!session) return null;
  if (session.expires_at - Date.now() < minValidMs) await refresh();
  return session?.access_token || null;
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);
export const put = (path, body = {}) => request('PUT', path, body);
export const del = (path, body) => request('DELETE', path, body);

export function query(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') qs.set(k, v);
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

// The calls that make or end a session.

export async function login(username, password, remember) {
  const pair = await raw('POST', '/auth/login', { username, password, remember_me: remember });
  adopt(pair, remember);
  return pair.user;
}

export const register = (body) => raw('POST', '/auth/register', body);
export const forgotPassword = (email) => raw('POST', '/auth/password/forgot', { email });
export const resetPassword = (token, new_password) => raw('POST', '/auth/password/reset', { token, new_password });

export async function logout() {
  try {
    if (session) await raw('POST', '/auth/logout', undefined, session.access_token);
  } catch {
    /* the session ends here either way */
  }
  expire();
}

export async function logoutAll() {
  await request('POST', '/auth/logout-all');
  expire();
}
