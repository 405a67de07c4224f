// Prints the suite's closing line from vitest's JSON report, in the plain form CI reads:
// `tests: N passed, N failed` (and `, N skipped` when any were skipped). Given several reports
// (e.g. the Node 20 and the Node 24 runs), the line is the sum of those found; a missing one is
// named on stderr (the exit status of the run, not this line, says whether it passed).
import { readFileSync } from 'node:fs';

const paths = process.argv.length > 2 ? process.argv.slice(2) : ['test-artifacts/vitest.json'];
let passed = 0;
let failed = 0;
let skipped = 0;
let found = 0;
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
}
if (found === 0) process.exit(0);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
