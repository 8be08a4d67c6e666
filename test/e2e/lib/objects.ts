// Small builders for the objects the e2e sends, and the checks on what kubectl printed.
import type { Test } from 'tap';
import { describeRun, type Manifest, type Run } from './kubectl.js';

export function peerAuth(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
  version: 'v1' | 'v1beta1' = 'v1',
): Manifest {
  return {
    apiVersion: `security.istio.io/${version}`,
    kind: 'PeerAuthentication',
    metadata: { name, namespace },
    spec,
  };
}

export function destinationRule(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
  version = 'v1',
): Manifest {
  return { apiVersion: `networking.istio.io/${version}`, kind: 'DestinationRule', metadata: { name, namespace }, spec };
}

export function namespace(name: string, labels: Record<string, string> = {}): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export interface PodOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
  container?: Record<string, unknown>;
}

function podSpec(o: PodOptions): Record<string, unknown> {
  return {
    containers: [{ name: 'app', image: 'registry.invalid/app:1', ...(o.container ?? {}) }],
    ...(o.spec ?? {}),
  };
}

export function pod(ns: string, name: string, o: PodOptions = {}): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: podSpec(o),
  };
}

export function deployment(ns: string, name: string, o: PodOptions = {}): Manifest {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...(o.labels ?? {}) }, annotations: o.annotations ?? {} },
        spec: podSpec(o),
      },
    },
  };
}

export function cronJob(ns: string, name: string, o: PodOptions = {}): Manifest {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: ns },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: {
        spec: {
          template: {
            metadata: { labels: o.labels ?? {}, annotations: o.annotations ?? {} },
            spec: { restartPolicy: 'Never', ...podSpec(o) },
          },
        },
      },
    },
  };
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * kubectl failed, and printed meshlock's denial (POLICY.md "Denial message"):
 *   meshlock denied <Kind> <namespace>/<name>: <N> violation(s)
 *   - [<rule id>] <what is wrong>. Fix: <what to change>
 */
export function assertDenied(t: Test, r: Run, kind: string, name: string, rules: string[], msg = ''): void {
  const what = `${msg ? msg + ': ' : ''}${kind} ${name} denied by ${rules.join(', ')}`;
  t.not(r.code, 0, `${what} (kubectl exit status)`, { output: describeRun(r) });
  t.match(
    r.stderr,
    new RegExp(`meshlock denied ${esc(kind)} (\\S*/)?${esc(name)}: \\d+ violation`),
    `${what} (first line)`,
    { output: describeRun(r) },
  );
  for (const rule of rules) {
    t.match(r.stderr, new RegExp(`- \\[${esc(rule)}\\] .+Fix: `), `${what} (line for [${rule}])`, {
      output: describeRun(r),
    });
  }
}

/** kubectl succeeded; warnings (if any expected) were printed, each starting with the rule id. */
export function assertAllowed(t: Test, r: Run, what: string, warnRules: string[] = []): void {
  t.equal(r.code, 0, `${what} is allowed`, { output: describeRun(r) });
  t.notMatch(r.output, /meshlock denied/, `${what}: no denial printed`, { output: describeRun(r) });
  for (const rule of warnRules) {
    // kubectl prints admission warnings on stderr as "Warning: <text>".
    t.match(r.stderr, new RegExp(`Warning: ${esc(rule)}\\b`), `${what}: warning for ${rule}`, {
      output: describeRun(r),
    });
  }
  if (warnRules.length === 0)
    t.notMatch(r.stderr, /Warning: [a-z]+-[a-z-]+/, `${what}: no meshlock warning`, { output: describeRun(r) });
}
