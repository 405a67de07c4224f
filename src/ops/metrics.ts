/**
 * @module ops/metrics
 * Prometheus metrics (prom-client) in one registry owned by the process. Modules register their
 * own instruments through {@link Metrics.registry}; `/metrics` renders it.
 */
import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

export interface Metrics {
  registry: Registry;
  counter(name: string, help: string, labelNames?: string[]): Counter<string>;
  gauge(name: string, help: string, labelNames?: string[]): Gauge<string>;
  histogram(name: string, help: string, labelNames?: string[], buckets?: number[]): Histogram<string>;
}

/**
 * `fjmcp_rate_limit_refusals_total{endpoint}`: requests answered 429 by a rate limit, by the
 * endpoint's path (`/mcp` per person; `/authorize`, `/consent`, `/token`, `/register`,
 * `/oauth/callback` per client IP).
 */
export function rateLimitRefusals(m: Metrics): Counter<string> {
  return m.counter('fjmcp_rate_limit_refusals_total', 'Requests refused with 429 by a rate limit, by endpoint (/mcp per person, the OAuth endpoints per client IP)', ['endpoint']);
}

/** A fresh registry; `defaults` adds process metrics (off in unit tests). */
export function createMetrics(defaults = true): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'fjmcp_' });
  const existing = (name: string) => registry.getSingleMetric(name);
  return {
    registry,
    counter: (name, help, labelNames = []) =>
      (existing(name) as Counter<string>) ?? new Counter({ name, help, labelNames, registers: [registry] }),
    gauge: (name, help, labelNames = []) =>
      (existing(name) as Gauge<string>) ?? new Gauge({ name, help, labelNames, registers: [registry] }),
    histogram: (name, help, labelNames = [], buckets) =>
      (existing(name) as Histogram<string>) ??
      new Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) }),
  };
}
