// JUnit XML as CI systems read it: one testsuite, one testcase per object, a <failure> per finding
// that fails (denies, or in an audit: every error), warnings in <system-out>.
import type { Case } from './entries.js';

export function xmlEscape(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // XML 1.0 forbids most control characters even escaped.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

export function renderJunit(
  suiteName: string,
  cases: readonly Case[],
  timestamp: Date,
  errors: readonly { file: string; line: number; message: string }[] = [],
): string {
  const failing = (c: Case): boolean => c.failures.some((f) => f.level === 'error');
  const failures = cases.filter(failing).length;
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = cases.length + errors.length;
  lines.push(
    `<testsuites name="${xmlEscape(suiteName)}" tests="${total}" failures="${failures}" errors="${errors.length}">`,
  );
  lines.push(
    `  <testsuite name="${xmlEscape(suiteName)}" tests="${total}" failures="${failures}" errors="${errors.length}" skipped="${cases.filter((c) => c.skipped).length}" timestamp="${timestamp.toISOString()}">`,
  );
  for (const c of cases) {
    const attrs = `classname="${xmlEscape(c.classname)}" name="${xmlEscape(c.name)}"${c.file ? ` file="${xmlEscape(c.file)}"` : ''}${c.line ? ` line="${c.line}"` : ''}`;
    const errs = c.failures.filter((f) => f.level === 'error');
    const warns = c.failures.filter((f) => f.level !== 'error');
    if (errs.length === 0 && warns.length === 0 && !c.skipped) {
      lines.push(`    <testcase ${attrs}/>`);
      continue;
    }
    lines.push(`    <testcase ${attrs}>`);
    if (c.skipped) lines.push(`      <skipped message="${xmlEscape(c.skipped)}"/>`);
    for (const f of errs) {
      const body = `${f.message}${f.fix ? `. Fix: ${f.fix}` : ''}\ncontrols: ${f.controls.join(', ')}`;
      lines.push(
        `      <failure type="${xmlEscape(f.rule)}" message="${xmlEscape(`[${f.rule}] ${f.message}`)}">${xmlEscape(body)}</failure>`,
      );
    }
    if (warns.length > 0) {
      lines.push(
        `      <system-out>${xmlEscape(warns.map((w) => `[${w.rule}] ${w.message} (controls: ${w.controls.join(', ')})`).join('\n'))}</system-out>`,
      );
    }
    lines.push('    </testcase>');
  }
  for (const e of errors) {
    lines.push(
      `    <testcase classname="input" name="${xmlEscape(`${e.file}:${e.line}`)}" file="${xmlEscape(e.file)}">`,
    );
    lines.push(
      `      <error type="unreadable-input" message="${xmlEscape(e.message)}">${xmlEscape(`${e.file}:${e.line}: ${e.message}`)}</error>`,
    );
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>');
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
