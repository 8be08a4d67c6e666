#!/usr/bin/env node
// The kubectl plugin: kubectl finds `kubectl-meshlock` on PATH and runs it for `kubectl meshlock ...`,
// passing the remaining arguments (`kubectl meshlock audit -n shop` runs `kubectl-meshlock audit -n shop`).
import { COMMANDS, run } from './program.js';

const PLUGIN = { audit: COMMANDS['audit']!, check: COMMANDS['check']! };

await run(
  process.argv,
  'kubectl meshlock',
  'meshlock as a kubectl plugin: audit the mesh (audit) and check manifests (check)',
  PLUGIN,
);
