/**
 * The same sign-in a person makes, in a real browser (Debian chromium via playwright-core): the
 * broker's consent page, Gitea's login and Gitea's approval, then the MCP client calls a tool as
 * that person. Screenshots of each page are saved in test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { sharedTestbed, type Testbed, type TestbedUser } from '../support/testbed.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { CLIENT_REDIRECT, signedInClient, toolText, type AuthorizeDriver } from '../support/mcp-sign-in.js';
import { artifactPath, launchChromium } from '../support/chromium.js';

let tb: Testbed;
let broker: TestBroker;
let browser: Browser;

beforeAll(async () => {
  tb = sharedTestbed();
  broker = await startBroker({ testbed: tb });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await broker?.stop();
});

/** Plays the person in chromium; resolves with the redirect to the client (intercepted, never loaded). */
function chromiumDriver(shots: string[]): AuthorizeDriver {
  return async (url: URL, user: TestbedUser) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const page = await context.newPage();
    let redirect: URL | undefined;
    await page.route(`${new URL(CLIENT_REDIRECT).origin}/**`, (route) => {
      redirect = new URL(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in; you can close this window' });
    });
    try {
      await page.goto(url.href);
      await page.getByRole('button', { name: /approve|allow/i }).waitFor();
      shots.push(artifactPath('e2e-1-broker-consent.png'));
      await page.screenshot({ path: shots.at(-1)!, fullPage: true });
      await page.getByRole('button', { name: /approve|allow/i }).click();

      await page.locator('input[name="user_name"]').waitFor();
      shots.push(artifactPath('e2e-2-gitea-login.png'));
      await page.screenshot({ path: shots.at(-1)!, fullPage: true });
      await page.locator('input[name="user_name"]').fill(tb.users[user].login);
      await page.locator('input[name="password"]').fill(tb.users[user].password);
      await page.locator('form.ui.form button.primary, form button[type="submit"]').first().click();

      const grant = page.locator('button[name="granted"][value="true"]');
      await grant.waitFor();
      shots.push(artifactPath('e2e-3-gitea-grant.png'));
      await page.screenshot({ path: shots.at(-1)!, fullPage: true });
      await grant.click();
      await page.waitForURL((u) => u.href.startsWith(CLIENT_REDIRECT));
      if (!redirect) throw new Error('the browser never reached the client redirect');
      return redirect;
    } finally {
      await context.close();
    }
  };
}

describe('sign-in in a real browser', () => {
  it('a person approves on the broker consent page and on Gitea in chromium, then the client calls a tool as them', async () => {
    const shots: string[] = [];
    const c = await signedInClient(broker.mcpUrl, 'carol', chromiumDriver(shots));
    try {
      const me = await c.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
      expect(JSON.parse(toolText(me))).toMatchObject({ login: 'carol' });
      expect(shots).toHaveLength(3);
    } finally {
      await c.close();
    }
  });
});
