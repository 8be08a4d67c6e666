// The PrometheusRules of deploy/ through Prometheus's own promtool (built from its Go module by
// test/promtool/build.sh): every rule parses and type-checks (`promtool check rules`), and the audit
// alerts fire on the series that should raise them and stay quiet on those that should not
// (`promtool test rules`, Prometheus's rule unit tests, evaluating the real expressions).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments, stringify } from 'yaml';
import { locate, repoRoot, skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'promtool');

const promtool = locate('promtool') as string;
const dir = mkdtempSync(join(tmpdir(), 'meshlock-promtool-'));

/** The rule groups of the PrometheusRule in a file, as a Prometheus rule file. */
function ruleFile(source: string): string {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, source), 'utf8')).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  const rule = docs.find((d) => d['kind'] === 'PrometheusRule') as { spec: { groups: unknown[] } } | undefined;
  if (!rule) throw new Error(`no PrometheusRule in ${source}`);
  const file = join(dir, source.replace(/\//g, '_'));
  writeFileSync(file, stringify({ groups: rule.spec.groups }));
  return file;
}

const run = (args: string[]) => spawnSync(promtool, args, { encoding: 'utf8', cwd: dir });

for (const source of ['deploy/monitoring/webhook-alerts.yaml', 'deploy/audit-monitoring/audit-alerts.yaml']) {
  t.test(`promtool check rules: ${source}`, async (t) => {
    const r = run(['check', 'rules', ruleFile(source)]);
    t.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    t.match(r.stdout, /SUCCESS: \d+ rules found/);
  });
}

t.test('promtool test rules: the audit alerts fire when they should, and only then', async (t) => {
  const rules = ruleFile('deploy/audit-monitoring/audit-alerts.yaml');
  // Series every minute for two hours; eval_time is minutes from the start (time() = seconds since 0).
  const tests = {
    rule_files: [rules],
    evaluation_interval: '1m',
    tests: [
      {
        // The audit ran at t=0 and never again, with a 5 m interval: stale after 15 m, firing 5 m later.
        interval: '1m',
        input_series: [
          { series: 'meshlock_audit_last_run_timestamp_seconds', values: '0x40' },
          { series: 'meshlock_audit_interval_seconds', values: '300x40' },
        ],
        alert_rule_test: [
          { eval_time: '10m', alertname: 'MeshlockAuditStale', exp_alerts: [] },
          {
            eval_time: '25m',
            alertname: 'MeshlockAuditStale',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning' },
                exp_annotations: {
                  summary: 'The meshlock audit has not run for three intervals',
                  description: 'Last audit 25m 0s ago. Check the pod: kubectl logs -n meshlock deploy/meshlock-audit',
                },
              },
            ],
          },
          { eval_time: '25m', alertname: 'MeshlockAuditAbsent', exp_alerts: [] },
        ],
      },
      {
        // Audits keep running: never stale.
        interval: '1m',
        input_series: [
          { series: 'meshlock_audit_last_run_timestamp_seconds', values: '0+60x40' },
          { series: 'meshlock_audit_interval_seconds', values: '300x40' },
        ],
        alert_rule_test: [{ eval_time: '30m', alertname: 'MeshlockAuditStale', exp_alerts: [] }],
      },
      {
        // shop: 10 workloads, all STRICT for an hour, then 2 accept plaintext. pay stays as it was.
        interval: '1m',
        input_series: [
          { series: 'meshlock_audit_workloads{namespace="shop"}', values: '10x120' },
          { series: 'meshlock_audit_strict_workloads{namespace="shop"}', values: '10x60 8x60' },
          { series: 'meshlock_audit_meshed_workloads{namespace="shop"}', values: '10x60 8x60' },
          { series: 'meshlock_audit_workloads{namespace="pay"}', values: '4x120' },
          { series: 'meshlock_audit_strict_workloads{namespace="pay"}', values: '3x120' },
          { series: 'meshlock_audit_meshed_workloads{namespace="pay"}', values: '4x120' },
          { series: 'meshlock_audit_findings{rule="pa-mode",severity="error"}', values: '0x60 1x60' },
          { series: 'meshlock_audit_findings{rule="workload-not-meshed",severity="error"}', values: '1x120' },
        ],
        alert_rule_test: [
          { eval_time: '50m', alertname: 'MeshlockStrictnessDropped', exp_alerts: [] },
          {
            eval_time: '90m',
            alertname: 'MeshlockStrictnessDropped',
            exp_alerts: [
              {
                exp_labels: { severity: 'critical', namespace: 'shop' },
                exp_annotations: {
                  summary: 'More workloads accept plaintext in namespace shop than an hour ago',
                  description:
                    '2 workloads of shop are not effectively STRICT on every port. Its PolicyReport says which: kubectl get policyreport -n shop meshlock-shop -o yaml',
                },
              },
            ],
          },
          {
            eval_time: '90m',
            alertname: 'MeshlockMeshCoverageDropped',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning' },
                exp_annotations: {
                  summary: 'Fewer workloads are in the mesh than an hour ago',
                  description:
                    'Mesh coverage is 85.71%, lower than an hour ago. Run `meshlock audit` to see which workloads left the mesh and why.',
                },
              },
            ],
          },
          {
            eval_time: '90m',
            alertname: 'MeshlockNewErrorFindings',
            exp_alerts: [
              {
                exp_labels: { severity: 'critical', rule: 'pa-mode' },
                exp_annotations: {
                  summary: 'New error findings for rule pa-mode',
                  description: '1 error findings of pa-mode, more than an hour ago: the audit verdict is FAIL.',
                },
              },
            ],
          },
        ],
      },
      {
        // Exemption 0 expires 3 days after the start, exemption 1 in 30 days: only 0 is within 7 days.
        interval: '1m',
        input_series: [
          {
            series: 'meshlock_audit_exemption_expiry_timestamp_seconds{index="0",namespace="legacy",owner="team-a"}',
            values: `${3 * 86400}x20`,
          },
          {
            series: 'meshlock_audit_exemption_expiry_timestamp_seconds{index="1",namespace="batch",owner="team-b"}',
            values: `${30 * 86400}x20`,
          },
        ],
        alert_rule_test: [
          {
            eval_time: '10m',
            alertname: 'MeshlockExemptionExpiringSoon',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning', index: '0', namespace: 'legacy', owner: 'team-a' },
                exp_annotations: {
                  summary: 'Exemption 0 (legacy, owner team-a) expires within 7 days',
                  description: 'It expires in 2d 23h 50m 0s: fix what it exempts, or renew it in the meshlock config.',
                },
              },
            ],
          },
        ],
      },
    ],
  };
  const file = join(dir, 'audit-alerts.test.yaml');
  writeFileSync(file, stringify(tests));
  const r = run(['test', 'rules', file]);
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  t.match(r.stdout, /SUCCESS/);
});
