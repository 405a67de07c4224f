/**
 * @module bench/policy.bench
 * `npm run bench` (policy row): what the tool policy adds to each `tools/call`, measured in one run
 * as the decision the tool gate takes per call: the person's effective policy (cached, as on the
 * relay's path), the reviewed catalog and the child's annotations, the argument checks. Two
 * people interleaved call by call: carol (no rule applies, the no-policy path) and bob (a
 * repository rule and an organisation rule apply). Arguments are the npm gitea-mcp's `issue__list`.
 * Last line: `policy: added_p50_ms=… added_p99_ms=… ratio_p50=…`. Target: added p50 ≤ 0.05 ms.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/ops/log.js';
import { PolicyService } from '../src/policy/policy-service.js';

const N = Number(process.env.BENCH_CALLS ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'fjmcp-policy-bench-'));
const file = join(dir, 'policy.yaml');
writeFileSync(file, `rules:
  - people: { logins: [alice] }
    read_only: true
  - people: { logins: [bob] }
    repositories: ["team/*", "ops/*"]
  - people: { orgs: [team] }
    tools: { deny: ["delete_*", "*_admin_*"] }
`);
const service = new PolicyService({ file, preset: 'gitea-mcp-npm', log: silentLogger, memberships: async () => ({ orgs: ['team'], teams: ['team/Owners'] }) });
const carol = { personId: '3', login: 'carol', forgeAccessToken: 't' };
const bob = { personId: '2', login: 'bob', forgeAccessToken: 't' };
await service.forPerson(carol);
await service.forPerson(bob);
const open = service.forPerson({ ...carol, login: 'nobody-in-a-rule' });
void open;

const args = { owner: 'team', repo: 'team-private', state: 'open', page: 1, limit: 20 };
let sink = 0;
function decide(who: typeof bob): number {
  const t0 = performance.now();
  const pp = service.forPerson(who);
  if (pp instanceof Promise) throw new Error('not cached');
  const d = pp.unrestricted ? pp.repositoryOf('issue__list', args) : pp.check('issue__list', {}, args);
  sink += d ? 1 : 0;
  return performance.now() - t0;
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
for (let i = 0; i < 20_000; i++) (decide(carol), decide(bob));
const none: number[] = [];
const ruled: number[] = [];
for (let i = 0; i < N; i++) {
  none.push(decide(carol));
  ruled.push(decide(bob));
}
rmSync(dir, { recursive: true, force: true });
const f = (x: number) => x.toFixed(4);
const [n50, r50, n99, r99] = [pct(none, 50), pct(ruled, 50), pct(none, 99), pct(ruled, 99)];
console.log(`policy decision per call over ${N} calls each: no rule p50 ${f(n50)} ms p99 ${f(n99)} ms; repository+org rules p50 ${f(r50)} ms p99 ${f(r99)} ms (${sink > 0 ? 'ok' : ''})`);
console.log(`policy: added_p50_ms=${f(r50)} added_p99_ms=${f(r99)} ratio_p50=${(r50 / Math.max(n50, 1e-6)).toFixed(2)} target_p50_ms=0.05`);
