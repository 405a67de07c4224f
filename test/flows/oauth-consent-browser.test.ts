/**
 * The broker's consent page in a real browser (Debian chromium via playwright-core): it renders
 * under its strict CSP, the per-transaction __Host- cookie works, approve carries the person
 * through Gitea to the client's loopback redirect (the CSP's form-action allows that chain), deny
 * returns access_denied, and the page refuses to be framed. Screenshots: test-artifacts/consent.png
 * (dynamically registered loopback client) and consent-claude.png (the shipped Claude document).
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { authorizeUrl, pkcePair, registerTestClient, tokenRequest } from '../support/broker-consent.js';
import { artifactPath, launchChromium } from '../support/chromium.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
let browser: Browser;
let clientApp: Server;
let clientUrl = '';
const received: URL[] = [];
/** What the client app's `/frame` page puts in its iframe. */
let frameTarget = 'about:blank';

/** Stand-in for the vendor CDN answering a datacenter fetch with a challenge (cannot be produced offline). */
const standinCdnRefusal: typeof fetch = async () => new Response('Just a moment...', { status: 403 });

beforeAll(async () => {
  clientApp = createServer((req, res) => {
    if (req.url === '/frame') {
      // A real page on a real loopback server (a playwright-fulfilled page would be "public" to
      // chromium's local network access checks, which would block the frame for another reason).
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe src="${frameTarget.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}" width=600 height=400></iframe>`);
      return;
    }
    received.push(new URL(req.url ?? '/', clientUrl));
    res.end('client received the redirect');
  });
  await new Promise<void>((r) => clientApp.listen(0, '127.0.0.1', () => r()));
  clientUrl = `http://127.0.0.1:${(clientApp.address() as { port: number }).port}`;
  broker = await startOAuthBroker({ testbed: tb, cimdFetch: standinCdnRefusal });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await broker?.stop();
  clientApp?.close();
});

describe('consent page in chromium', () => {
  it('approve: consent → Gitea login and grant → broker callback → client loopback redirect with code, state and iss', async () => {
    const client = await registerTestClient(broker.url, [`http://127.0.0.1/cb`], { client_name: 'Inspector (local)' });
    const { verifier, challenge } = pkcePair();
    const ctx = await browser.newContext({ viewport: { width: 820, height: 900 } });
    const page = await ctx.newPage();
    const cspErrors: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    try {
      await page.goto(authorizeUrl(broker.url, client, challenge, { redirect_uri: `${clientUrl}/cb`, state: 'browser-1' }));
      await page.getByRole('button', { name: 'Approve and sign in' }).waitFor();
      await page.screenshot({ path: artifactPath('consent.png'), fullPage: true });
      const cookies = await ctx.cookies(broker.url);
      expect(cookies.some((c) => c.name.startsWith('__Host-fjmcp_tx_') && c.httpOnly && c.secure && c.sameSite === 'Lax')).toBe(true);
      expect(await page.getByText('Full account access.').isVisible()).toBe(true);
      expect(await page.textContent('body')).toContain('only returns to your own computer');

      await page.getByRole('button', { name: 'Approve and sign in' }).click();
      await page.locator('input[name="user_name"]').waitFor();
      await page.locator('input[name="user_name"]').fill(tb.users.carol.login);
      await page.locator('input[name="password"]').fill(tb.users.carol.password);
      await page.locator('form.ui.form button.primary, form button[type="submit"]').first().click();
      const grant = page.locator('button[name="granted"][value="true"]');
      await grant.waitFor();
      await grant.click();
      await page.waitForURL((u) => u.href.startsWith(`${clientUrl}/cb`));
      const landed = received.filter((u) => u.pathname === '/cb').at(-1)!;
      expect(landed.searchParams.get('state')).toBe('browser-1');
      expect(landed.searchParams.get('iss')).toBe(broker.url);
      const t = await tokenRequest(broker.url, { grant_type: 'authorization_code', code: landed.searchParams.get('code')!, code_verifier: verifier, client_id: client.clientId, redirect_uri: `${clientUrl}/cb` });
      expect(t.status).toBe(200);
      // The cookie was single-use: cleared after the callback.
      expect((await ctx.cookies(broker.url)).some((c) => c.name.startsWith('__Host-fjmcp_tx_'))).toBe(false);
      expect(cspErrors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('deny returns access_denied to the client', async () => {
    const client = await registerTestClient(broker.url, [`http://127.0.0.1/cb`]);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    try {
      await page.goto(authorizeUrl(broker.url, client, pkcePair().challenge, { redirect_uri: `${clientUrl}/cb`, state: 'browser-deny' }));
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.waitForURL((u) => u.href.startsWith(`${clientUrl}/cb`));
      const landed = received.filter((u) => u.pathname === '/cb').at(-1)!;
      expect(landed.searchParams.get('error')).toBe('access_denied');
      expect(landed.searchParams.get('state')).toBe('browser-deny');
    } finally {
      await ctx.close();
    }
  });

  it('cannot be framed (frame-ancestors \'none\', X-Frame-Options: DENY)', async () => {
    const client = await registerTestClient(broker.url, [`http://127.0.0.1/cb`]);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    try {
      const target = authorizeUrl(broker.url, client, pkcePair().challenge, { redirect_uri: `${clientUrl}/cb` });
      // The headers that forbid framing, on the very page a framer would load.
      const direct = await fetch(target);
      expect(direct.status).toBe(200);
      expect(direct.headers.get('x-frame-options')).toBe('DENY');
      expect(direct.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      // And chromium enforcing them: it blocks the framed response, and no button renders.
      const refused = page.waitForEvent('requestfailed', { predicate: (r) => r.url() === target, timeout: 10_000 });
      frameTarget = target;
      await page.goto(`${clientUrl}/frame`);
      expect((await refused).failure()?.errorText).toBe('net::ERR_BLOCKED_BY_RESPONSE');
      expect(await page.frameLocator('iframe').getByRole('button', { name: 'Approve and sign in' }).isVisible()).toBe(false);
    } finally {
      await ctx.close();
    }
  });

  it('shows the shipped Claude metadata document as verified, even when claude.ai refuses the fetch', async () => {
    const ctx = await browser.newContext({ viewport: { width: 820, height: 900 } });
    const page = await ctx.newPage();
    try {
      const claude = { clientId: 'https://claude.ai/oauth/mcp-oauth-client-metadata', redirectUri: 'https://claude.ai/api/mcp/auth_callback' };
      await page.goto(authorizeUrl(broker.url, claude, pkcePair().challenge));
      await page.getByRole('button', { name: 'Approve and sign in' }).waitFor();
      const text = (await page.textContent('body')) ?? '';
      expect(text).toContain('verified');
      expect(text).not.toContain('unverified name');
      expect(text).toContain('claude.ai');
      await page.screenshot({ path: artifactPath('consent-claude.png'), fullPage: true });
    } finally {
      await ctx.close();
    }
  });
});
