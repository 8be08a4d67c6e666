#!/usr/bin/env node
// meshlock's command line: one file per command, each thin (parse flags, call the layer, print).
import { run } from './program.js';

await run(
  process.argv,
  'meshlock',
  'Keeps an Istio service mesh in strict mutual TLS: admission webhook, offline check and audit',
);
