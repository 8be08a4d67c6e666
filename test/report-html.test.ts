// The HTML audit as a reader's browser shows it (headless Chromium): the verdict and the cluster's
// identity at the top, tables that filter as one types and sort on a heading's click, exempted
// findings with their owner and expiry, a print layout without the controls, and no request ever
// leaving the page (every URL but the file itself is aborted and recorded).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { launchChromium } from './lib/chromium.js';
import { skipUnless } from './lib/needs.js';

const html = readFileSync(join(import.meta.dirname, 'golden', 'audit.html'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'meshlock-html-'));
const file = join(dir, 'audit.html');
writeFileSync(file, html);
const url = pathToFileURL(file).href;

t.test(
  'desktop: verdict, identity, filtering, sorting, exempted findings, no request leaves the page',
  { skip: skipUnless('chromium') },
  async (t) => {
    const browser = await launchChromium();
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const requests: string[] = [];
    const blocked: string[] = [];
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    page.on('console', (m) => {
      if (/Content Security Policy|Refused/.test(m.text())) blocked.push(m.text());
    });
    await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
    await page.goto(url);
    const text = async (sel: string): Promise<string> => ((await page.textContent(sel)) ?? '').trim();
    t.match(await text('#verdict'), /^FAIL: 3 error findings \(1 warning, 1 exempted\)$/);
    t.equal(await page.getAttribute('#verdict', 'data-result'), 'FAIL');
    const verdictBox = await page.locator('#verdict').boundingBox();
    t.ok(verdictBox && verdictBox.y < 200, 'the verdict is at the top of the page');
    t.match(
      await text('#identity'),
      /Context\s*prod-eu[\s\S]*API server\s*https:\/\/10\.0\.0\.1:6443[\s\S]*Istio revisions\s*default \(1\.28\.1\)[\s\S]*meshlock\s*0\.1\.0/,
    );

    const visible = (id: string): Promise<number> => page.locator(`#${id} tbody tr:not(.filtered-out)`).count();
    t.equal(await visible('workloads'), 6);
    t.equal(await text('#workloads-count'), '6 of 6 shown');
    await page.fill('input[data-table="workloads"]', 'shop');
    t.equal(await visible('workloads'), 4, 'filtered to shop');
    await page.fill('input[data-table="workloads"]', 'shop not meshed');
    t.equal(await visible('workloads'), 1, 'every word must match');
    t.match(await text('#workloads tbody tr:not(.filtered-out)'), /node-agent[\s\S]*no mTLS: not meshed \(hostNetwork/);
    await page.fill('input[data-table="workloads"]', 'zzz-nothing');
    t.equal(await visible('workloads'), 0);
    t.equal(await text('#workloads-count'), '0 of 6 shown');
    await page.fill('input[data-table="workloads"]', '');

    // Sort by pods, descending on the second click; the 2-pod workload comes first.
    const podsHeader = page.locator('#workloads th', { hasText: 'pods' });
    await podsHeader.click();
    t.equal(await podsHeader.getAttribute('aria-sort'), 'ascending');
    await podsHeader.click();
    t.equal(await podsHeader.getAttribute('aria-sort'), 'descending');
    t.equal(await text('#workloads tbody tr:first-child td:nth-child(3)'), 'web');
    await page.locator('#workloads th').nth(2).click();
    const names = await page.locator('#workloads tbody tr td:nth-child(3)').allTextContents();
    t.same(
      names,
      [...names].sort((a, b) => a.localeCompare(b)),
      'sorted by name',
    );

    t.match(await text('#findings'), /pa-port-mode[\s\S]*causes workload-not-strict on Deployment shop\/cart/);
    const exempted = await text('#exempted tbody');
    t.match(
      exempted,
      /ns-injection-missing[\s\S]*exemptions\[0\][\s\S]*team-legacy[\s\S]*2026-09-30[\s\S]*being retired in Q3/,
    );
    t.match(exempted, /causes workload-not-meshed on Deployment legacy\/billing/);
    t.equal(await text('#summary-exempted'), '1');

    await page.screenshot({ path: join(dir, 'desktop.png'), fullPage: true });
    t.same(requests, [], 'no request leaves the page');
    t.same(blocked, [], 'nothing the CSP had to refuse (the script and style are allowed by hash)');
  },
);

t.test('print: the controls are hidden, every table still there', { skip: skipUnless('chromium') }, async (t) => {
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 794, height: 1123 } });
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url);
  await page.emulateMedia({ media: 'print' });
  t.notOk(await page.locator('input.filter').first().isVisible(), 'filter boxes hidden in print');
  t.ok(await page.locator('#verdict').isVisible());
  for (const id of ['namespaces', 'workloads', 'findings', 'exempted', 'exemptions', 'controls'])
    t.ok(await page.locator(`#${id}`).isVisible(), `${id} printed`);
  const width = await page.evaluate(
    () =>
      (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement
        .scrollWidth,
  );
  t.ok(width <= 794 + 40, `fits an A4 width (${width}px)`);
  // Narrow columns must not split words ("Depl|oyment", "err|or"): where a cell's text moves to a
  // new line between two letters or digits, a word was broken. Long paths may still wrap at / or -.
  const broken = await page.evaluate(() => {
    type Rect = { top: number };
    type TextNode = { textContent: string | null };
    const doc = (
      globalThis as unknown as {
        document: {
          querySelectorAll(s: string): Iterable<unknown>;
          createRange(): {
            setStart(n: unknown, i: number): void;
            setEnd(n: unknown, i: number): void;
            getClientRects(): ArrayLike<Rect>;
          };
          createTreeWalker(root: unknown, what: number): { nextNode(): TextNode | null };
        };
      }
    ).document;
    const out: string[] = [];
    const range = doc.createRange();
    for (const cell of doc.querySelectorAll('td, th')) {
      const walker = doc.createTreeWalker(cell, 4);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent ?? '';
        let prevTop: number | undefined;
        for (let i = 0; i < text.length; i++) {
          range.setStart(n, i);
          range.setEnd(n, i + 1);
          const r = range.getClientRects()[0];
          if (!r) continue;
          if (prevTop !== undefined && r.top > prevTop + 2 && /\w/.test(text[i] ?? '') && /\w/.test(text[i - 1] ?? ''))
            out.push(`${text.slice(Math.max(0, i - 10), i)}|${text.slice(i, i + 10)}`);
          prevTop = r.top;
        }
      }
    }
    return out;
  });
  t.same(broken, [], 'no word is split across lines in print');
  await page.screenshot({ path: join(dir, 'print.png'), fullPage: true });
  const pdf = await page.pdf({ format: 'A4' });
  t.ok(pdf.length > 10_000, 'prints to PDF');
  t.comment(`screenshots in ${dir}`);
});
