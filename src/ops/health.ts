/**
 * @module ops/health
 * The readiness report behind `GET /healthz`: the store answers a query, the forge answers
 * `/api/healthz`, the forge did not refuse the broker's client credentials at its last
 * answer, and MCP children can start (the child sandbox works, when it is required). Results are
 * cached for {@link HEALTH_CACHE_MS} and computed single-flight, so
 * polling every few seconds costs one store query and one forge request per window.
 */
import type { Clock } from '../lib/clock.js';
import type { Store } from '../store/store.js';
import type { ForgeClient } from '../upstream/types.js';

/** How long one health result is reused, ms. */
export const HEALTH_CACHE_MS = 2_000;

export interface PartHealth {
  ok: boolean;
  detail?: string;
}
export interface HealthReport {
  ok: boolean;
  store: PartHealth;
  forge: PartHealth;
  /**
   * The forge's last verdict on the broker's OAuth client credentials (seen at a sign-in or a
   * refresh). Not ok names FJMCP_FORGE_CLIENT_ID / FJMCP_FORGE_CLIENT_SECRET; people's grants are kept.
   */
  forgeCredentials: PartHealth;
  /** The child sandbox (src/child/sandbox.ts): mode, whether children run in it, and why not. */
  childSandbox?: PartHealth & { mode: string; active: boolean };
  /** When the report was computed, ISO 8601. */
  checkedAt: string;
}

export interface Health {
  check(): Promise<HealthReport>;
}

export function createHealth(deps: {
  store: Pick<Store, 'ping' | 'engine'>;
  forge: Pick<ForgeClient, 'health' | 'credentials'>;
  /** The child sandbox (src/child/sandbox.ts); its status is reported as is. */
  childSandbox?: { status(): { mode: string; active: boolean; ok: boolean; detail: string } };
  clock?: Clock;
}): Health {
  const now = deps.clock ?? Date.now;
  let cached: { at: number; report: HealthReport } | undefined;
  let inFlight: Promise<HealthReport> | undefined;

  const storeHealth = async (): Promise<PartHealth> => {
    try {
      await deps.store.ping();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: `${deps.store.engine === 'sqlite' ? 'SQLite' : 'the database'} did not answer: ${(err as Error).message}` };
    }
  };
  const forgeHealth = async (): Promise<PartHealth> => {
    try {
      return await deps.forge.health();
    } catch (err) {
      return { ok: false, detail: `forge health check failed: ${(err as Error).message}` };
    }
  };

  const compute = async (): Promise<HealthReport> => {
    const [store, forge] = await Promise.all([storeHealth(), forgeHealth()]);
    const cred = deps.forge.credentials();
    const forgeCredentials: PartHealth = cred.ok ? { ok: true } : { ok: false, detail: `${cred.detail ?? 'the forge refused the broker\'s client credentials'}${cred.at ? ` (since ${new Date(cred.at).toISOString()})` : ''}` };
    const childSandbox = deps.childSandbox?.status();
    const report = {
      ok: store.ok && forge.ok && forgeCredentials.ok && (childSandbox?.ok ?? true),
      store,
      forge,
      forgeCredentials,
      ...(childSandbox ? { childSandbox } : {}),
      checkedAt: new Date(now()).toISOString(),
    };
    cached = { at: now(), report };
    return report;
  };

  return {
    check() {
      if (cached && now() - cached.at < HEALTH_CACHE_MS) return Promise.resolve(cached.report);
      inFlight ??= compute().finally(() => (inFlight = undefined));
      return inFlight;
    },
  };
}
