// Mocha's spec reporter, plus the run's counts written to MOCKCLOUD_TEST_STATS so scripts/test.mjs can
// print one closing "N passed, N failed" line across the embedded and distributed runs.
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const file = process.env.MOCKCLOUD_TEST_STATS;
      if (!file) return;
      const s = runner.stats ?? {};
      fs.writeFileSync(file, JSON.stringify({ passes: s.passes ?? 0, failures: s.failures ?? 0, pending: s.pending ?? 0 }));
    });
  }
}

module.exports = CountingSpec;
