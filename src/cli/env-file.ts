/**
 * @module cli/env-file
 * Renders the broker's settings ({@link SETTINGS}) as a podman `--env-file` / systemd-style env
 * file: one `NAME=value` per line, every setting preceded by its help text. Used by
 * `fjmcp-broker init` (real values) and by scripts/gen-env-example.ts (the shipped example).
 *
 * Format: podman reads values literally (no quotes, no `$` expansion; `#` only starts a comment at
 * the beginning of a line), so values are written unquoted and may not contain newlines.
 */
import { SETTINGS, type Setting } from '../config.js';

/** Settings the container image sets itself (Containerfile `ENV`); the file leaves them commented. */
export const IMAGE_SETTINGS: Readonly<Record<string, string>> = {
  FJMCP_LISTEN_HOST: '0.0.0.0',
  FJMCP_LISTEN_PORT: '8787',
  FJMCP_OPS_LISTEN: '0.0.0.0:9787',
  FJMCP_DATA_DIR: '/data',
  FJMCP_CHILD_SANDBOX: 'required',
};

export interface RenderEnvOptions {
  /** Values to write uncommented; every other setting appears commented out with its default. */
  values: Readonly<Record<string, string>>;
  /** Lines placed at the top, each prefixed with `# `. */
  header: readonly string[];
  /** Placeholder written (uncommented) for a required setting without a value. */
  placeholder?: (s: Setting) => string;
}

/** Wraps `text` at ~96 columns into `# `-prefixed comment lines. */
function comment(text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > 94) {
      out.push(`# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(`# ${line}`);
  return out;
}

/**
 * Renders the env file text (ends with a newline).
 * @throws Error when a value contains a newline (it could inject another setting).
 */
export function renderEnvFile(opts: RenderEnvOptions): string {
  const lines: string[] = opts.header.map((h) => (h ? `# ${h}` : '#'));
  for (const s of SETTINGS) {
    lines.push('');
    const notes: string[] = [];
    if (s.required) notes.push('Required.');
    else notes.push(s.default ? `Default: ${s.default}.` : 'Default: empty.');
    if (IMAGE_SETTINGS[s.name] !== undefined) notes.push(`The container image sets ${IMAGE_SETTINGS[s.name]}; leave it so there.`);
    if (s.secret) notes.push(`Secret: or put it in a file and set ${s.name}_FILE to that path (podman secrets).`);
    lines.push(...comment(`${s.help} ${notes.join(' ')}`));
    const value = opts.values[s.name];
    if (value !== undefined) {
      if (/[\r\n]/.test(value)) throw new Error(`${s.name}: a value may not contain a line break`);
      lines.push(`${s.name}=${value}`);
    } else if (s.required) {
      lines.push(`${s.name}=${opts.placeholder?.(s) ?? ''}`);
    } else {
      lines.push(`#${s.name}=${IMAGE_SETTINGS[s.name] ?? s.default ?? ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
