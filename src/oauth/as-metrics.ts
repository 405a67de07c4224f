/**
 * @module oauth/as-metrics
 * The authorization server's Prometheus instruments.
 */
import type { Counter } from 'prom-client';
import type { Metrics } from '../ops/metrics.js';

export interface AsMetrics {
  /** `fjmcp_oauth_requests_total{endpoint, outcome}`: outcome is `ok` or an OAuth error code. */
  requests: Counter<string>;
  /** `fjmcp_oauth_tokens_issued_total{grant_type}`. */
  tokensIssued: Counter<string>;
}

export function createAsMetrics(m: Metrics): AsMetrics {
  return {
    requests: m.counter('fjmcp_oauth_requests_total', 'Authorization server requests by endpoint and outcome.', ['endpoint', 'outcome']),
    tokensIssued: m.counter('fjmcp_oauth_tokens_issued_total', 'Token responses issued, by grant type.', ['grant_type']),
  };
}
