/**
 * @module ops/log
 * JSON-lines logging (pino) with secrets redacted by path and, for free text such as a child's
 * stderr, by pattern ({@link redactText}).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line, whatever object they sit in. */
const REDACT_PATHS = [
  '*.authorization', '*.Authorization', 'req.headers.authorization', 'req.headers.cookie', 'headers.cookie',
  '*.access_token', '*.refresh_token', '*.client_secret', '*.code', '*.code_verifier', '*.token',
  '*.password', '*.forgeAccessToken', '*.forgeRefreshToken', '*.secret',
];

/**
 * Creates the process logger.
 * @param level pino level name.
 * @param destination a writable stream (default stdout); tests pass their own to inspect lines.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'fjmcp-broker' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });

const SECRET_PATTERNS: RegExp[] = [
  /\b(?:mcpb_(?:at|rt|ac)_)[A-Za-z0-9_-]+/g, // our own tokens
  /\bgt[aor]_[A-Za-z0-9]+/g, // Gitea codes, refresh tokens, client secrets
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, // JWTs (forge access tokens)
  /\b[0-9a-f]{40}\b/g, // Gitea personal access tokens
  /((?:authorization)["'=:\s]+(?:(?:bearer|token|basic)\s+)?)[^\s"',;}]+/gi,
  /((?:token|bearer|password|secret)["'=:\s]+)[^\s"',;}]+/gi,
];

/**
 * Replaces anything that looks like a token in free text, plus the given known secrets.
 * Used for child stderr before it is logged or kept.
 */
export function redactText(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const s of known) if (s && s.length >= 6) out = out.split(s).join('[redacted]');
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m, p1?: string) => (typeof p1 === 'string' && m.startsWith(p1) ? `${p1}[redacted]` : '[redacted]'));
  return out;
}
