/**
 * @module ops/audit
 * The audit log: one JSON line per security-relevant event (sign-in, consent, token issue and
 * revocation, refused requests, child start and stop), tagged `audit: true` in the same stream
 * as the other logs so operators can filter it. Never carries a secret.
 */
import type { Logger } from './log.js';

export type AuditEvent =
  | 'client.registered' | 'consent.approved' | 'consent.denied' | 'signin.completed' | 'signin.refused'
  | 'token.issued' | 'token.refreshed' | 'token.revoked' | 'grant.revoked' | 'family.revoked' | 'code.replayed'
  | 'forge.refreshed' | 'forge.grant_ended' | 'forge.client_refused' | 'account.signed_in' | 'child.started' | 'child.stopped' | 'request.refused';

export interface Audit {
  (event: AuditEvent, fields: Record<string, string | number | boolean | undefined>): void;
}

export function createAudit(log: Logger): Audit {
  const a = log.child({ audit: true });
  return (event, fields) => a.info({ event, ...fields }, event);
}
