#!/usr/bin/env node
// The kubectl plugin: kubectl finds `kubectl-meshlock` on PATH and runs it for `kubectl meshlock ...`,
// passing the remaining arguments (`kubectl meshlock audit -n shop` runs `kubectl-meshlock audit -n shop`).
import { Command } from 'commander';
import { registerAudit } from './audit.js';
import { registerCheck } from './check.js';
import { VERSION } from './version.js';

export function buildPluginProgram(): Command {
  const program = new Command('kubectl meshlock')
    .description('meshlock as a kubectl plugin: audit the mesh (audit) and check manifests (check)')
    .version(VERSION)
    .showHelpAfterError();
  registerAudit(program);
  registerCheck(program);
  return program;
}

await buildPluginProgram().parseAsync(process.argv);
