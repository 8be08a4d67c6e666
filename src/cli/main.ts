#!/usr/bin/env node
// meshlock's command line: one file per command, each thin (parse flags, call the layer, print).
import { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerReview } from './review.js';
import { registerCheck } from './check.js';
import { registerAudit } from './audit.js';
import { registerCerts } from './certs.js';
import { VERSION } from './version.js';

export function buildProgram(name = 'meshlock'): Command {
  const program = new Command(name)
    .description('Keeps an Istio service mesh in strict mutual TLS: admission webhook, offline check and audit')
    .version(VERSION)
    .showHelpAfterError();
  registerServe(program);
  registerReview(program);
  registerCheck(program);
  registerAudit(program);
  registerCerts(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
