#!/usr/bin/env node
// meshlock's command line: one file per command, each thin (parse flags, call the layer, print).
// Command modules are imported only when their command runs (or for help): `serve` should not carry
// the Kubernetes client and report renderers of `audit` in its memory, nor pay for loading them.
import { Command } from 'commander';
import { VERSION } from './version.js';

type Register = (program: Command) => void;

const COMMANDS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./serve.js')).registerServe,
  review: async () => (await import('./review.js')).registerReview,
  check: async () => (await import('./check.js')).registerCheck,
  audit: async () => (await import('./audit.js')).registerAudit,
  certs: async () => (await import('./certs.js')).registerCerts,
};

export async function buildProgram(argv: readonly string[], name = 'meshlock'): Promise<Command> {
  const program = new Command(name)
    .description('Keeps an Istio service mesh in strict mutual TLS: admission webhook, offline check and audit')
    .version(VERSION)
    .showHelpAfterError();
  const wanted = argv.slice(2).find((a) => !a.startsWith('-'));
  const only = wanted !== undefined && wanted in COMMANDS ? [wanted] : Object.keys(COMMANDS);
  for (const cmd of only) (await COMMANDS[cmd]!())(program);
  return program;
}

await (await buildProgram(process.argv)).parseAsync(process.argv);
