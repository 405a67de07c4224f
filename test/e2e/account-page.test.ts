/**
 * The account page (`/account`) in a real browser (Debian chromium via playwright-core) in front
 * of the test-bed Gitea and the real gitea-mcp child: alice signs in through the forge, sees her
 * two connected clients, disconnects one (its next call gets 401 and its open SSE stream closes,
 * while the other keeps working), creates a personal access token that a script uses for
 * `tools/call` as alice, and revokes it (401 at the script's next call). Also: the page's own
 * __Host- cookie, CSRF on the forms. Screenshots: test-artifacts/account-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runAdmin } from '../../src/cli/admin.js';
import { PAT_CLIENT_ID } from '../../src/store/personal-tokens.js';
import { authorizeUrl, pkcePair, registerTestClient, type ManualClient } from '../support/broker-consent.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { artifactPath, launchChromium } from '../support/chromium.js';
import { rawSession, signInWithClient, type RawSession } from '../support/raw-mcp.js';
import { sharedTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed;
let broker: TestBroker;
let browser: Browser;
let laptop: ManualClient;
let desktop: ManualClient;

beforeAll(async () => {
  tb = sharedTestbed();
  broker = await startBroker({ testbed: tb });
  laptop = await registerTestClient(broker.url, ['http://127.0.0.1:53997/cb'], { client_name: 'Laptop Assistant' });
  desktop = await registerTestClient(broker.url, ['http://127.0.0.1:53996/cb'], { client_name: 'Desktop Assistant' });
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await broker?.stop();
});

const within = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms));

async function works(s: RawSession): Promise<boolean> {
  const r = await s.call('tools/list');
  return r.status === 200 && r.text.includes('"tools"');
}

/** Signs alice in on the account page through Gitea; resolves on the signed-in page. */
async function signInOnAccountPage(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${broker.url}/account`);
  await page.screenshot({ path: artifactPath('account-1-sign-in.png'), fullPage: true });
  await page.getByRole('link', { name: /Sign in with/ }).click();
  await page.locator('input[name="user_name"]').fill(tb.users.alice.login);
  await page.locator('input[name="password"]').fill(tb.users.alice.password);
  await page.locator('form.ui.form button.primary, form button[type="submit"]').first().click();
  // Gitea asks again only when alice has not granted the broker's application yet.
  const grant = page.locator('button[name="granted"][value="true"]');
  const landed = page.waitForURL(`${broker.url}/account`);
  if ((await Promise.race([landed.then(() => 'account'), grant.waitFor().then(() => 'grant')])) === 'grant') await grant.click();
  await landed;
  await expect.poll(() => page.getByRole('heading', { name: 'Your AI connections' }).isVisible()).toBe(true);
  return page;
}

describe('account page', () => {
  it('alice signs in with a __Host- session cookie, sees both clients, disconnects one: its call gets 401 and its SSE stream closes, the other keeps working', async () => {
    const a = await signInWithClient(tb, broker.url, laptop, 'alice');
    const b = await signInWithClient(tb, broker.url, desktop, 'alice');
    const [sa, sb] = await Promise.all([rawSession(broker.mcpUrl, a.accessToken), rawSession(broker.mcpUrl, b.accessToken)]);
    expect(await works(sa)).toBe(true);
    expect(await works(sb)).toBe(true);
    expect((await sb.call('tools/call', { name: 'user__get_my_userinfo', arguments: {} })).status).toBe(200);
    const [streamA, streamB] = await Promise.all([sa.openStream(), sb.openStream()]);
    expect([streamA.status, streamB.status]).toEqual([200, 200]);

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await signInOnAccountPage(ctx);
      const cookie = (await ctx.cookies(broker.url)).find((c) => c.name === '__Host-fjmcp-account');
      expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
      expect(cookie!.expires * 1000 - Date.now()).toBeLessThanOrEqual(15 * 60_000 + 5_000);
      const rowA = page.locator(`tr[data-client-id="${laptop.clientId}"]`);
      const rowB = page.locator(`tr[data-client-id="${desktop.clientId}"]`);
      await expect.poll(() => rowA.isVisible()).toBe(true);
      await expect.poll(() => rowB.isVisible()).toBe(true);
      expect(await rowA.textContent()).toContain('Laptop Assistant');
      expect(await rowA.textContent()).toContain('unverified name');
      expect(await rowA.textContent()).toContain('127.0.0.1:53997');
      expect(await rowB.locator('td').nth(4).textContent()).toContain('user__get_my_userinfo'); // last tool call
      expect(await rowA.locator('td').nth(5).textContent()).toBe('1'); // open sessions
      await page.screenshot({ path: artifactPath('account-2-connections.png'), fullPage: true });

      const t0 = Date.now();
      await rowA.getByRole('button', { name: 'Disconnect Laptop Assistant' }).click();
      await expect.poll(() => page.getByRole('status').textContent()).toContain('Disconnected');
      const ended = await Promise.race([streamA.ended, within(5_000)]);
      expect(ended).not.toBe('timeout');
      expect((ended as number) - t0).toBeLessThan(5_000);
      expect((await sa.call('tools/list')).status).toBe(401);
      expect(await page.locator(`tr[data-client-id="${laptop.clientId}"]`).count()).toBe(0);
      expect(await page.locator(`tr[data-client-id="${desktop.clientId}"]`).isVisible()).toBe(true);
      await page.screenshot({ path: artifactPath('account-3-disconnected.png'), fullPage: true });
      expect(await Promise.race([streamB.ended, within(1_500)])).toBe('timeout');
      expect(await works(sb)).toBe(true);
    } finally {
      await ctx.close();
    }
  }, 120_000);

  it('refuses a form without the session\'s CSRF token, and one posted from another origin (403, nothing changed)', async () => {
    const b = await signInWithClient(tb, broker.url, desktop, 'alice');
    const s = await rawSession(broker.mcpUrl, b.accessToken);
    const ctx = await browser.newContext();
    try {
      await signInOnAccountPage(ctx);
      const cookie = (await ctx.cookies(broker.url)).find((c) => c.name === '__Host-fjmcp-account')!;
      const post = (body: string, origin?: string) =>
        fetch(`${broker.url}/account/revoke-all`, {
          method: 'POST',
          headers: { cookie: `${cookie.name}=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
          body,
          redirect: 'manual',
        });
      const noCsrf = await post('');
      expect(noCsrf.status).toBe(403);
      expect(await noCsrf.text()).toContain('nothing was changed');
      expect((await post('csrf=wrong')).status).toBe(403);
      const page = await ctx.newPage();
      await page.goto(`${broker.url}/account`);
      const csrf = await page.locator('form[action="/account/revoke-all"] input[name="csrf"]').getAttribute('value');
      expect((await post(`csrf=${csrf}`, 'https://evil.example')).status).toBe(403);
      expect(await works(s)).toBe(true);
    } finally {
      await ctx.close();
    }
  }, 90_000);

  it('a personal access token made on the page lets a script call tools/call as alice; revoked there, the script\'s next call gets 401', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await signInOnAccountPage(ctx);
      await page.getByLabel('Name').fill('CI script');
      await page.getByLabel('Expires in').selectOption('7');
      await page.getByRole('button', { name: 'Create token' }).click();
      const shown = page.locator('#new-token code.token');
      await expect.poll(() => shown.isVisible()).toBe(true);
      const token = (await shown.textContent())!.trim();
      expect(token).toMatch(/^mcpb_pat_[A-Za-z0-9_-]{40,}$/);
      await page.screenshot({ path: artifactPath('account-4-token-created.png'), fullPage: true });
      // Stored only as a digest: the store holds no copy of it.
      expect(JSON.stringify(await broker.running.ctx.store.personalTokens.list((await broker.running.ctx.store.control.findPerson('alice'))!.personId))).not.toContain(token);

      // The script: only the Authorization header, never the query string.
      expect((await fetch(`${broker.mcpUrl}?access_token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })).status).toBe(400);
      const script = await rawSession(broker.mcpUrl, token);
      const me = await script.call('tools/call', { name: 'user__get_my_userinfo', arguments: {} });
      expect(me.status).toBe(200);
      expect(me.text).toMatch(new RegExp(`\\\\"login\\\\": ?\\\\"${tb.users.alice.login}\\\\"`));
      const stream = await script.openStream();

      await page.goto(`${broker.url}/account`);
      const row = page.locator('#tokens tr', { hasText: 'CI script' });
      expect(await row.textContent()).toContain('1'); // its open session
      expect(await page.content()).not.toContain(token); // shown once only
      await row.getByRole('button', { name: 'Revoke CI script' }).click();
      await expect.poll(() => page.getByRole('status').textContent()).toContain('Token revoked');
      expect(await page.locator('#tokens tr', { hasText: 'CI script' }).textContent()).toContain('revoked');
      await page.screenshot({ path: artifactPath('account-5-token-revoked.png'), fullPage: true });
      expect((await script.call('tools/call', { name: 'user__get_my_userinfo', arguments: {} })).status).toBe(401);
      expect(await Promise.race([stream.ended, within(5_000)])).not.toBe('timeout');
    } finally {
      await ctx.close();
    }
  }, 120_000);

  it('admin grants lists a personal access token and admin revoke --grant cuts it: 401 at its next request, its stream closes', async () => {
    const alice = (await broker.running.ctx.store.control.findPerson('alice'))!;
    const pat = await broker.running.ctx.account.createPersonalToken({ ...alice, csrf: '', expiresAt: 0 }, 'nightly job', 30);
    const script = await rawSession(broker.mcpUrl, pat.token);
    expect(await works(script)).toBe(true);
    const stream = await script.openStream();
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => void out.push(t) }, stderr: { write: (t: string) => void out.push(t) } };
    expect(await runAdmin(['grants', '--person', 'alice'], broker.env, io)).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`${pat.id}.*Personal access token`));
    expect(await runAdmin(['revoke', '--grant', pat.id], broker.env, io)).toBe(0);
    expect((await script.call('tools/list')).status).toBe(401);
    expect(await Promise.race([stream.ended, within(5_000)])).not.toBe('timeout');
  }, 60_000);

  it('is linked from / and from the consent page', async () => {
    const home = await fetch(`${broker.url}/`, { headers: { accept: 'text/html' } });
    expect(await home.text()).toContain('href="/account"');
    const consent = await fetch(authorizeUrl(broker.url, laptop, pkcePair().challenge));
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('href="/account"');
    // The built-in client of personal access tokens has no redirect URI: no sign-in can use it.
    const pat = await fetch(authorizeUrl(broker.url, { clientId: PAT_CLIENT_ID, redirectUri: 'http://127.0.0.1/cb' }, pkcePair().challenge));
    expect(pat.status).toBe(400);
    expect(await pat.text()).toContain('redirect_uri is not registered');
  });
});
