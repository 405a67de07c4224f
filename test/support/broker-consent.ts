/**
 * @module test/support/broker-consent — drives the broker's own consent page in the headless
 * browser, and a whole sign-in: broker `/authorize` → consent → Gitea login and grant → broker
 * `/oauth/callback` → the client's redirect URI (returned, not fetched).
 */
import { findForm, giteaAuthorize, HeadlessBrowser, type Page } from './headless-browser.js';
import type { Testbed, TestbedUser } from './testbed.js';

/** True when the page is the broker's consent page. */
export function isBrokerConsentPage(page: Page): boolean {
  return page.status === 200 && /<form[^>]+action="\/consent"/.test(page.body);
}

/** Presses Approve or Deny on the broker's consent page; returns the next page (redirects followed while `stopWhen` allows). */
export async function answerBrokerConsent(
  browser: HeadlessBrowser,
  page: Page,
  decision: 'approve' | 'deny',
  stopWhen?: (url: string) => boolean,
): Promise<Page> {
  const form = findForm(page.body, page.url, (f) => new URL(f.action).pathname === '/consent');
  const submitter = form.submitters.find((s) => s.name === 'decision' && s.value === decision);
  if (!submitter) throw new Error(`consent page has no ${decision} button`);
  return browser.submit(form, {}, { submitter, ...(stopWhen ? { stopWhen } : {}) });
}

export interface SignInResult {
  /** The redirect to the client (code or error), not fetched. */
  location: URL;
  consentPage: Page;
  browser: HeadlessBrowser;
}

/**
 * A person signs in through the broker: opens `authorizationUrl`, approves the broker's consent,
 * signs in to Gitea as `user` and approves there, and lands on the client's redirect URI.
 */
export async function signInThroughBroker(
  tb: Testbed,
  brokerUrl: string,
  authorizationUrl: string | URL,
  user: TestbedUser,
  opts: { browser?: HeadlessBrowser; decision?: 'approve' | 'deny' } = {},
): Promise<SignInResult> {
  const browser = opts.browser ?? new HeadlessBrowser();
  const brokerOrigin = new URL(brokerUrl).origin;
  const inKnown = (u: string) => [brokerOrigin, new URL(tb.giteaUrl).origin].includes(new URL(u).origin);
  const first = await browser.follow(String(authorizationUrl), { stopWhen: (u) => !inKnown(u) });
  if (!isBrokerConsentPage(first)) throw new Error(`expected the broker consent page, got ${first.status} ${first.body.slice(0, 300)}`);
  const decision = opts.decision ?? 'approve';
  if (decision === 'deny') {
    const page = await answerBrokerConsent(browser, first, 'deny', (u) => !inKnown(u));
    return { location: new URL(page.location!), consentPage: first, browser };
  }
  const afterConsent = await answerBrokerConsent(browser, first, 'approve', (u) => new URL(u).origin === new URL(tb.giteaUrl).origin || !inKnown(u));
  if (!afterConsent.location) throw new Error(`consent did not redirect: ${afterConsent.status} ${afterConsent.body.slice(0, 300)}`);
  const g = await giteaAuthorize(browser, afterConsent.location, { giteaUrl: tb.giteaUrl, user: tb.users[user] });
  // Gitea sends the browser to the broker's callback; the broker redirects to the client.
  const cb = await browser.follow(g.location, { stopWhen: (u) => !inKnown(u) });
  if (!cb.location) throw new Error(`broker callback did not redirect: ${cb.status} ${cb.body.slice(0, 400)}`);
  return { location: new URL(cb.location), consentPage: first, browser };
}
