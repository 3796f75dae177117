import { mkdirSync, writeFileSync } from 'node:fs';

// Prints one plain closing line, "tests: N passed, N failed, N skipped", that any CI log reader
// understands without knowing Jest's own format, and keeps it in _output for .ci/run to repeat
// as the last line of the log.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `tests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`;
    process.stdout.write(line);
    mkdirSync('_output', { recursive: true });
    writeFileSync('_output/test-summary.txt', line);
  }
}
