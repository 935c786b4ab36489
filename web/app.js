// app.js — start-up: restore the session, then show the sign-in screens or the chat app by the URL hash.

import * as api from './lib/api.js';
import * as actions from './lib/actions.js';
import * as realtime from './lib/realtime.js';
import * as router from './lib/router.js';
import { state, reset } from './lib/store.js';
import { h, replace } from './lib/dom.js';
import { renderAuth } from './views/auth.js';
import { mountShell } from './views/shell.js';
import { resetTrays } from './views/attachments.js';

const root = document.getElementById('root');
const AUTH_ROUTES = new Set(['login', 'register', 'forgot', 'reset-password']);
let shell = null;

function teardown() {
  realtime.stop();
  shell?.destroy();
  shell = null;
}

function render() {
  const route = router.current();
  if (AUTH_ROUTES.has(route.name)) {
    if (state.me && route.name !== 'reset-password') return router.go('/', { replace: true });
    teardown();
    renderAuth(root, route, { onLoggedIn });
    return;
  }
  if (!state.me) return router.go('/login', { replace: true });
  if (!shell) {
    shell = mountShell(root);
    realtime.start();
  }
  shell.route(route);
}

async function onLoggedIn() {
  await actions.loadMe();
  const next = sessionStorage.getItem('blockchat.next');
  sessionStorage.removeItem('blockchat.next');
  router.go(next || '/', { replace: true });
  render();
}

function offline(retry) {
  replace(
    root,
    h(
      'main',
      { class: 'auth-page' },
      h('div', { class: 'card' }, h('h1', {}, 'Block Chat'), h('p', {}, 'Cannot reach the server right now.'), h('button', { class: 'btn primary', type: 'button', onclick: retry }, 'Try again'))
    )
  );
}

api.onLoggedOut(() => {
  teardown();
  resetTrays();
  reset();
  router.go('/login', { replace: true });
  render();
});

async function boot() {
  if (api.hasSession()) {
    try {
      await actions.loadMe();
    } catch (e) {
      if (e.status === 0 || e.status >= 500) return offline(() => boot());
      api.forget();
    }
  }
  const route = router.current();
  if (!state.me && !AUTH_ROUTES.has(route.name) && route.path !== '/') sessionStorage.setItem('blockchat.next', route.path);
  router.onChange(render);
  render();
}

boot();
