/**
 * @module http/pages/consent-page
 * The broker's consent page: who is asking (name, verified or not), where the answer goes (the
 * redirect host), warnings (loopback-only redirects, unverified names), and plainly what approval
 * means — the AI client acts with the person's full forge account power unless forge scopes
 * restrict it; and which of the broker's MCP servers (protected resources, RFC 8707) the client
 * asks for, each named when it asks for several at once. Every value is escaped by hono/jsx.
 */
import type { ConsentView } from '../../oauth/authorize.js';
import { Layout } from './layout.js';

export function ConsentPage({ view }: { view: ConsentView }) {
  const name = view.clientName ?? 'An unnamed application';
  const forgeHost = new URL(view.forgeOrigin).host;
  const clientIdShown = view.clientId.length > 80 ? `${view.clientId.slice(0, 77)}…` : view.clientId;
  return (
    <Layout title={`Allow ${name}? — Forge MCP broker`}>
      <p class="brand">Forge MCP broker · {forgeHost}</p>
      <h1>
        Allow <span>{name}</span> to use your {forgeHost} account?
      </h1>
      <dl>
        <dt>Application</dt>
        <dd>
          {name}
          {view.nameVerified ? <span class="badge ok">verified</span> : <span class="badge warn-b">unverified name</span>}
        </dd>
        <dt>Sends you back to</dt>
        <dd>
          <code>{view.redirectHost}</code>
        </dd>
        <dt>{view.resources.length > 1 ? `For these ${view.resources.length} MCP servers` : 'For the MCP server'}</dt>
        <dd>
          {view.resources.map((r) => (
            <div class="resource">
              {r.title} <code>{r.url}</code>
            </div>
          ))}
        </dd>
        <dt>Client ID</dt>
        <dd>
          <code>{clientIdShown}</code>
        </dd>
        {view.clientUri ? (
          <>
            <dt>Website</dt>
            <dd>{view.clientUri}</dd>
          </>
        ) : null}
      </dl>

      <div class="note power" role="note">
        {view.forgeScopes.length === 0 ? (
          <>
            <strong>Full account access.</strong> If you approve, this AI client can act on {forgeHost} <em>as you</em>, with
            everything your account can do: read private repositories, push code, open and close issues and pull requests,
            change settings, and administer anything you administer.
          </>
        ) : (
          <>
            <strong>Access as you.</strong> If you approve, this AI client can act on {forgeHost} <em>as you</em>, limited by
            the forge scopes <code>{view.forgeScopes.join(' ')}</code> (on forges that enforce them; Forgejo does not yet).
          </>
        )}
      </div>

      {!view.nameVerified ? (
        <div class="note caution" role="note">
          The name “{name}” was supplied by the application itself and could be made up. Continue only if you just started
          connecting this client and <code>{view.redirectHost}</code> is where you expect to return.
        </div>
      ) : null}
      {view.loopbackOnly ? (
        <div class="note caution" role="note">
          {'This client only returns to your own computer ('}<code>{view.redirectHost}</code>
          {'). That is normal for desktop tools such as Claude Code or MCP Inspector — and it means any program on this computer could have started this request.'}
        </div>
      ) : null}

      <form method="post" action="/consent">
        <input type="hidden" name="tx" value={view.txId} />
        <input type="hidden" name="csrf" value={view.csrfToken} />
        <div class="actions">
          <button class="deny" type="submit" name="decision" value="deny">
            Deny
          </button>
          <button class="approve" type="submit" name="decision" value="approve">
            Approve and sign in
          </button>
        </div>
      </form>
      <p class="foot">
        Next you sign in on {view.forgeOrigin}. You can see and disconnect your assistants at any time on your{' '}
        <a href="/account">account page</a>.
      </p>
    </Layout>
  );
}
