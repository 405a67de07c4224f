/**
 * @module http/pages/account-page
 * The person's account page (`/account`): sign-in prompt, connected clients with their last use
 * and open sessions, personal access tokens, and the forms that revoke them. Plain HTML forms
 * (no JavaScript); every form carries the session's CSRF token. Values are escaped by hono/jsx.
 */
import type { AccountSession, Connection, PersonalToken } from '../../account/account.js';
import { PAT_EXPIRY_DAYS, PAT_NAME_MAX } from '../../account/account.js';
import { Layout } from './layout.js';

/** `2026-12-01 10:36 UTC`, or a dash. */
export const when = (ms: number | null | undefined): string => (ms ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—');

export function SignInPage(props: { forgeOrigin: string; notice?: string }) {
  const host = new URL(props.forgeOrigin).host;
  return (
    <Layout title="Your AI connections — Forge MCP broker">
      <p class="brand">Forge MCP broker · {host}</p>
      <h1>Your AI connections</h1>
      {props.notice ? <div class="note info" role="status">{props.notice}</div> : null}
      <p>See which AI assistants act on {host} as you, and disconnect any of them. Sign in with your {host} account.</p>
      <div class="actions">
        <a class="button approve" href="/account/sign-in">Sign in with {host}</a>
      </div>
    </Layout>
  );
}

function Csrf({ s }: { s: AccountSession }) {
  return <input type="hidden" name="csrf" value={s.csrf} />;
}

export function AccountPage(props: {
  session: AccountSession;
  forgeOrigin: string;
  mcpUrl: string;
  connections: Connection[];
  tokens: PersonalToken[];
  notice?: string;
  /** A token just created: shown this once. */
  created?: { name: string; token: string; expiresAt: number };
}) {
  const { session: s } = props;
  const host = new URL(props.forgeOrigin).host;
  return (
    <Layout title="Your AI connections — Forge MCP broker" wide>
      <p class="brand">Forge MCP broker · {host}</p>
      <div class="row">
        <h1>Your AI connections</h1>
        <form method="post" action="/account/sign-out">
          <Csrf s={s} />
          <span class="who">Signed in as <strong>{s.login}</strong></span> <button class="small" type="submit">Sign out</button>
        </form>
      </div>
      {props.notice ? <div class="note info" role="status">{props.notice}</div> : null}
      {props.created ? (
        <div class="note power" role="status" id="new-token">
          <p>
            <strong>Your new token “{props.created.name}”.</strong> Copy it now: it is shown only this once. It expires{' '}
            {when(props.created.expiresAt)}. Send it as <code>Authorization: Bearer …</code> to <code>{props.mcpUrl}</code>.
          </p>
          <p><code class="token">{props.created.token}</code></p>
        </div>
      ) : null}

      <h2>Connected assistants</h2>
      {props.connections.length === 0 ? (
        <p class="muted" id="no-clients">No AI assistant is connected to your account.</p>
      ) : (
        <table id="clients">
          <thead>
            <tr><th>Assistant</th><th>Returns to</th><th>Connected</th><th>Last used</th><th>Last tool call</th><th>Open sessions</th><th></th></tr>
          </thead>
          <tbody>
            {props.connections.map((c) => (
              <tr data-client-id={c.clientId}>
                <td>
                  {c.name}
                  {c.verified ? <span class="badge ok">verified</span> : <span class="badge warn-b">unverified name</span>}
                </td>
                <td><code>{c.redirectHosts.join(', ') || '—'}</code></td>
                <td>{when(c.connectedAt)}</td>
                <td>{when(c.lastUsedAt)}</td>
                <td>{c.lastToolCall ? <>{when(c.lastToolCall.at)} <code>{c.lastToolCall.tool}</code></> : '—'}</td>
                <td>{c.openSessions}</td>
                <td>
                  <form method="post" action="/account/revoke">
                    <Csrf s={s} />
                    <input type="hidden" name="client_id" value={c.clientId} />
                    <button class="deny small" type="submit" aria-label={`Disconnect ${c.name}`}>Disconnect</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Personal access tokens</h2>
      <p class="muted">
        For scripts and clients that cannot sign in. A token acts as you, with your {host} access, on <code>{props.mcpUrl}</code> only.
      </p>
      {props.tokens.length ? (
        <table id="tokens">
          <thead>
            <tr><th>Name</th><th>Created</th><th>Expires</th><th>Last used</th><th>Open sessions</th><th></th></tr>
          </thead>
          <tbody>
            {props.tokens.map((t) => (
              <tr data-token-id={t.id}>
                <td>{t.name}{t.status === 'active' ? null : <span class="badge warn-b">{t.status}</span>}</td>
                <td>{when(t.createdAt)}</td>
                <td>{when(t.expiresAt)}</td>
                <td>{when(t.lastUsedAt)}</td>
                <td>{t.openSessions}</td>
                <td>
                  {t.status === 'active' ? (
                    <form method="post" action="/account/tokens/revoke">
                      <Csrf s={s} />
                      <input type="hidden" name="id" value={t.id} />
                      <button class="deny small" type="submit" aria-label={`Revoke ${t.name}`}>Revoke</button>
                    </form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <form method="post" action="/account/tokens" class="inline">
        <Csrf s={s} />
        <label>Name <input type="text" name="name" required maxlength={PAT_NAME_MAX} placeholder="CI job" /></label>
        <label>
          Expires in{' '}
          <select name="expiry_days">
            {PAT_EXPIRY_DAYS.map((d) => <option value={String(d)} selected={d === 30}>{d} days</option>)}
          </select>
        </label>
        <button class="approve small" type="submit">Create token</button>
      </form>

      {props.connections.length || props.tokens.some((t) => t.status === 'active') ? (
        <form method="post" action="/account/revoke-all" class="danger-zone">
          <Csrf s={s} />
          <button class="deny" type="submit">Disconnect every assistant</button>
          <span class="muted"> Ends every connection and personal access token above, at once.</span>
        </form>
      ) : null}
      <p class="foot">Your page session ends after 15 minutes. Disconnecting here does not remove the broker's application from your {host} settings.</p>
    </Layout>
  );
}

export function AccountMessagePage(props: { status: number; message: string }) {
  return (
    <Layout title="Account — Forge MCP broker">
      <p class="brand">Forge MCP broker</p>
      <h1>{props.status === 403 ? 'You cannot use this page' : 'This did not work'}</h1>
      <div class="note caution" role="alert">{props.message}</div>
      <p class="foot"><a href="/account">Back to your account page</a> (HTTP {props.status})</p>
    </Layout>
  );
}
