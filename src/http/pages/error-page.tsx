/**
 * @module http/pages/error-page
 * The local error page shown while a request cannot be sent back to a client (unknown client,
 * unregistered redirect URI, missing cookie, foreign state …). The message is the public
 * `error_description`; it is escaped.
 */
import { Layout } from './layout.js';

export function ErrorPage(props: { status: number; error: string; description: string }) {
  return (
    <Layout title="Sign-in problem — Forge MCP broker">
      <p class="brand">Forge MCP broker</p>
      <h1>This sign-in cannot continue</h1>
      <div class="note caution" role="alert">
        {props.description}
      </div>
      <p class="foot">
        Error <code>{props.error}</code> (HTTP {props.status}). Nothing was shared with the application. Close this page and
        connect again from your AI client.
      </p>
    </Layout>
  );
}
