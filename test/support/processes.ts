/**
 * @module test/support/processes — find forge and forge-MCP processes (gitea, gitea-mcp,
 * forgejo-mcp, npm gitea-mcp under node) by scanning /proc (Linux only), to prove that a
 * test run or `scripts/testbed down` left none behind.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  /** argv joined with spaces. */
  cmdline: string;
  /** Raw environment, NUL-separated entries joined with `\n` ('' when unreadable). */
  environ: string;
}

/** Matches the executables the test bed starts, by argv[0] basename or by the npm child's script. */
const FORGE_PROCESS = /(^|\/)(gitea|gitea-mcp|forgejo-mcp)( |$)|npm-gitea-mcp\/|node_modules\/gitea-mcp\//;

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').replace(/\0+$/, '');
  } catch {
    return '';
  }
}

/** Every live (non-zombie) gitea / gitea-mcp / forgejo-mcp / npm gitea-mcp process visible in /proc. */
export function listForgeProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const cmdline = readProc(pid, 'cmdline').replace(/\0/g, ' ');
    if (!cmdline || !FORGE_PROCESS.test(cmdline)) continue;
    if (/^\d+ \(.*\) Z/.test(readProc(pid, 'stat'))) continue; // zombie: already dead
    out.push({ pid, cmdline, environ: readProc(pid, 'environ').replace(/\0/g, '\n') });
  }
  return out;
}

/**
 * Forge processes that belong to us: their argv or environment mentions one of `markers`
 * (a test bed's state dir, its URL, or the run's registry dir). URL markers match only when
 * not followed by another digit (port 3000 ≠ 30001).
 */
export function findForgeProcesses(markers: string[]): ProcInfo[] {
  const live = markers.filter(Boolean);
  if (live.length === 0) return [];
  return listForgeProcesses().filter((p) => {
    const text = `${p.cmdline}\n${p.environ}`;
    return live.some((m) => {
      let i = text.indexOf(m);
      while (i >= 0) {
        if (!/\d/.test(text[i + m.length] ?? '')) return true;
        i = text.indexOf(m, i + 1);
      }
      return false;
    });
  });
}
