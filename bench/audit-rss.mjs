// Preloaded into a measured process (node --import): prints its peak resident set size on exit.
process.on('exit', () => {
  process.stderr.write(`\nMESHLOCK_BENCH_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`);
});
