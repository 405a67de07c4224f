// Prints the suite's closing line from vitest's JSON report, in the plain form CI reads:
// `tests: N passed, N failed` (and `, N skipped` when any were skipped).
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'test-artifacts/vitest.json';
let r;
try {
  r = JSON.parse(readFileSync(path, 'utf8'));
} catch (err) {
  console.error(`no test report at ${path}: ${err.message}`);
  process.exit(0);
}
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
