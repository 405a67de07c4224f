// Prints the suite's closing line from vitest's JSON report, in the plain form CI reads:
// `tests: N passed, N failed` (and `, N skipped` when any were skipped). Given several reports
// (e.g. the Node 20 and the Node 24 runs), the line is the sum of those found; a missing one is
// named on stderr (the exit status of the run, not this line, says whether it passed).
// Above that line, each failed test with the head of its failure message (ANSI colours removed):
// CI keeps only the tail of a run's output, and the reporter printed the failures far above it.
import { readFileSync } from 'node:fs';

const paths = process.argv.length > 2 ? process.argv.slice(2) : ['test-artifacts/vitest.json'];
let passed = 0;
let failed = 0;
let skipped = 0;
let found = 0;
const failures = [];
/** Characters of each failure message printed (a failure message may carry logs). */
const MESSAGE_CHARS = 6000;
for (const path of paths) {
  let r;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    console.error(`no test report at ${path}: ${err.message}`);
    continue;
  }
  found++;
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  for (const file of r.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status !== 'failed') continue;
      const message = (t.failureMessages ?? []).join('\n').replace(/\u001b\[[0-9;]*m/g, '');
      failures.push(`FAILED (${path}) ${file.name.replace(`${process.cwd()}/`, '')} > ${t.fullName}\n${message.slice(0, MESSAGE_CHARS)}${message.length > MESSAGE_CHARS ? '\n[…]' : ''}`);
    }
  }
}
if (found === 0) process.exit(0);
for (const f of failures) console.log(`${f}\n`);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
