// run.mjs — the web client end to end: starts the server binary, drives two people in Debian's
// chromium (playwright-core, no browser download), and saves screenshots of the main screens.
//
//   node tests/e2e/run.mjs          (BLOCKCHAT_BIN overrides the server binary)

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const STEP_TIMEOUT = 15_000;

const errors = [];
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

async function startServer() {
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'blockchat-e2e-'));
  server = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log', 'warn'], {
    env: {
      ...process.env,
      BLOCKCHAT_PASSWORD_HASH_MEMORY_KIB: '64',
      BLOCKCHAT_PASSWORD_HASH_ITERATIONS: '1',
      BLOCKCHAT_AUTH_RATE_PER_IP_PER_MINUTE: '100000',
      BLOCKCHAT_AUTH_RATE_PER_ACCOUNT_PER_MINUTE: '100000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  server.on('exit', (code) => code && console.error(`server exited with ${code}`));
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

let stepNo = 0;
async function step(name, fn) {
  stepNo++;
  const started = Date.now();
  process.stdout.write(`${String(stepNo).padStart(2)}. ${name} … `);
  await fn();
  console.log(`ok (${Date.now() - started} ms)`);
}

async function newPerson(base, name, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`${name}: console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) errors.push(`${name}: CSP: ${m.text()}`);
  });
  await page.goto(`${base}/`);
  return { context, page, name };
}

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

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const base = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  const alice = await newPerson(base, 'alice');
  const bob = await newPerson(base, 'bob');
  const A = alice.page;
  const B = bob.page;

  await step('the login screen shows', async () => {
    await A.getByRole('heading', { name: 'Log in' }).waitFor();
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
  });

  await step('the read receipt turns to read for alice', async () => {
    await lastOwn(A).locator('[data-receipt="read"]').waitFor();
  });

  await step('bob replies with a quote, alice sees it live', async () => {
    const msg = B.locator('.msg.theirs').last();
    await msg.hover();
    await msg.getByRole('button', { name: 'Reply' }).click();
    const box = B.getByLabel('Message', { exact: true });
    await box.fill('Hi Alice! <b>raw html</b> stays text. Shift+Enter makes');
    await box.press('Shift+Enter');
    await box.type('a second line');
    await box.press('Enter');
    const got = A.locator('.msg.theirs').last();
    await got.locator('.quote', { hasText: 'Hello Bob' }).waitFor();
    await got.locator('.body', { hasText: 'a second line' }).waitFor();
    await got.locator('.body', { hasText: '<b>raw html</b>' }).waitFor();
    if (await got.locator('.body b').count()) throw new Error('raw HTML in a message was rendered as HTML');
  });

  await step('alice edits her last message with the Up key', async () => {
    const box = A.getByLabel('Message', { exact: true });
    await box.click();
    await box.press('ArrowUp');
    await A.locator('.composer-context', { hasText: 'Editing' }).waitFor();
    await box.fill(`${hello} (edited)`);
    await box.press('Enter');
    await B.locator('.msg.theirs', { hasText: '(edited)' }).locator('.edited').waitFor();
  });

  await step('screens: chat list with the chat view', async () => {
    await A.waitForTimeout(300);
    await shot(A, '02-chat.png');
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
    await shot(B, '03-group-info.png');
    await B.keyboard.press('Escape');
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

  await step('screens: a 375 px phone and the dark theme', async () => {
    const phone = await newPerson(base, 'bob-phone', { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await phone.page.getByLabel('Username or email').fill('bob');
    await phone.page.getByLabel('Password').fill(PASSWORD);
    await phone.page.getByRole('button', { name: 'Log in' }).click();
    await chatRow(phone.page, 'Weekend plans').waitFor();
    await shot(phone.page, '04-phone-list.png');
    await chatRow(phone.page, 'Alice Liddell').click();
    await phone.page.locator('.msg.theirs', { hasText: '(edited)' }).waitFor();
    await phone.page.waitForTimeout(300);
    await shot(phone.page, '05-phone-chat.png');
    await phone.context.close();

    const dark = await newPerson(base, 'alice-dark', { colorScheme: 'dark' });
    await dark.page.getByLabel('Username or email').fill('alice');
    await dark.page.getByLabel('Password').fill(PASSWORD);
    await dark.page.getByRole('button', { name: 'Log in' }).click();
    await chatRow(dark.page, 'Weekend plans').click();
    await dark.page.locator('.msg', { hasText: 'See you Saturday' }).waitFor();
    await dark.page.waitForTimeout(300);
    await shot(dark.page, '06-dark.png');
    await dark.context.close();
  });

  await step('the sessions list shows both of alice’s devices', async () => {
    await A.getByRole('link', { name: 'Settings' }).click();
    await A.locator('.session').nth(1).waitFor();
    await A.locator('.session', { hasText: 'this device' }).waitFor();
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
