// run.mjs — the web client end to end: starts the server binary, drives two people in Debian's
// chromium (playwright-core, no browser download), and saves screenshots of the main screens.
// Realtime: typing hints, read receipts from `read` events, a message missed while offline that
// comes by resume after the reconnect, no polling while the socket is up, and nothing twice.
// Files: an image with a thumbnail and a lightbox, a download link, uploads the server refuses.
// Reactions (picker and chips, live), pins (a jump to a message that is not loaded), mentions
// (highlight and the Mentions list), avatars (a photo others see after `user.updated`) and message
// search (accents, CJK, filters, pages; a result opens its chat on the message), threads (replies
// in a panel, live; "Also send to chat"; the Threads page and its badge; follow and unfollow).
// Forward (a copy that names and opens its original), delete, roles, my chat settings (mute, pin),
// and a forgotten password reset from the mailed link, then a login without "remember me".
// Any console error, page error or CSP violation in a page fails the run.
//
//   node tests/e2e/run.mjs          (BLOCKCHAT_BIN overrides the server binary)

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.BLOCKCHAT_BIN || join(here, '..', '..', 'target', 'debug', 'blockchat');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const missing = [
  [BIN, 'build the server first (cargo build), or point BLOCKCHAT_BIN at it'],
  [CHROMIUM, 'install Debian\'s browser: apt-get install -y chromium (or set CHROMIUM)'],
].filter(([path]) => !existsSync(path));
for (const [path, hint] of missing) console.error(`missing ${path}: ${hint}`);
if (missing.length) process.exit(1);

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error(`playwright-core is not installed: run npm ci in ${here}`);
  process.exit(1);
}
const SHOTS = join(here, 'screenshots');
const PASSWORD = 'correct horse battery';
const FILE_MAX = 1024 * 1024;
const STEP_TIMEOUT = 15_000;

const errors = [];
/** Only while the test itself stops the server: the browser logs each refused reconnect attempt. */
let serverDown = false;
const refusedSocket = /^WebSocket connection to '[^']*' failed: .*net::ERR_CONNECTION_REFUSED/;
let server;
let browser;
let dataDir;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the server; again on the same port and data with `port` (a restart). */
async function startServer(port) {
  port ??= await freePort();
  dataDir ??= mkdtempSync(join(tmpdir(), 'blockchat-e2e-'));
  const { BLOCKCHAT_BIN: _, ...inherited } = process.env; // ours, not a server setting
  server = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log', 'warn'], {
    env: {
      ...inherited,
      BLOCKCHAT_PASSWORD_HASH_MEMORY_KIB: '64',
      BLOCKCHAT_PASSWORD_HASH_ITERATIONS: '1',
      BLOCKCHAT_AUTH_RATE_PER_IP_PER_MINUTE: '100000',
      BLOCKCHAT_AUTH_RATE_PER_ACCOUNT_PER_MINUTE: '100000',
      // Small, so that a file over the limit is quick to make and to refuse.
      BLOCKCHAT_FILE_MAX_BYTES: String(FILE_MAX),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const self = server;
  self.on('exit', (code) => code && console.error(`server exited with ${code}`));
  self.exited = new Promise((resolve) => self.on('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return base;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server at ${BIN} did not start`);
}

/** A small RGB PNG (a gradient), made here so the test needs no image files. */
function makePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    for (let x = 0; x < width; x++) rows.set([255 - (y * 180) / height, 90 + (x * 120) / width, 60 + (y * 150) / height], row + 1 + x * 3);
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

let stepNo = 0;
async function step(name, fn) {
  stepNo++;
  const started = Date.now();
  process.stdout.write(`${String(stepNo).padStart(2)}. ${name} … `);
  await fn();
  console.log(`ok (${Date.now() - started} ms)`);
}

async function newPerson(base, name, options = {}, initScript = null) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(STEP_TIMEOUT);
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  // What came over the WebSocket(s): per frame, which socket (1, 2, ...), its type and message id.
  const person = { context, page, name, sockets: [], frames: [], requests: [] };
  page.on('pageerror', (e) => errors.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    const expected = /Failed to load resource/.test(m.text()) || (serverDown && refusedSocket.test(m.text()));
    if (m.type() === 'error' && !expected) errors.push(`${name}: console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) errors.push(`${name}: CSP: ${m.text()}`);
    if (/^realtime:/.test(m.text())) errors.push(`${name}: ${m.text()}`);
  });
  page.on('request', (r) => person.requests.push(r.url()));
  page.on('websocket', (ws) => {
    person.sockets.push(ws.url());
    const sock = person.sockets.length;
    ws.on('framereceived', ({ payload }) => {
      let e;
      try {
        e = JSON.parse(String(payload));
      } catch {
        return;
      }
      person.frames.push({ sock, type: e.type, id: e.message?.id, event: e });
    });
  });
  await page.goto(`${base}/`);
  return person;
}

/** Fails if the same message came twice over the sockets, or shows twice in the page. */
async function nothingTwice(person) {
  const seen = new Set();
  for (const f of person.frames) {
    if (f.type !== 'message.created' && f.type !== 'ack') continue;
    if (seen.has(f.id)) throw new Error(`${person.name} received message ${f.id} twice over the socket`);
    seen.add(f.id);
  }
  const ids = await person.page.locator('.msg[data-id]').evaluateAll((els) => els.map((e) => e.dataset.id));
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length) throw new Error(`${person.name}'s page shows ${twice.join(', ')} twice`);
}

const chatIdOf = (page) => new URL(page.url()).hash.split('/')[2];

/** A stand-in Notification that records what it is asked, and a tab we can call hidden (headless tabs are always visible). */
function fakeNotifications() {
  window.__notes = [];
  window.__asked = 0;
  window.__hidden = false;
  class FakeNotification {
    static permission = 'default';
    static async requestPermission() {
      window.__asked++;
      FakeNotification.permission = 'granted';
      return 'granted';
    }
    constructor(title, options) {
      window.__notes.push({ title, body: options?.body });
    }
    close() {}
  }
  window.Notification = FakeNotification;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible') });
}

const setHidden = (page, hidden) =>
  page.evaluate((hidden) => {
    window.__hidden = hidden;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);

async function register(page, username, displayName) {
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByLabel('Email').fill(`${username}@example.com`);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('.sidebar').waitFor();
}

const shot = (page, file) => page.screenshot({ path: join(SHOTS, file) });
const chatRow = (page, title) => page.locator('a.chat-row', { has: page.locator('.chat-name', { hasText: title }) });
const lastOwn = (page) => page.locator('.msg.own').last();
const box = (page) => page.getByLabel('Message', { exact: true });
const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return el && el !== document.body ? { tag: el.tagName.toLowerCase(), name: el.getAttribute('aria-label') || el.textContent.trim(), inDialog: !!el.closest('dialog[open]'), inDrawer: !!el.closest('.drawer') } : null;
});

/**
 * An accessibility smoke check of what is on the page: every control (rendered or only
 * waiting for hover or focus, like a message's actions) has a non-empty accessible name,
 * images have alt text, open dialogs are named, ids are unique, and there is one main
 * landmark and a level-1 heading. Fails listing the offenders.
 */
async function a11yAudit(page, where) {
  const problems = await page.evaluate(() => {
    const out = [];
    const shown = (el) => !el.closest('[hidden], [aria-hidden="true"], template, datalist') && getComputedStyle(el).visibility !== 'hidden';
    const textOf = (node) => {
      if (node.nodeType === Node.TEXT_NODE) return node.data;
      if (node.nodeType !== Node.ELEMENT_NODE || node.hidden || node.getAttribute('aria-hidden') === 'true') return '';
      if (node.getAttribute('aria-label')) return node.getAttribute('aria-label');
      if (node.tagName === 'IMG') return node.alt || '';
      if (['INPUT', 'SELECT', 'TEXTAREA'].includes(node.tagName)) return '';
      return [...node.childNodes].map(textOf).join(' ');
    };
    const nameOf = (el) => {
      const ids = el.getAttribute('aria-labelledby');
      if (ids) return ids.split(/\s+/).map((id) => document.getElementById(id)?.textContent || '').join(' ');
      if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
      if (el.labels?.length) return [...el.labels].map(textOf).join(' ');
      if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) {
        const t = textOf(el);
        if (t.trim()) return t;
      }
      return el.getAttribute('title') || el.getAttribute('placeholder') || '';
    };
    const describe = (el) => `<${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? ` class="${el.className}"` : ''}> in ${el.parentElement?.closest('[class]')?.className || 'page'}`;
    const controls = 'button, a[href], input:not([type=hidden]), textarea, select, [role=button], [role=tab], [role=option], [role=checkbox], [tabindex]:not([tabindex="-1"])';
    for (const el of document.querySelectorAll(controls)) {
      if (shown(el) && !nameOf(el).trim()) out.push(`no accessible name: ${describe(el)}`);
    }
    for (const img of document.querySelectorAll('img:not([alt])')) out.push(`image without alt: ${img.src}`);
    for (const d of document.querySelectorAll('dialog[open]')) if (!nameOf(d).trim()) out.push(`unnamed dialog: ${describe(d)}`);
    const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
    for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) out.push(`duplicate id: ${id}`);
    if (document.querySelectorAll('main').length !== 1) out.push(`${document.querySelectorAll('main').length} main landmarks`);
    if (![...document.querySelectorAll('h1')].some((h) => h.textContent.trim() && !h.closest('[hidden]'))) out.push('no level-1 heading');
    return out;
  });
  if (problems.length) throw new Error(`accessibility (${where}):\n    ${problems.join('\n    ')}`);
}

/** Nothing sticks out sideways: each of these boxes (where present) is as wide as its content. */
async function noSidewaysOverflow(page, where) {
  const wide = await page.evaluate(() =>
    ['html', '.app', '.sidebar', '.chat-nav', '.pane', '.chat-head', '.messages', '.composer', '.drawer-body', '.thread-body', '.thread-head', '.page-body', '.tab-panel', 'dialog[open] .modal-body']
      .flatMap((sel) => [...document.querySelectorAll(sel)])
      .filter((el) => el.getClientRects().length && el.scrollWidth > el.clientWidth + 1)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} is ${el.scrollWidth} px wide in ${el.clientWidth} px`)
  );
  if (wide.length) throw new Error(`sideways overflow (${where}): ${wide.join('; ')}`);
}

/**
 * From the top of the page, Tab through the app until the control named `until`: every stop
 * shows a focus indicator (an outline or a ring). Returns the names of the stops.
 */
async function tabThrough(page, until, limit = 40) {
  await page.evaluate(() => {
    const root = document.getElementById('root');
    root.tabIndex = -1;
    root.focus();
  });
  const seen = [];
  const bare = [];
  for (let i = 0; i < limit && seen.at(-1) !== until; i++) {
    await page.keyboard.press('Tab');
    const r = await page.evaluate(() => {
      document.getElementById('root').removeAttribute('tabindex');
      const el = document.activeElement;
      const cs = getComputedStyle(el);
      const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
      return { name: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40) || el.tagName, ring };
    });
    seen.push(r.name);
    if (!r.ring) bare.push(r.name);
  }
  if (bare.length) throw new Error(`no visible focus on: ${bare.join(', ')}`);
  if (seen.at(-1) !== until) throw new Error(`Tab never reached “${until}”: ${seen.join(' → ')}`);
  return seen;
}

/** The page's background colour as relative luminance (0 black … 1 white). */
const backgroundLuminance = (page) =>
  page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  });

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const base = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  const alice = await newPerson(base, 'alice');
  const bob = await newPerson(base, 'bob', {}, fakeNotifications);
  const A = alice.page;
  const B = bob.page;

  await step('the login screen shows', async () => {
    await A.getByRole('heading', { name: 'Log in' }).waitFor();
    await a11yAudit(A, 'the login screen');
    await shot(A, '01-login.png');
  });

  await step('two people register', async () => {
    await register(A, 'alice', 'Alice Liddell');
    await register(B, 'bob', 'Bob Builder');
  });

  await step('alice finds bob and asks to be friends', async () => {
    await A.getByRole('link', { name: 'People' }).click();
    await A.getByRole('tab', { name: 'Find people' }).click();
    await A.getByRole('searchbox', { name: 'Find people' }).fill('bob');
    const row = A.locator('.person-row', { hasText: 'Bob Builder' });
    await row.getByRole('button', { name: 'Add friend' }).click();
    await row.getByRole('button', { name: 'Cancel request' }).waitFor();
  });

  await step('bob accepts the request', async () => {
    await B.getByRole('link', { name: /People/ }).click();
    await B.getByRole('tab', { name: /Requests/ }).click();
    const row = B.locator('.person-row', { hasText: 'Alice Liddell' });
    await a11yAudit(B, 'people: requests');
    await row.getByRole('button', { name: 'Accept' }).click();
    await B.getByRole('tab', { name: 'Friends' }).click();
    await B.locator('.person-row', { hasText: 'Alice Liddell' }).waitFor();
  });

  const hello = `Hello **Bob**, it is ${new Date().toISOString().slice(11, 19)}`;
  await step('alice opens a direct chat and sends a message', async () => {
    await A.getByRole('button', { name: 'New chat' }).first().click();
    await A.locator('dialog .person-link', { hasText: 'Bob Builder' }).click();
    await A.locator('.chat-title', { hasText: 'Bob Builder' }).waitFor();
    const box = A.getByLabel('Message', { exact: true });
    await box.fill(hello);
    await box.press('Enter');
    await lastOwn(A).locator('strong', { hasText: 'Bob' }).waitFor();
    await lastOwn(A).locator('[data-receipt="sent"]').waitFor();
  });

  await step('bob sees it without reloading, with an unread badge', async () => {
    const row = chatRow(B, 'Alice Liddell');
    await row.locator('.badge', { hasText: '1' }).waitFor();
    await row.click();
    await B.locator('.msg.theirs .body', { hasText: 'Hello Bob' }).waitFor();
    // What was there on opening is not read out: only what arrives later is (see the reply below).
    if ((await B.locator('.chat .sr-only[role=log][aria-live=polite]').textContent()) !== '') throw new Error('the history was announced on opening the chat');
  });

  await step('the read receipt turns to read for alice', async () => {
    await lastOwn(A).locator('[data-receipt="read"]').waitFor();
  });

  await step('bob replies with a quote, alice sees it live', async () => {
    const msg = B.locator('.msg.theirs').last();
    await msg.hover();
    await msg.getByRole('button', { name: 'Reply', exact: true }).click();
    const box = B.getByLabel('Message', { exact: true });
    const ownBefore = await B.locator('.msg.own').count();
    await box.fill('Hi Alice! <b>raw html</b> stays text. Shift+Enter makes');
    await box.press('Shift+Enter');
    await box.type('a second line');
    if (!(await box.inputValue()).includes('makes\na second line')) throw new Error('Shift+Enter did not make a new line');
    await B.waitForTimeout(100);
    if ((await B.locator('.msg.own').count()) !== ownBefore) throw new Error('Shift+Enter sent the message');
    await box.press('Enter');
    await B.locator('.msg.own', { hasText: 'a second line' }).waitFor();
    if ((await box.inputValue()) !== '') throw new Error('the composer is not empty after Enter sent');
    // Alice's screen reader hears it once, through the polite live region.
    await A.locator('.chat .sr-only[role=log][aria-live=polite]', { hasText: 'Bob Builder: Hi Alice!' }).waitFor();
    const got = A.locator('.msg.theirs').last();
    await got.locator('.quote', { hasText: 'Hello Bob' }).waitFor();
    await got.locator('.body', { hasText: 'a second line' }).waitFor();
    await got.locator('.body', { hasText: '<b>raw html</b>' }).waitFor();
    if (await got.locator('.body b').count()) throw new Error('raw HTML in a message was rendered as HTML');
  });

  await step('alice edits her last message with the Up key: Esc cancels, Enter saves', async () => {
    const box = A.getByLabel('Message', { exact: true });
    const context = A.locator('.composer-context');
    await box.click();
    await box.press('ArrowUp');
    await context.filter({ hasText: 'Editing' }).waitFor();
    if ((await box.inputValue()) !== hello) throw new Error('Up did not put the last own message in the composer');
    await box.press('End');
    await box.type(' (not kept)');
    await box.press('Escape');
    await context.waitFor({ state: 'hidden' });
    if ((await box.inputValue()) !== '') throw new Error('Esc left the edited text in the composer');
    await box.press('ArrowUp');
    await context.filter({ hasText: 'Editing' }).waitFor();
    await box.fill(`${hello} (edited)`);
    await box.press('Enter');
    await context.waitFor({ state: 'hidden' });
    await B.locator('.msg.theirs', { hasText: '(edited)' }).locator('.edited').waitFor();
    if (await A.locator('.msg', { hasText: 'not kept' }).count()) throw new Error('a cancelled edit was saved');
    if ((await box.inputValue()) !== '') throw new Error('the composer is not empty after saving the edit');
  });

  await step('keyboard and accessibility: Tab order, message actions on focus, Esc closes dialogs and panels', async () => {
    await A.mouse.move(0, 0);
    await a11yAudit(A, 'a direct chat');
    // From the top, Tab reaches the skip link first; it jumps to the composer.
    await tabThrough(A, 'Skip to the conversation', 1);
    await A.keyboard.press('Enter');
    if ((await focused(A))?.name !== 'Message') throw new Error('the skip link did not move focus to the composer');
    // Every stop on the way through the sidebar and the chat shows where focus is.
    await tabThrough(A, 'Message');

    // A message's actions appear when it has focus (arrow keys in the list), not only on hover.
    await A.locator('.messages').focus();
    await A.keyboard.press('ArrowUp');
    const last = A.locator('.msg').last();
    if (!(await last.evaluate((el) => el === document.activeElement))) throw new Error('Up in the message list did not focus the last message');
    await last.getByRole('button', { name: 'Reply', exact: true }).waitFor();
    for (let i = 0; i < 4 && (await focused(A))?.name !== 'Reply'; i++) await A.keyboard.press('Tab');
    if ((await focused(A))?.name !== 'Reply') throw new Error('Tab from a focused message did not reach its actions');
    await A.keyboard.press('Enter');
    await A.locator('.composer-context', { hasText: 'Replying to Bob Builder' }).waitFor();
    if ((await focused(A))?.name !== 'Message') throw new Error('Reply did not move focus to the composer');
    await A.keyboard.press('Escape');
    await A.locator('.composer-context').waitFor({ state: 'hidden' });
    await A.locator('.messages').focus();
    await A.keyboard.press('ArrowUp');
    await A.keyboard.press('Escape');
    if ((await focused(A))?.name !== 'Message') throw new Error('Esc in the message list did not go back to the composer');

    // A dialog takes focus, Esc closes it, focus returns to the button that opened it.
    await A.getByRole('button', { name: 'New group' }).first().focus();
    await A.keyboard.press('Enter');
    await A.locator('dialog[open]').waitFor();
    if (!(await focused(A))?.inDialog) throw new Error('focus did not move into the opened dialog');
    if (await A.locator('dialog[open]').evaluate((d) => !d.matches(':modal'))) throw new Error('the dialog is not modal');
    await a11yAudit(A, 'the new group dialog');
    await A.keyboard.press('Escape');
    await A.locator('dialog').waitFor({ state: 'detached' });
    if ((await focused(A))?.name !== 'New group') throw new Error(`focus did not return to the opener: ${JSON.stringify(await focused(A))}`);

    // The info panel too.
    const infoButton = A.locator('.chat-head > button.icon-btn[aria-label="Chat info"]');
    await infoButton.focus();
    await A.keyboard.press('Enter');
    await A.locator('.drawer .drawer-head').waitFor();
    if (!(await focused(A))?.inDrawer) throw new Error('focus did not move into the info panel');
    if ((await infoButton.getAttribute('aria-expanded')) !== 'true') throw new Error('the info button does not say the panel is open');
    await a11yAudit(A, 'the chat info panel');
    await A.keyboard.press('Escape');
    await A.locator('.drawer').waitFor({ state: 'hidden' });
    if (!(await infoButton.evaluate((el) => el === document.activeElement))) throw new Error('focus did not return to the info button');
  });

  await step('the socket is up: authenticated by its first frame, and no polling', async () => {
    for (const p of [alice, bob]) {
      if (!p.sockets.length) throw new Error(`${p.name} opened no WebSocket`);
      if (p.sockets.some((u) => /token/i.test(u))) throw new Error(`${p.name}'s socket URL carries the token`);
      if (!p.frames.some((f) => f.type === 'ready')) throw new Error(`${p.name} got no ready frame`);
    }
    await A.waitForTimeout(500);
    const before = [alice.requests.length, bob.requests.length];
    await A.waitForTimeout(3500);
    const made = [alice.requests.slice(before[0]), bob.requests.slice(before[1])].flat();
    if (made.length) throw new Error(`HTTP requests while idle with the socket up (polling?): ${made.join(', ')}`);
  });

  await step('bob sees alice typing; the hint ends after ~5 s, or at once with her message', async () => {
    const box = A.getByLabel('Message', { exact: true });
    const hint = B.locator('.typing-line', { hasText: 'Alice Liddell is typing…' });
    await box.pressSequentially('Just a sec', { delay: 15 });
    await hint.waitFor();
    const shown = Date.now();
    await shot(B, '07-typing.png');
    await chatRow(B, 'Alice Liddell').locator('.preview.typing').waitFor();
    await box.fill('');
    await hint.waitFor({ state: 'hidden', timeout: 8000 });
    const lasted = Date.now() - shown;
    if (lasted < 3000) throw new Error(`the typing hint went after ${lasted} ms, not ~5 s`);
    if (await A.locator('.typing-line', { hasText: 'typing' }).count()) throw new Error('alice sees her own typing hint');
    await box.pressSequentially('Here it is', { delay: 15 });
    await hint.waitFor();
    await box.press('Enter');
    await B.locator('.msg.theirs .body', { hasText: 'Here it is' }).waitFor();
    await hint.waitFor({ state: 'hidden', timeout: 1000 });
  });

  await step('receipts turn to read per message, from read events', async () => {
    const chatId = chatIdOf(A);
    await B.getByRole('link', { name: /People/ }).click();
    await B.locator('section.chat').waitFor({ state: 'detached' });
    const box = A.getByLabel('Message', { exact: true });
    // The second is found again later by a search for “cafe” (case and accents ignored).
    for (const text of ['First of two', 'Second of two: the Café meeting is at ten']) {
      await box.fill(text);
      await box.press('Enter');
      await A.locator('.msg.own', { hasText: text }).locator('[data-receipt="sent"]').waitFor();
    }
    const first = A.locator('.msg.own', { hasText: 'First of two' });
    const second = A.locator('.msg.own', { hasText: 'Second of two' });
    const seq = Number(await first.getAttribute('data-seq'));
    const readsBefore = alice.frames.filter((f) => f.type === 'read').length;
    // Bob has read the first only (his pointer moves by HTTP; alice hears of it over her socket).
    await B.evaluate(
      async ({ chatId, seq }) => {
        const { access_token } = JSON.parse(localStorage.getItem('blockchat.session') || sessionStorage.getItem('blockchat.session'));
        const r = await fetch(`/chats/${chatId}/messages/read`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${access_token}` }, body: JSON.stringify({ up_to_seq: seq }) });
        if (!r.ok) throw new Error(`marking read: ${r.status}`);
      },
      { chatId, seq }
    );
    await first.locator('[data-receipt="read"]').waitFor();
    await second.locator('[data-receipt="sent"]').waitFor();
    const reads = alice.frames.filter((f) => f.type === 'read').slice(readsBefore);
    if (!reads.some((f) => f.event.read_seq === seq && f.event.chat_id === chatId)) throw new Error('alice got no read event for bob');
    await chatRow(B, 'Alice Liddell').click();
    await B.locator('.msg.theirs', { hasText: 'Second of two' }).waitFor();
    await second.locator('[data-receipt="read"]').waitFor();
    await first.locator('[data-receipt="read"]').waitFor();
  });

  const away = `While you were away ${Date.now() % 100000}`;
  await step('a message sent while bob is offline arrives by resume after he reconnects', async () => {
    const socketsBefore = bob.sockets.length;
    await bob.context.setOffline(true);
    await B.locator('.banner', { hasText: 'Reconnecting' }).waitFor();
    const box = A.getByLabel('Message', { exact: true });
    await box.fill(away);
    await box.press('Enter');
    await A.locator('.msg.own', { hasText: away }).locator('[data-receipt="sent"]').waitFor();
    // Bob writes too: it cannot go out yet, and says so.
    const bobBox = B.getByLabel('Message', { exact: true });
    await bobBox.fill('Sent from the tunnel');
    await bobBox.press('Enter');
    await B.locator('.msg.own.failed', { hasText: 'Sent from the tunnel' }).waitFor();
    await shot(B, '08-reconnecting.png');
    await B.waitForTimeout(500);
    if (await B.locator('.msg', { hasText: away }).count()) throw new Error('the message reached bob while he was offline');
    await bob.context.setOffline(false);
    await B.locator('.msg.theirs .body', { hasText: away }).waitFor();
    await B.locator('.banner').waitFor({ state: 'hidden' });
    const id = await B.locator('.msg.theirs', { hasText: away }).getAttribute('data-id');
    if (!bob.frames.some((f) => f.sock > socketsBefore && f.type === 'message.created' && f.id === id)) throw new Error('the missed message did not come over the new socket (resume)');
    await A.locator('.msg.theirs .body', { hasText: 'Sent from the tunnel' }).waitFor();
    await B.locator('.msg.own', { hasText: 'Sent from the tunnel' }).locator('[data-receipt="read"]').waitFor();
    await A.locator('.msg.own', { hasText: away }).locator('[data-receipt="read"]').waitFor();
  });

  await step('nothing arrived twice', async () => {
    await A.waitForTimeout(300);
    for (const p of [alice, bob]) await nothingTwice(p);
    for (const [page, text] of [[B, away], [A, 'Sent from the tunnel'], [B, 'Sent from the tunnel'], [A, 'Here it is'], [B, 'Here it is']]) {
      const n = await page.locator('.msg', { hasText: text }).count();
      if (n !== 1) throw new Error(`“${text}” shows ${n} times`);
    }
  });

  await step('notifications: asked for from settings only, shown while the tab is hidden', async () => {
    if ((await B.evaluate(() => window.__asked)) !== 0) throw new Error('notification permission was asked for on load');
    await B.getByRole('link', { name: 'Settings' }).click();
    const toggle = B.getByLabel('Show a notification for new messages');
    await toggle.waitFor();
    await a11yAudit(B, 'settings');
    await toggle.check();
    if ((await B.evaluate(() => window.__asked)) !== 1) throw new Error('the toggle did not ask for permission');
    await chatRow(B, 'Alice Liddell').click();
    await B.locator('.msg.theirs', { hasText: away }).waitFor();
    await setHidden(B, true);
    const box = A.getByLabel('Message', { exact: true });
    await box.fill('Are you **there**?');
    await box.press('Enter');
    await B.locator('.msg.theirs', { hasText: 'Are you there?' }).waitFor();
    await A.waitForTimeout(200);
    const notes = await B.evaluate(() => window.__notes);
    if (notes.length !== 1 || notes[0].title !== 'Alice Liddell' || notes[0].body !== 'Are you there?') throw new Error(`unexpected notifications: ${JSON.stringify(notes)}`);
    await A.locator('.msg.own', { hasText: 'Are you there?' }).locator('[data-receipt="sent"]').waitFor();
    await setHidden(B, false);
    await A.locator('.msg.own', { hasText: 'Are you there?' }).locator('[data-receipt="read"]').waitFor();
  });

  await step('screens: chat list with the chat view', async () => {
    await A.waitForTimeout(300);
    await shot(A, '02-chat.png');
  });

  await step('files: an image waits for its upload, then bob sees its thumbnail live and opens it', async () => {
    const png = makePng(240, 160);
    const before = await B.locator('.msg.theirs').count();
    // The upload answers late: Enter before it is done waits for it, and says so.
    let release;
    const held = new Promise((r) => (release = r));
    await A.route('**/files', async (route) => {
      await held;
      await route.continue();
    });
    await A.getByRole('button', { name: 'Attach files' }).waitFor();
    await A.locator('.composer input[type=file]').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png });
    const item = A.locator('.tray-item', { hasText: 'sunset.png' });
    await item.locator('.tray-status', { hasText: 'uploading' }).waitFor();
    await item.locator('progress').waitFor();
    await item.getByRole('button', { name: 'Remove sunset.png' }).waitFor();
    await box(A).fill('The view from the balcony');
    await box(A).press('Enter');
    await A.locator('.tray-note', { hasText: 'Sending when the uploads finish' }).waitFor();
    await A.waitForTimeout(150);
    if (await A.locator('.msg', { hasText: 'The view from the balcony' }).count()) throw new Error('the message went before its upload finished');
    release();
    const own = A.locator('.msg.own', { hasText: 'The view from the balcony' });
    await own.locator('img[alt="sunset.png"]').waitFor();
    await A.locator('.tray-item').waitFor({ state: 'detached' });
    await A.unroute('**/files');
    if ((await box(A).inputValue()) !== '') throw new Error('the composer is not empty after sending with a file');

    const msg = B.locator('.msg.theirs', { hasText: 'The view from the balcony' });
    const img = msg.locator('.att-image img');
    await img.waitFor();
    await B.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    const attrs = await img.evaluate((el) => ({ alt: el.alt, width: el.getAttribute('width'), height: el.getAttribute('height'), loading: el.loading, src: el.getAttribute('src'), shown: el.getBoundingClientRect().width }));
    if (attrs.alt !== 'sunset.png' || attrs.width !== '240' || attrs.height !== '160' || attrs.loading !== 'lazy') throw new Error(`unexpected thumbnail: ${JSON.stringify(attrs)}`);
    if (!/\/thumbnail\?expires=\d+&sig=/.test(attrs.src)) throw new Error(`the thumbnail is not the signed thumbnail URL: ${attrs.src}`);
    if (!(attrs.shown > 100)) throw new Error(`the thumbnail shows ${attrs.shown} px wide`);
    if ((await B.locator('.msg.theirs').count()) !== before + 1) throw new Error('bob did not get exactly one new message');

    // Opening it: a named modal dialog with the full image; Esc closes it and focus returns.
    const link = msg.locator('a.att-image');
    await link.focus();
    await B.keyboard.press('Enter');
    const lightbox = B.locator('dialog[open].lightbox');
    await lightbox.getByRole('heading', { name: 'sunset.png' }).waitFor();
    const full = lightbox.locator('img.lightbox-img');
    await B.waitForFunction((el) => el.complete && el.naturalWidth === 240, await full.elementHandle());
    await lightbox.getByRole('link', { name: 'Download' }).waitFor();
    await a11yAudit(B, 'the image lightbox');
    await B.keyboard.press('Escape');
    await lightbox.waitFor({ state: 'detached' });
    if (!(await link.evaluate((el) => el === document.activeElement))) throw new Error('focus did not return to the image after the lightbox');
    await B.mouse.move(0, 0);
    await B.waitForTimeout(200);
    await shot(B, '13-chat-image.png');
  });

  await step('files: refused uploads show their error in the tray and are not sent; a text file comes as a download link', async () => {
    const countA = await A.locator('.msg').count();
    await A.locator('.composer input[type=file]').setInputFiles([
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Bring: cake, tea, chairs\n') },
      { name: 'setup.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ\x90\x00 not really a program') },
      { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(FILE_MAX + 200_000, 7) },
    ]);
    const tray = A.locator('.tray');
    await tray.locator('.tray-item.done', { hasText: 'notes.txt' }).waitFor();
    await tray.locator('.tray-item.error', { hasText: 'setup.exe' }).locator('[role=alert]', { hasText: 'this type is not allowed' }).waitFor();
    await tray.locator('.tray-item.error', { hasText: 'huge.bin' }).locator('[role=alert]', { hasText: 'too large (max 1 MiB)' }).waitFor();
    await a11yAudit(A, 'the composer with files');
    await shot(A, '14-tray-errors.png');
    // Enter does not send while a file failed: it says so and points at the file.
    await box(A).press('Enter');
    await A.locator('.toast.error', { hasText: 'remove them to send' }).waitFor();
    if ((await focused(A))?.name !== 'Remove setup.exe') throw new Error(`focus did not go to the failed file: ${JSON.stringify(await focused(A))}`);
    await A.keyboard.press('Enter'); // removes setup.exe; focus moves on to the next file
    await tray.locator('.tray-item', { hasText: 'setup.exe' }).waitFor({ state: 'detached' });
    await tray.getByRole('button', { name: 'Remove huge.bin' }).click();
    await tray.locator('.tray-item', { hasText: 'huge.bin' }).waitFor({ state: 'detached' });
    await box(A).press('Enter'); // a file and no text: that is a message too
    const own = A.locator('.msg.own').last();
    await own.locator('a.att-file', { hasText: 'notes.txt' }).waitFor();
    await own.locator('[data-receipt]').waitFor();
    if ((await A.locator('.msg').count()) !== countA + 1) throw new Error('not exactly one message was sent');

    const link = B.locator('.msg.theirs').last().getByRole('link', { name: /^Download notes\.txt/ });
    await link.waitFor();
    const got = await link.evaluate(async (a) => {
      const r = await fetch(a.href);
      return { download: a.getAttribute('download'), name: a.querySelector('.att-name').textContent, size: a.querySelector('.att-size').textContent, status: r.status, body: await r.text() };
    });
    if (got.download !== 'notes.txt' || got.name !== 'notes.txt' || got.size !== '25 B') throw new Error(`unexpected download link: ${JSON.stringify(got)}`);
    if (got.status !== 200 || got.body !== 'Bring: cake, tea, chairs\n') throw new Error(`the link does not fetch the file: ${got.status}`);
    for (const page of [A, B]) {
      const text = await page.locator('.items').textContent();
      if (/setup\.exe|huge\.bin/.test(text)) throw new Error('a refused file shows in the chat');
    }
    await chatRow(B, 'Alice Liddell').locator('.preview', { hasText: 'notes.txt' }).waitFor();
  });

  await step('files: dropped and pasted files join the tray; removing them by keyboard', async () => {
    await A.evaluate(() => {
      const section = document.querySelector('section.chat');
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped'], 'dropped.txt', { type: 'text/plain' }));
      section.dispatchEvent(new DragEvent('dragenter', { bubbles: true, cancelable: true, dataTransfer: dt }));
      window.__dropShown = !document.querySelector('.drop-zone').hidden;
      section.querySelector('.messages').dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
      const clip = new DataTransfer();
      clip.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'image.png', { type: 'image/png' }));
      document.querySelector('.composer textarea').dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: clip }));
    });
    if (!(await A.evaluate(() => window.__dropShown))) throw new Error('dragging files over the chat did not show the drop zone');
    if (await A.locator('.drop-zone').isVisible()) throw new Error('the drop zone stayed after the drop');
    await A.locator('.tray-item', { hasText: 'dropped.txt' }).waitFor();
    await A.locator('.tray-item', { hasText: /pasted-\d{8}-\d{6}\.png/ }).waitFor();
    await A.locator('.tray-item.done', { hasText: 'dropped.txt' }).waitFor();
    await A.locator('.tray-item:not(.uploading)', { hasText: 'pasted-' }).waitFor();
    await A.getByRole('button', { name: 'Remove dropped.txt' }).focus();
    await A.keyboard.press('Enter');
    if (!/^Remove pasted-/.test((await focused(A))?.name || '')) throw new Error('focus did not move to the next file after a removal');
    await A.keyboard.press('Enter');
    await A.locator('.tray-host').waitFor({ state: 'hidden' });
    if ((await focused(A))?.name !== 'Message') throw new Error('focus did not go back to the composer when the tray emptied');
  });

  await step('alice creates a group with bob and posts in it', async () => {
    await A.getByRole('button', { name: 'New group' }).first().click();
    await A.getByLabel('Group name').fill('Weekend plans');
    await A.getByLabel('Description').fill('Who brings what');
    await A.locator('dialog label.person-link', { hasText: 'Bob Builder' }).locator('input').check();
    await A.getByRole('button', { name: 'Create group' }).click();
    await A.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await A.locator('.sys', { hasText: 'You created the group' }).waitFor();
    const box = A.getByLabel('Message', { exact: true });
    await box.fill('I bring the `cake`, @bob brings the tea');
    await box.press('Enter');
    await lastOwn(A).locator('code', { hasText: 'cake' }).waitFor();
  });

  await step('bob sees the group and the mention, and answers', async () => {
    const row = chatRow(B, 'Weekend plans');
    await row.locator('.badge.mention').waitFor();
    await row.click();
    await B.locator('.msg.theirs.mentioned', { hasText: 'brings the tea' }).waitFor();
    await B.locator('.chat-subtitle', { hasText: '2 members' }).waitFor();
    const box = B.getByLabel('Message', { exact: true });
    await box.fill('Deal. See you Saturday');
    await box.press('Enter');
    await A.locator('.msg.theirs', { hasText: 'See you Saturday' }).locator('.sender', { hasText: 'Bob Builder' }).waitFor();
    await A.locator('.msg.own', { hasText: 'brings the tea' }).locator('[data-receipt="read"]').waitFor();
    await B.getByRole('button', { name: 'Chat info' }).first().click();
    await B.locator('.drawer .person-row', { hasText: 'Alice Liddell' }).locator('.role-owner').waitFor();
    await a11yAudit(B, 'group info');
    await shot(B, '03-group-info.png');
    await B.keyboard.press('Escape');
    await B.locator('.drawer').waitFor({ state: 'hidden' });
  });

  await step('after a reload the history is still there', async () => {
    await A.reload();
    await A.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await A.locator('.msg', { hasText: 'See you Saturday' }).waitFor();
    await chatRow(A, 'Bob Builder').click();
    await A.locator('.msg.own', { hasText: '(edited)' }).waitFor();
    await A.locator('.msg.theirs', { hasText: 'a second line' }).waitFor();
    await A.locator('.day-sep', { hasText: 'Today' }).waitFor();
  });

  await step('screens: a 360 px phone (nothing sideways, panels cover the chat) and the dark theme', async () => {
    const phone = await newPerson(base, 'bob-phone', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const P = phone.page;
    await noSidewaysOverflow(P, 'phone: login');
    await P.getByLabel('Username or email').fill('bob');
    await P.getByLabel('Password').fill(PASSWORD);
    await P.getByRole('button', { name: 'Log in' }).click();
    await chatRow(P, 'Weekend plans').waitFor();
    await noSidewaysOverflow(P, 'phone: chat list');
    await a11yAudit(P, 'phone: chat list');
    await shot(P, '04-phone-list.png');
    await chatRow(P, 'Alice Liddell').click();
    await P.locator('.msg.theirs', { hasText: '(edited)' }).waitFor();
    await P.waitForTimeout(300);
    await noSidewaysOverflow(P, 'phone: chat');
    await shot(P, '05-phone-chat.png');
    await P.getByRole('button', { name: 'Chat info' }).last().click();
    await P.locator('.drawer .drawer-head').waitFor();
    if (!(await P.locator('section.chat').evaluate((el) => el.inert))) throw new Error('on a phone the chat under the info panel stays in the Tab order');
    await noSidewaysOverflow(P, 'phone: chat info');
    await shot(P, '09-phone-info.png');
    await P.keyboard.press('Escape');
    await P.locator('.drawer').waitFor({ state: 'hidden' });
    await P.getByRole('link', { name: 'Back to chats' }).click();
    await P.getByRole('link', { name: 'Settings' }).click();
    await P.getByRole('heading', { name: 'Settings' }).waitFor();
    await noSidewaysOverflow(P, 'phone: settings');
    await shot(P, '10-phone-settings.png');
    await P.getByRole('link', { name: 'Back to chats' }).click();
    await P.getByRole('button', { name: 'New group' }).click();
    await P.locator('dialog[open] .person-link').first().waitFor();
    await noSidewaysOverflow(P, 'phone: new group dialog');
    await shot(P, '11-phone-dialog.png');
    await phone.context.close();

    // Light by default, dark when the system says so, and it follows a change without a reload.
    if ((await backgroundLuminance(A)) < 0.8) throw new Error('the light theme is not light');
    await A.emulateMedia({ colorScheme: 'dark' });
    if ((await backgroundLuminance(A)) > 0.2) throw new Error('the page did not follow the system to dark');
    await A.emulateMedia({ colorScheme: 'light' });

    const dark = await newPerson(base, 'alice-dark', { colorScheme: 'dark' });
    await dark.page.getByLabel('Username or email').fill('alice');
    await dark.page.getByLabel('Password').fill(PASSWORD);
    await dark.page.getByRole('button', { name: 'Log in' }).click();
    await chatRow(dark.page, 'Weekend plans').click();
    await dark.page.locator('.msg', { hasText: 'See you Saturday' }).waitFor();
    if ((await backgroundLuminance(dark.page)) > 0.2) throw new Error('the dark theme is not dark');
    await dark.page.waitForTimeout(300);
    await shot(dark.page, '06-dark.png');
    // A 900 px window: the info panel lies over the chat instead of squeezing it.
    await dark.page.setViewportSize({ width: 900, height: 700 });
    await dark.page.getByRole('button', { name: 'Chat info' }).last().click();
    await dark.page.locator('.drawer .drawer-head').waitFor();
    if ((await dark.page.locator('section.chat').evaluate((el) => el.getBoundingClientRect().width)) < 500) throw new Error('at 900 px the info panel squeezes the chat');
    await noSidewaysOverflow(dark.page, '900 px: chat info');
    await shot(dark.page, '12-900px-info-dark.png');
    await dark.context.close();
  });

  await step('still nothing twice after the group and the reload', async () => {
    for (const p of [alice, bob]) await nothingTwice(p);
  });

  await step('the server restarts (1012): both reconnect, and a send made meanwhile goes out', async () => {
    const port = new URL(base).port;
    const aSockets = alice.sockets.length;
    const bSockets = bob.sockets.length;
    serverDown = true;
    server.kill('SIGTERM');
    await server.exited;
    await A.locator('.banner', { hasText: 'Reconnecting' }).waitFor();
    await B.locator('.banner', { hasText: 'Reconnecting' }).waitFor();
    const box = A.getByLabel('Message', { exact: true });
    await box.fill('Sent while the server was down');
    await box.press('Enter');
    await A.locator('.msg.own.failed', { hasText: 'Sent while the server was down' }).waitFor();
    await startServer(Number(port));
    await A.locator('.banner').waitFor({ state: 'hidden' });
    await B.locator('.banner').waitFor({ state: 'hidden' });
    serverDown = false;
    if (alice.sockets.length <= aSockets || bob.sockets.length <= bSockets) throw new Error('no new sockets after the restart');
    await A.locator('.msg.own', { hasText: 'Sent while the server was down' }).locator('[data-receipt="sent"]').waitFor();
    await chatRow(B, 'Alice Liddell').locator('.badge', { hasText: '1' }).waitFor();
    await chatRow(B, 'Alice Liddell').click();
    await B.locator('.msg.theirs', { hasText: 'Sent while the server was down' }).waitFor();
    await A.locator('.msg.own', { hasText: 'Sent while the server was down' }).locator('[data-receipt="read"]').waitFor();
    for (const p of [alice, bob]) await nothingTwice(p);
  });

  await step('a send the server refuses (error event) shows as not sent, with Retry', async () => {
    const bobId = bob.frames.find((f) => f.type === 'ready').event.user_id;
    const call = (method, path) =>
      A.evaluate(
        async ({ method, path }) => {
          const { access_token } = JSON.parse(localStorage.getItem('blockchat.session') || sessionStorage.getItem('blockchat.session'));
          const r = await fetch(path, { method, headers: { authorization: `Bearer ${access_token}` } });
          if (!r.ok) throw new Error(`${method} ${path}: ${r.status}`);
        },
        { method, path }
      );
    await call('POST', `/users/${bobId}/block`);
    const box = B.getByLabel('Message', { exact: true });
    await box.fill('Can you hear me?');
    await box.press('Enter');
    const failed = B.locator('.msg.own.failed', { hasText: 'Can you hear me?' });
    await failed.locator('.send-failed', { hasText: 'You cannot message this person' }).getByRole('button', { name: 'Retry' }).waitFor();
    if (!bob.frames.some((f) => f.type === 'error' && f.event.client_id && f.event.code === 403)) throw new Error('no error event for the refused send');
    await failed.getByRole('button', { name: 'Discard' }).click();
    await failed.waitFor({ state: 'detached' });
    await call('DELETE', `/users/${bobId}/block`);
    if (await A.locator('.msg', { hasText: 'Can you hear me?' }).count()) throw new Error('the refused message reached alice');
  });

  await step('over 500 missed while offline: resync, and the newest page comes; scrolling up loads the page before it', async () => {
    const chatId = chatIdOf(A);
    await bob.context.setOffline(true);
    await B.locator('.banner', { hasText: 'Reconnecting' }).waitFor();
    const { access_token: token } = JSON.parse(await A.evaluate(() => localStorage.getItem('blockchat.session') || sessionStorage.getItem('blockchat.session')));
    const post = (content) =>
      fetch(`${base}/chats/${chatId}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ content }) }).then((r) => {
        if (!r.ok) throw new Error(`POST: ${r.status}`);
      });
    for (let i = 1; i <= 500; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => post(`Burst ${i + j}`)));
    await post('Burst the last');
    const resyncs = bob.frames.filter((f) => f.type === 'resync').length;
    await bob.context.setOffline(false);
    await B.locator('.msg.theirs .body', { hasText: 'Burst the last' }).waitFor();
    await B.locator('.banner').waitFor({ state: 'hidden' });
    if (bob.frames.filter((f) => f.type === 'resync').length !== resyncs + 1) throw new Error('no resync frame');
    await A.locator('.msg.own .body', { hasText: 'Burst the last' }).waitFor();
    // Bob holds the newest page only: scrolling up loads the one before it.
    const held = await B.locator('.items .msg').count();
    const asked = bob.requests.length;
    await B.locator('.messages').evaluate((el) => (el.scrollTop = 0));
    await B.waitForFunction((n) => document.querySelectorAll('.items .msg').length > n, held);
    if (!bob.requests.slice(asked).some((u) => /\/messages\?before=\d+/.test(u))) throw new Error('scrolling up did not load earlier messages');
    // …and keeps what was in view where it was (the page goes above it; no run of further pages).
    if ((await B.locator('.messages').evaluate((el) => el.scrollTop)) < 400) throw new Error('after loading earlier messages the view jumped to the top');
    for (const p of [alice, bob]) await nothingTwice(p);
  });

  await step('reactions: alice picks 👍 from the picker by keyboard, bob sees it live and adds his', async () => {
    await box(B).fill('Reactions, anyone?');
    await box(B).press('Enter');
    const onA = A.locator('.msg.theirs', { hasText: 'Reactions, anyone?' });
    const onB = B.locator('.msg.own', { hasText: 'Reactions, anyone?' });
    await onA.waitFor();
    await onA.hover();
    await onA.getByRole('button', { name: 'Add reaction' }).click();
    const picker = A.locator('dialog[open].emoji-picker');
    await picker.waitFor();
    if ((await focused(A))?.name !== 'thumbs up') throw new Error(`the picker did not take focus: ${JSON.stringify(await focused(A))}`);
    if (await picker.evaluate((d) => !d.matches(':modal'))) throw new Error('the emoji picker is not modal');
    await a11yAudit(A, 'the emoji picker');
    await A.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });
    if ((await focused(A))?.name !== 'Add reaction') throw new Error(`Esc did not give focus back to “Add reaction”: ${JSON.stringify(await focused(A))}`);
    // Again from the keyboard: the arrow keys move through the grid, Enter picks.
    await A.keyboard.press('Enter');
    await picker.waitFor();
    for (const [key, name] of [['ArrowRight', 'thumbs down'], ['ArrowDown', 'party'], ['ArrowUp', 'thumbs down'], ['ArrowLeft', 'thumbs up']]) {
      await A.keyboard.press(key);
      if ((await focused(A))?.name !== name) throw new Error(`${key} in the picker went to ${JSON.stringify(await focused(A))}, not ${name}`);
    }
    await A.keyboard.press('Enter');
    await picker.waitFor({ state: 'detached' });
    await onA.locator('.reaction[aria-pressed="true"]', { hasText: '👍' }).locator('.reaction-count', { hasText: '1' }).waitFor();
    // Bob sees it without reloading: not pressed (not his), named by how many reacted.
    const chip = onB.locator('.reaction', { hasText: '👍' });
    await chip.locator('.reaction-count', { hasText: '1' }).waitFor();
    if ((await chip.getAttribute('aria-pressed')) !== 'false') throw new Error('bob’s chip is pressed before he reacted');
    if (!/^1 person reacted with 👍/.test(await chip.getAttribute('aria-label'))) throw new Error(`chip name: ${await chip.getAttribute('aria-label')}`);
    await chip.click();
    await onB.locator('.reaction[aria-pressed="true"]', { hasText: '👍' }).locator('.reaction-count', { hasText: '2' }).waitFor();
    await onA.locator('.reaction[aria-pressed="true"]', { hasText: '👍' }).locator('.reaction-count', { hasText: '2' }).waitFor();
    if (!alice.frames.some((f) => f.type === 'reaction.updated' && f.event.emoji === '👍' && f.event.count === 2)) throw new Error('alice got no reaction.updated event');
    // Resting on the chip names who reacted.
    await chip.hover();
    await B.waitForFunction((el) => /^Alice Liddell and you reacted with 👍/.test(el.title), await chip.elementHandle());
    // Right click (a long press on touch) lists them.
    await chip.click({ button: 'right' });
    const who = B.getByRole('dialog', { name: 'Reactions 👍' });
    await who.locator('.person-row', { hasText: 'Alice Liddell' }).waitFor();
    await who.locator('.person-row', { hasText: 'Bob Builder (you)' }).waitFor();
    await B.keyboard.press('Escape');
    await who.waitFor({ state: 'detached' });
    await B.waitForTimeout(150);
    await shot(B, '15-reactions.png');
  });

  await step('pins: alice pins a message; bob sees it in the pinned list and jumps to it (loaded around it)', async () => {
    const target = A.locator('.msg.own', { hasText: 'Are you there?' });
    await target.hover();
    await target.getByRole('button', { name: 'Pin message' }).click();
    await target.locator('.pinned-mark').waitFor();
    await A.locator('.pins-toggle', { hasText: '1 pinned message' }).waitFor();
    const toggle = B.locator('.pins-toggle', { hasText: '1 pinned message' });
    await toggle.waitFor();
    if (await B.locator('.msg', { hasText: 'Are you there?' }).count()) throw new Error('the pinned message was loaded for bob already (the test wants a jump into history)');
    await toggle.click();
    const panel = B.getByRole('region', { name: 'Pinned messages' });
    await panel.waitFor();
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') throw new Error('the pins button does not say the list is open');
    await a11yAudit(B, 'the pinned messages list');
    await B.waitForTimeout(100);
    await shot(B, '16-pins.png');
    await panel.getByRole('button', { name: /Are you there\?/ }).click();
    await panel.waitFor({ state: 'hidden' });
    const shown = B.locator('.msg.theirs', { hasText: 'Are you there?' });
    await shown.waitFor();
    await B.waitForFunction(() => document.activeElement?.matches('.msg') && document.activeElement.textContent.includes('Are you there?'));
    const [box1, list] = await Promise.all([shown.boundingBox(), B.locator('.messages').boundingBox()]);
    if (!(box1.y >= list.y && box1.y + box1.height <= list.y + list.height)) throw new Error('the pinned message is not in view after the jump');
    if (!bob.requests.some((u) => /\/messages\?around=\d+/.test(u))) throw new Error('the jump did not load the history around the message');
    const gap = B.locator('.gap button', { hasText: 'not loaded' });
    // Thread replies take seqs too, so the seqs between say only how many there can be at most (this chat has none).
    const missing = Number((await gap.textContent()).match(/\(up to (\d+) not loaded/)[1]);
    await gap.click();
    await B.locator('.gap button', { hasText: `(up to ${missing - 100} not loaded)` }).waitFor();
    // Esc in the list closes it and gives focus back to its button.
    await toggle.click();
    await panel.waitFor();
    await B.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    if (!(await toggle.evaluate((el) => el === document.activeElement))) throw new Error('Esc did not return focus to the pins button');
    // A phone-wide window: the bar, the chips and the list fit.
    await B.setViewportSize({ width: 360, height: 740 });
    await noSidewaysOverflow(B, '360 px: pins and reactions');
    await B.setViewportSize({ width: 1280, height: 800 });
  });

  await step('mentions: bob writes @alice in the group; she sees it highlighted and in her Mentions list', async () => {
    await chatRow(B, 'Weekend plans').click();
    await B.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await box(B).pressSequentially('@al');
    const suggest = B.getByRole('listbox', { name: 'People to mention' });
    await suggest.getByRole('option', { name: /Alice Liddell/ }).waitFor();
    await suggest.getByRole('option', { name: /Everyone in the group/ }).waitFor();
    await box(B).press('Enter');
    if ((await box(B).inputValue()) !== '@alice ') throw new Error(`picking a mention gave “${await box(B).inputValue()}”`);
    await box(B).pressSequentially('can you bring the chairs?');
    await box(B).press('Enter');
    await B.locator('.msg.own', { hasText: 'bring the chairs' }).waitFor();
    const link = A.getByRole('link', { name: 'Mentions, 1 unread' });
    await link.waitFor();
    await link.click();
    const item = A.locator('.mention-row', { hasText: 'bring the chairs' });
    await item.locator('.mention-chat', { hasText: 'Weekend plans' }).waitFor();
    await a11yAudit(A, 'the mentions list');
    await shot(A, '17-mentions.png');
    await item.click();
    const msg = A.locator('.msg.theirs.mentioned', { hasText: 'bring the chairs' });
    await msg.locator('.mention.self', { hasText: '@alice' }).waitFor();
    await A.waitForFunction(() => document.activeElement?.matches('.msg.mentioned'));
  });

  await step('search: case and accents ignored, CJK parts of words, filters, No results, more pages; a result opens its chat on the message', async () => {
    // A message in Japanese in the group (no spaces: found by a part of a word).
    await box(A).fill('東京タワーに行く');
    await box(A).press('Enter');
    await A.locator('.msg.own', { hasText: '東京タワーに行く' }).locator('[data-receipt]').waitFor();
    // Ctrl+K opens the search from the composer; the chat it came from is offered as a filter, not applied.
    await box(A).press('Control+k');
    const field = A.getByRole('searchbox', { name: 'Search messages' });
    await field.waitFor();
    if (!(await field.evaluate((el) => el === document.activeElement))) throw new Error('the search field did not take focus');
    const onlyGroup = A.getByRole('checkbox', { name: 'Only in Weekend plans' });
    if (await onlyGroup.isChecked()) throw new Error('the chat filter is on without being asked for');
    const status = A.locator('.search-status');
    const rows = A.locator('.search-results a.result-row');
    const markOf = (row) => row.locator('.snippet mark').allTextContents();

    // “cafe” finds “Café” (an early message in the direct chat, hundreds of messages up), marked.
    await field.pressSequentially('cafe', { delay: 30 });
    const hit = rows.filter({ hasText: 'meeting is at ten' });
    await hit.waitFor();
    await status.filter({ hasText: /^1 result$/ }).waitFor();
    if (JSON.stringify(await markOf(hit)) !== '["Café"]') throw new Error(`marked in the snippet: ${await markOf(hit)}`);
    if ((await hit.locator('.result-chat').textContent()) !== 'Bob Builder') throw new Error('a direct chat’s result is not named after the other person');
    if (!/^You: /.test(await hit.locator('.result-text').textContent())) throw new Error('the result does not say who wrote it');
    if (!/^You to Bob Builder, .+: Second of two: the Café meeting is at ten$/.test(await hit.getAttribute('aria-label'))) throw new Error(`result name: ${await hit.getAttribute('aria-label')}`);
    await a11yAudit(A, 'message search');
    // Down from the field reaches the result; Enter opens the chat on that message, focused and in view.
    await field.press('ArrowDown');
    if (!(await hit.evaluate((el) => el === document.activeElement))) throw new Error('Down from the search field did not reach the first result');
    await A.keyboard.press('Enter');
    await A.locator('.chat-title', { hasText: 'Bob Builder' }).waitFor();
    await A.waitForFunction(() => document.activeElement?.matches('.msg') && document.activeElement.textContent.includes('Café meeting'));
    const [shown, list] = await Promise.all([A.locator('.msg', { hasText: 'Café meeting' }).boundingBox(), A.locator('.messages').boundingBox()]);
    if (!(shown.y >= list.y && shown.y + shown.height <= list.y + list.height)) throw new Error('the chosen message is not in view');
    // Back: the same results again (not fetched), focus on the one chosen.
    const asked = alice.requests.filter((u) => u.includes('/search/messages')).length;
    await A.goBack();
    await A.waitForFunction(() => document.activeElement?.matches('a.result-row') && document.activeElement.textContent.includes('Café'));
    if (alice.requests.filter((u) => u.includes('/search/messages')).length !== asked) throw new Error('coming back fetched the results again');
    await A.mouse.move(0, 0);
    await A.locator('.toast').first().waitFor({ state: 'detached' }); // one from an earlier step, out of the picture
    await shot(A, '19-search.png');

    // Esc from a result goes back to the field. The same message found by other words marks those.
    await A.keyboard.press('Escape');
    if (!(await field.evaluate((el) => el === document.activeElement))) throw new Error('Esc in the results did not go back to the field');
    await field.fill('ten MEETING');
    await A.waitForFunction(() => [...document.querySelectorAll('.search-results .snippet mark')].map((m) => m.textContent).join() === 'meeting,ten');
    // A part of a word in Japanese, marked.
    await field.fill('タワー');
    const tower = rows.filter({ hasText: '東京' });
    await tower.locator('.result-chat', { hasText: 'Weekend plans' }).waitFor();
    if (JSON.stringify(await markOf(tower)) !== '["タワー"]') throw new Error(`marked in the snippet: ${await markOf(tower)}`);
    if ((await tower.locator('.result-who').textContent()) !== 'You: ') throw new Error('a group result does not say who wrote it');
    // Filters: only this chat (the Café message is in another), with links / with files.
    await onlyGroup.check();
    await field.fill('cafe');
    await status.filter({ hasText: 'No results with these filters' }).waitFor();
    await onlyGroup.uncheck();
    await field.fill('balcony');
    const balcony = rows.filter({ hasText: 'The view from the' });
    await balcony.locator('.result-files', { hasText: 'sunset.png' }).waitFor();
    await A.getByRole('button', { name: 'With links' }).click();
    await status.filter({ hasText: 'No results with these filters' }).waitFor();
    await A.getByRole('button', { name: 'With files' }).click();
    await balcony.waitFor();
    if ((await A.getByRole('button', { name: 'With links' }).getAttribute('aria-pressed')) !== 'false') throw new Error('both “has” filters are on');
    await A.getByRole('button', { name: 'With files' }).click();
    // Nothing found, and a query the server refuses (only a word to leave out): both said plainly.
    await field.fill('zebraxylophone');
    await status.filter({ hasText: /^No results$/ }).waitFor();
    await field.fill('-cake');
    await A.locator('.search-error[role=alert]', { hasText: 'Type a word to look for' }).waitFor();
    if (await rows.count()) throw new Error('results show under a refused query');
    // Many results: whole words, newest first, 20 at a time; “Show more results” brings the next page and focus moves to it.
    await field.fill('burst');
    await status.filter({ hasText: '20 results, more below' }).waitFor();
    if (!(await rows.first().textContent()).includes('Burst the last')) throw new Error('the newest match is not first');
    await A.getByRole('button', { name: 'Show more results' }).click();
    await status.filter({ hasText: '40 results' }).waitFor();
    if ((await focused(A))?.name !== (await rows.nth(20).getAttribute('aria-label'))) throw new Error('focus did not move to the first of the new results');
    await A.keyboard.press('End');
    if (!(await rows.last().evaluate((el) => el === document.activeElement))) throw new Error('End did not go to the last result');
    await A.setViewportSize({ width: 360, height: 740 });
    await noSidewaysOverflow(A, '360 px: search');
    await A.setViewportSize({ width: 1280, height: 800 });
    // Esc: from a result to the field, from the field back to the chat the search was opened from.
    await A.keyboard.press('Escape');
    await A.keyboard.press('Escape');
    await A.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await field.waitFor({ state: 'detached' });
  });

  await step('avatars: alice sets a photo in settings; bob sees it after the user.updated event', async () => {
    await A.getByRole('link', { name: 'Settings' }).click();
    const card = A.locator('.me-card');
    const input = card.locator('input[type=file]');
    await card.getByRole('button', { name: 'Change photo' }).waitFor();
    await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture') });
    await A.locator('.toast.error', { hasText: 'not an image' }).waitFor();
    await input.setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: makePng(96, 96) });
    await card.getByRole('button', { name: 'Remove photo' }).waitFor();
    await A.waitForFunction(() => {
      const img = document.querySelector('.me-card .avatar-img');
      return img?.complete && img.naturalWidth > 0;
    });
    const rowImg = chatRow(B, 'Alice Liddell').locator('img.avatar-img');
    await rowImg.waitFor();
    await B.waitForFunction((el) => el.complete && el.naturalWidth > 0, await rowImg.elementHandle());
    if (!bob.frames.some((f) => f.type === 'user.updated')) throw new Error('bob got no user.updated event');
    await B.locator('.msg.theirs .avatar-btn img.avatar-img').first().waitFor();
    await a11yAudit(A, 'settings with a photo');
    await a11yAudit(B, 'a group chat with photos');
    await B.mouse.move(0, 0);
    await B.waitForTimeout(150);
    await shot(B, '18-avatars.png');
  });

  await step('group rules and photo: alice lets only admins pin (bob loses “Pin message”) and sets a group photo', async () => {
    const pinAction = (page) => page.locator('.msg-actions [aria-label="Pin message"], .msg-actions [aria-label="Unpin message"]');
    await B.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await pinAction(B).first().waitFor({ state: 'attached' });
    await chatRow(A, 'Weekend plans').click();
    await A.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await A.getByRole('button', { name: 'Chat info' }).first().click();
    const drawer = A.locator('.drawer');
    await drawer.getByLabel('Who can mention @all and @here').waitFor();
    await drawer.getByLabel('Who can pin messages').selectOption('admins');
    await A.locator('.toast', { hasText: /^Saved$/ }).waitFor();
    await B.waitForFunction(() => !document.querySelector('.msg-actions [aria-label="Pin message"], .msg-actions [aria-label="Unpin message"]'));
    if (!(await pinAction(A).count())) throw new Error('the owner lost the pin action');
    await drawer.locator('input[type=file]').setInputFiles({ name: 'group.png', mimeType: 'image/png', buffer: makePng(64, 64) });
    await drawer.getByRole('button', { name: 'Remove group photo' }).waitFor();
    const img = chatRow(B, 'Weekend plans').locator('img.avatar-img');
    await img.waitFor();
    await B.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    await a11yAudit(A, 'group info with rules and a photo');
    await A.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
  });

  // Threads, in the group: a root of alice's, replies from both in the panel beside the chat.
  const root = 'Who brings the plates?';
  const rootOnA = () => A.locator('.msg.own', { hasText: root });
  const panelOf = (page) => page.getByRole('complementary', { name: 'Thread' });
  const threadBox = (page) => page.getByLabel('Thread reply', { exact: true });
  const threadsLink = (page, name) => page.getByRole('link', { name, exact: true });
  const inTimeline = (page, text) => page.locator('.items .msg', { hasText: text }).count();

  await step('threads: bob replies in a thread on alice’s message; she sees “1 reply” and a Threads badge live', async () => {
    await box(A).fill(root);
    await box(A).press('Enter');
    await rootOnA().locator('[data-receipt]').waitFor();
    const onB = B.locator('.msg.theirs', { hasText: root });
    await onB.hover();
    await onB.getByRole('button', { name: 'Reply in thread' }).click();
    const panel = panelOf(B);
    await panel.locator('.tmsg.root', { hasText: root }).waitFor();
    if ((await focused(B))?.name !== 'Thread reply') throw new Error(`opening a thread did not focus its composer: ${JSON.stringify(await focused(B))}`);
    await threadBox(B).fill('I do, paper ones');
    await threadBox(B).press('Enter');
    await panel.locator('.tmsg', { hasText: 'I do, paper ones' }).locator('.tmsg-name', { hasText: 'You' }).waitFor();
    // Alice: the summary under her message and the badge, without reloading; the reply is not in her timeline.
    await rootOnA().locator('.thread-summary', { hasText: '1 reply' }).waitFor();
    await threadsLink(A, 'Threads, 1 unread').waitFor();
    if (!alice.frames.some((f) => f.type === 'message.created' && f.event.message.thread_root_id && f.event.message.content === 'I do, paper ones')) throw new Error('alice got no message.created for the reply');
    if (!alice.frames.some((f) => f.type === 'thread.updated' && f.event.thread.reply_count === 1)) throw new Error('alice got no thread.updated');
    for (const page of [A, B]) if (await inTimeline(page, 'I do, paper ones')) throw new Error('a thread-only reply shows in the timeline');
  });

  await step('threads: alice opens the panel from the keyboard (the badge clears) and replies; bob sees it live in his open panel', async () => {
    const summary = rootOnA().locator('.thread-summary');
    await summary.focus();
    await A.keyboard.press('Enter');
    const panel = panelOf(A);
    await panel.locator('.tmsg', { hasText: 'I do, paper ones' }).waitFor();
    if ((await focused(A))?.name !== 'Thread reply') throw new Error('opening the thread did not focus its composer');
    await threadsLink(A, 'Threads').waitFor(); // read: thread/read with its newest reply's seq
    if (!alice.requests.some((u) => /\/messages\/[^/]+\/thread\/read$/.test(u))) throw new Error('opening the thread did not mark it read');
    await a11yAudit(A, 'the thread panel');
    // Shift+Enter breaks the line, Enter sends.
    await threadBox(A).fill('Great, I bring cups');
    await threadBox(A).press('Shift+Enter');
    await threadBox(A).pressSequentially('and napkins');
    await A.waitForTimeout(100);
    if (await panel.locator('.tmsg', { hasText: 'Great, I bring cups' }).count()) throw new Error('Shift+Enter sent the reply');
    await threadBox(A).press('Enter');
    await panel.locator('.tmsg.own', { hasText: 'and napkins' }).waitFor();
    if ((await threadBox(A).inputValue()) !== '') throw new Error('the thread composer is not empty after Enter sent');
    const onB = panelOf(B).locator('.tmsg', { hasText: 'Great, I bring cups' });
    await onB.locator('.tmsg-name', { hasText: 'Alice Liddell' }).waitFor();
    await B.locator('.thread-panel .sr-only[role=log]', { hasText: 'Alice Liddell: Great, I bring cups' }).waitFor();
    await rootOnA().locator('.thread-summary', { hasText: '2 replies' }).waitFor();
    // Bob's panel is open: the reply is read there, so no badge for him.
    await B.waitForTimeout(300);
    await threadsLink(B, 'Threads').waitFor();
  });

  await step('threads: “Also send to chat” puts a reply in the timeline too, with a note that opens its thread', async () => {
    await B.getByRole('checkbox', { name: 'Also send to chat' }).check();
    await threadBox(B).fill('Plates are in my car');
    await threadBox(B).press('Enter');
    await panelOf(B).locator('.tmsg', { hasText: 'Plates are in my car' }).locator('.tmsg-also').waitFor();
    if (await B.getByRole('checkbox', { name: 'Also send to chat' }).isChecked()) throw new Error('“Also send to chat” stayed on after sending');
    const inChat = A.locator('.items .msg.theirs', { hasText: 'Plates are in my car' });
    await inChat.locator('.thread-note', { hasText: 'replied to a thread' }).waitFor();
    await panelOf(A).locator('.tmsg', { hasText: 'Plates are in my car' }).waitFor();
    await rootOnA().locator('.thread-summary', { hasText: '3 replies' }).waitFor();
    for (const page of [A, B]) for (const text of ['I do, paper ones', 'and napkins']) if (await inTimeline(page, text)) throw new Error(`“${text}” (thread only) shows in the timeline`);
    await A.mouse.move(0, 0);
    await A.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove())); // earlier steps' toasts, out of the picture
    await A.waitForTimeout(150);
    await shot(A, '20-thread.png');
    // Esc closes the panel, and focus goes back to what opened it (the summary under the root).
    await threadBox(A).focus();
    await A.keyboard.press('Escape');
    await panelOf(A).waitFor({ state: 'hidden' });
    if (!(await A.evaluate(() => document.activeElement?.matches('.thread-summary')))) throw new Error(`Esc did not give focus back to the thread's summary: ${JSON.stringify(await focused(A))}`);
    // The note on the reply in the timeline opens its thread.
    await inChat.locator('.thread-note').click();
    await panelOf(A).locator('.tmsg', { hasText: 'I do, paper ones' }).waitFor();
    await A.keyboard.press('Escape');
    await panelOf(A).waitFor({ state: 'hidden' });
  });

  await step('threads: at 360 px the panel takes the screen and the chat under it is inert; nothing sticks out', async () => {
    await B.setViewportSize({ width: 360, height: 740 });
    const panel = panelOf(B);
    await panel.waitFor();
    const box1 = await panel.boundingBox();
    if (box1.width < 350 || box1.x > 5) throw new Error(`at 360 px the thread panel does not take the screen: ${JSON.stringify(box1)}`);
    if (!(await B.locator('section.chat').evaluate((el) => el.inert))) throw new Error('on a phone the chat under the thread panel stays in the Tab order');
    await noSidewaysOverflow(B, '360 px: thread panel');
    await B.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    if (await B.locator('section.chat').evaluate((el) => el.inert)) throw new Error('the chat stayed inert after the thread panel closed');
    await B.setViewportSize({ width: 1280, height: 800 });
  });

  await step('threads: the Threads page lists the thread; choosing it opens the panel; after unfollowing, replies bring no badge', async () => {
    await threadsLink(A, 'Threads').click();
    await A.getByRole('heading', { name: 'Threads', level: 1 }).waitFor();
    const row = A.locator('a.thread-row', { hasText: root });
    await row.locator('.mention-chat', { hasText: 'Weekend plans' }).waitFor();
    await row.locator('.thread-row-count', { hasText: '3 replies' }).waitFor();
    await a11yAudit(A, 'the Threads page');
    await row.click();
    const panel = panelOf(A);
    await panel.locator('.tmsg', { hasText: 'Plates are in my car' }).waitFor();
    await A.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await panel.getByRole('button', { name: 'Unfollow thread' }).click();
    await panel.getByRole('button', { name: 'Follow thread' }).waitFor();
    await A.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    // Bob replies again (his panel from the thread's summary): alice sees the count, and no badge.
    await B.locator('.msg.theirs', { hasText: root }).locator('.thread-summary').click();
    await threadBox(B).fill('Anyone still there?');
    await threadBox(B).press('Enter');
    await rootOnA().locator('.thread-summary', { hasText: '4 replies' }).waitFor();
    await A.waitForTimeout(500);
    if (await threadsLink(A, 'Threads').count() !== 1) throw new Error(`after unfollowing, a reply still counts: ${await A.locator('a[href="#/threads"]').getAttribute('aria-label')}`);
    if (await rootOnA().locator('.thread-summary.unread').count()) throw new Error('an unfollowed thread shows unread replies');
    await B.keyboard.press('Escape');
    for (const p of [alice, bob]) await nothingTwice(p);
  });

  await step('forward and delete: alice forwards a group message to bob; his copy says where it came from and opens it; she deletes the original', async () => {
    const text = 'Forward me to Bob';
    await box(A).fill(text);
    await box(A).press('Enter');
    const original = A.locator('.msg.own', { hasText: text });
    await original.locator('[data-receipt]').waitFor();
    await original.hover();
    await original.getByRole('button', { name: 'Forward' }).click();
    const dlg = A.getByRole('dialog', { name: 'Forward message' });
    await dlg.waitFor();
    await A.keyboard.type('bob');
    await dlg.locator('label', { hasText: 'Bob Builder' }).locator('input').check();
    await a11yAudit(A, 'the forward dialog');
    await dlg.getByRole('button', { name: 'Forward' }).click();
    await A.locator('.toast', { hasText: 'Forwarded to Bob Builder' }).waitFor();
    await dlg.waitFor({ state: 'detached' });
    // Bob: the copy in the direct chat names where it came from, and opens the original there.
    await chatRow(B, 'Alice Liddell').click();
    const note = B.locator('.msg.theirs', { hasText: text }).getByRole('button', { name: /^Forwarded from Alice Liddell, in Weekend plans/ });
    await note.click();
    await B.locator('.chat-title', { hasText: 'Weekend plans' }).waitFor();
    await B.waitForFunction((t) => document.activeElement?.matches('.msg') && document.activeElement.textContent.includes(t), text);
    // Alice deletes her original: bob, who has it open, sees it go.
    await original.hover();
    await original.getByRole('button', { name: 'Delete' }).click();
    await A.getByRole('dialog', { name: 'Delete message' }).getByRole('button', { name: 'Delete' }).click();
    await original.waitFor({ state: 'detached' });
    await A.locator('.msg.deleted', { hasText: 'This message was deleted' }).waitFor();
    await B.locator('.msg.deleted', { hasText: 'This message was deleted' }).waitFor();
  });

  await step('roles and my chat settings: alice makes bob an admin (he may pin again); bob mutes and pins the group', async () => {
    await A.getByRole('button', { name: 'Chat info' }).first().click();
    const drawer = A.locator('.drawer');
    await drawer.getByLabel('Role of Bob Builder').selectOption('admin');
    await A.locator('.toast', { hasText: 'Role changed' }).waitFor();
    await B.locator('.msg-actions [aria-label="Pin message"]').first().waitFor({ state: 'attached' });
    await A.keyboard.press('Escape');
    await B.getByRole('button', { name: 'Chat info' }).first().click();
    const mine = B.locator('.drawer');
    await mine.locator('.person-row', { hasText: 'Bob Builder (you)' }).locator('.role-admin').waitFor();
    await mine.getByLabel('Mute notifications').selectOption('8h');
    await mine.getByLabel('Pin to the top of my list').check();
    const row = chatRow(B, 'Weekend plans');
    await row.locator('.mark[title="Muted"]').waitFor();
    await row.locator('.mark[title="Pinned"]').waitFor();
    if (!/pinned, muted$/.test(await row.getAttribute('aria-label'))) throw new Error(`the row does not say pinned and muted: ${await row.getAttribute('aria-label')}`);
    if ((await B.locator('a.chat-row').first().getAttribute('href')) !== (await row.getAttribute('href'))) throw new Error('the pinned chat is not first in the list');
    await B.keyboard.press('Escape');
  });

  await step('accounts: carol resets her forgotten password from the emailed link and logs in without “remember me”', async () => {
    const r = await fetch(`${base}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', email: 'carol@example.com', password: PASSWORD }) });
    if (!r.ok) throw new Error(`register carol: ${r.status}`);
    const carol = await newPerson(base, 'carol');
    const C = carol.page;
    await C.getByRole('link', { name: 'Forgot your password?' }).click();
    await C.getByLabel('Email').fill('carol@example.com');
    await C.getByRole('button', { name: 'Send the link' }).click();
    await C.locator('.notice', { hasText: 'a link is on its way' }).waitFor();
    // Without SMTP the mail lands in the outbox (quoted-printable).
    // The server sends it off the request (its timing must not tell whether the
    // address exists), so it may land a moment after the notice.
    const outbox = join(dataDir, 'outbox');
    let mail;
    for (let i = 0; i < 100 && !mail; i++) {
      if (i > 0) await new Promise((done) => setTimeout(done, 100));
      mail = existsSync(outbox) ? readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8')).find((m) => m.includes('To: carol@example.com')) : undefined;
    }
    const link = mail?.replace(/=\r?\n/g, '').replace(/=3D/g, '=').match(/http\S+#\/reset-password\?token=\S+/)?.[0];
    if (!link) throw new Error('no reset link in the outbox');
    await C.goto(link);
    const fresh = `${PASSWORD} again`;
    await C.getByLabel('New password').fill(fresh);
    await C.getByLabel('Repeat it').fill(fresh);
    await C.getByRole('button', { name: 'Set password' }).click();
    await C.locator('.notice', { hasText: 'Your password is changed' }).waitFor();
    await C.getByLabel('Username or email').fill('carol');
    await C.getByLabel('Password').fill(fresh);
    await C.getByLabel('Remember me on this device').uncheck();
    await C.getByRole('button', { name: 'Log in' }).click();
    await C.locator('.sidebar').waitFor();
    const kept = await C.evaluate(() => [!!sessionStorage.getItem('blockchat.session'), !!localStorage.getItem('blockchat.session')]);
    if (kept[0] !== true || kept[1] !== false) throw new Error(`without “remember me” the session belongs in sessionStorage only: ${kept}`);
    await C.reload();
    await C.locator('.sidebar').waitFor();
    await carol.context.close();
  });

  await step('the sessions list shows both of alice’s devices', async () => {
    await A.getByRole('link', { name: 'Settings' }).click();
    await A.locator('.session').nth(1).waitFor();
    await A.locator('.session', { hasText: 'this device' }).waitFor();
  });

  await step('a session ended elsewhere logs that device out (its socket closes with 4401)', async () => {
    const laptop = await newPerson(base, 'alice-laptop');
    await laptop.page.getByLabel('Username or email').fill('alice');
    await laptop.page.getByLabel('Password').fill(PASSWORD);
    await laptop.page.getByRole('button', { name: 'Log in' }).click();
    await chatRow(laptop.page, 'Weekend plans').waitFor();
    await A.getByRole('link', { name: /People/ }).click();
    await A.getByRole('link', { name: 'Settings' }).click();
    await A.locator('.session').nth(2).waitFor();
    await A.getByRole('button', { name: 'Log out other devices' }).click();
    await A.locator('.toast', { hasText: 'Logged out' }).waitFor();
    // Idle, the laptop makes no HTTP calls: the socket's heartbeat (every 20 s) finds the session gone.
    await laptop.page.getByRole('heading', { name: 'Log in' }).waitFor({ timeout: 30_000 });
    await laptop.context.close();
  });

  if (errors.length) throw new Error(`the browser reported errors:\n  ${errors.join('\n  ')}`);
}

const deadline = setTimeout(() => {
  console.error('\nFAILED: the run took longer than 2 minutes');
  cleanup().then(() => process.exit(1));
}, 120_000);

async function cleanup() {
  await browser?.close().catch(() => {});
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

try {
  await main();
  console.log(`\nPASSED: screenshots in ${SHOTS}`);
  await cleanup();
  clearTimeout(deadline);
} catch (e) {
  console.error(`\nFAILED: ${e.message}`);
  for (const ctx of browser?.contexts() || []) {
    for (const [i, p] of ctx.pages().entries()) await p.screenshot({ path: join(SHOTS, `failure-${i}-${Date.now()}.png`) }).catch(() => {});
  }
  await cleanup();
  clearTimeout(deadline);
  process.exit(1);
}
