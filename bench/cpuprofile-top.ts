/**
 * @module bench/cpuprofile-top
 * `npx tsx bench/cpuprofile-top.ts <file.cpuprofile> [n]`: the top `n` (default 25) entries of a
 * V8 CPU profile (`node --cpu-prof`) by self time, summed per function and source location, with
 * their share of all non-idle samples; then the same grouped by package or source directory; then
 * the total (inclusive) time of the broker's own functions.
 */
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
// Third section: total (inclusive) time of the broker's own functions (src/), each counted once per
// sample however often it recurs on the stack: where a request's time goes, callees included.
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const [file, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/cpuprofile-top.ts <file.cpuprofile> [n]');
  process.exit(2);
}
const n = Number(nArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const selfUs = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
}
const short = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
const group = (url: string) => {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return 'node: core';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const s = /\/(src\/[^/]+)\//.exec(url);
  return s ? s[1]! : short(url);
};
const fns = new Map<string, number>();
const groups = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  if (functionName === '(idle)') continue;
  total += us;
  const key = `${functionName || '(anonymous)'}  ${url ? `${short(url)}:${lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  groups.set(group(url), (groups.get(group(url)) ?? 0) + us);
}
const parent = new Map<number, number>();
for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
    if (!/\/src\//.test(url) || url.includes('node_modules')) continue;
    const key = `${functionName || '(anonymous)'}  ${short(url)}:${lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}
const pctOf = (us: number) => ((100 * us) / total).toFixed(1).padStart(5);
console.log(`non-idle samples: ${(total / 1000).toFixed(0)} ms`);
console.log('self time by function:');
for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pctOf(us)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
console.log('self time by package or source directory:');
for (const [k, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pctOf(us)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
console.log('total time (self + callees) of functions in src/:');
for (const [k, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pctOf(us)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
