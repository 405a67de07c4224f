/**
 * @module test/support/oauth-client — a headless `OAuthClientProvider` for the official MCP SDK
 * (v1, `@modelcontextprotocol/sdk/client/auth.js`): keeps client information, tokens and the
 * PKCE verifier in memory and, instead of opening a browser, records the authorization URL for
 * the test to drive. With `clientMetadataUrl` it uses a client ID metadata
 * document instead of dynamic registration.
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export class HeadlessOAuthProvider implements OAuthClientProvider {
  /** The last authorization URL the SDK asked us to open. */
  authorizationUrl: URL | undefined;
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier: string | undefined;
  readonly clientMetadataUrl?: string;

  constructor(
    private readonly opts: {
      redirectUrl: string;
      clientName?: string;
      clientMetadataUrl?: string;
      scope?: string;
      /** Client authentication at the token endpoint, e.g. the SDK's `createPrivateKeyJwtAuth` (RFC 7523). */
      addClientAuthentication?: OAuthClientProvider['addClientAuthentication'];
    },
  ) {
    if (opts.clientMetadataUrl) this.clientMetadataUrl = opts.clientMetadataUrl;
    if (opts.addClientAuthentication) this.addClientAuthentication = opts.addClientAuthentication;
  }

  addClientAuthentication?: OAuthClientProvider['addClientAuthentication'];

  get redirectUrl(): string {
    return this.opts.redirectUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.opts.clientName ?? 'headless test client',
      redirect_uris: [this.opts.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.opts.scope ? { scope: this.opts.scope } : {}),
    };
  }

  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'client') this.info = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
  }
}
