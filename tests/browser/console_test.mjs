// The console in a real browser (Debian's Chromium driven by playwright-core), against a live
// `fraudops serve` that tests/serve_test.cc prepared (ServeTest.TheConsoleInABrowser…):
// sign in, find a run by filter, open its report, compare two runs, approve a version (and be
// refused as its author), deploy it as a canary and watch the canary panel update, roll back.
// Every page: a screenshot (FOPS_SCREENSHOTS), no console error, no serious accessibility
// violation (axe-core). Exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const url = process.env.FOPS_URL;
const password = process.env.FOPS_PASSWORD;
const apiKey = process.env.FOPS_API_KEY;
const shots = process.env.FOPS_SCREENSHOTS || 'console-screenshots';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.FOPS_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const failures = [];
const consoleErrors = [];
let page;

function check(condition, what) {
  if (!condition) throw new Error(what);
}

async function newSession() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e}`));
  return context;
}

// Each page: a screenshot and axe-core's serious and critical violations.
async function inspect(name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  console.log(`     ${name}: axe-core: ${result.violations.length} violation(s), ${serious.length} serious`);
  for (const v of serious)
    failures.push(`${name}: accessibility: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
}

async function signIn(user) {
  await page.goto(`${url}/ui`);
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('form button[type=submit]');
  await page.waitForSelector('table.runs');
}

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures.push(`${name}: ${error.message}`);
    console.log(`FAIL ${name}: ${error.message}`);
    if (page) await page.screenshot({ path: `${shots}/failed-${name.replace(/\W+/g, '-')}.png`, fullPage: true }).catch(() => {});
  }
}

const textOf = (selector) => page.$eval(selector, (el) => el.textContent);

let context = await newSession();
await step('the login page', async () => {
  await page.goto(`${url}/ui`);
  await page.waitForSelector('#login-user');
  await inspect('login');
});
await step('a wrong password is refused', async () => {
  await page.fill('#login-user', 'user');
  await page.fill('#login-password', 'not it');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.notice.error');
  consoleErrors.length = 0;  // the 401 of a wrong password is the expected answer
});
await step('sign in and find a run by filter', async () => {
  await signIn('user');
  await page.fill('#runs-filter', 'test.pr_auc >= 0.85');
  await page.click('form.toolbar button[type=submit]');
  await page.waitForFunction(() => document.querySelector('.count')?.textContent === '1 run');
  check((await textOf('table.runs tbody')).includes('needle'), 'the filtered table does not show the run "needle"');
  check(page.url().includes('filter='), 'the filter is not kept in the URL');
  await inspect('runs-filtered');
});
await step("open the run and its report", async () => {
  await page.click('table.runs tbody a');
  await page.waitForSelector('figure.chart canvas');
  // The training and validation curves of a metric share one chart.
  const charts = await page.$$eval('figure.chart', (figures) => figures.map((f) =>
    [f.querySelector('figcaption')?.textContent, [...f.querySelectorAll('.u-legend .u-series th')].map((th) => th.textContent.trim())]));
  check(charts.length === 1 && charts[0][0] === 'aucpr' && ['train', 'validation'].every((s) => charts[0][1].some((l) => l.startsWith(s))),
    `the run's curves are drawn as ${JSON.stringify(charts)}`);
  await inspect('run');
  const [report] = await Promise.all([page.context().waitForEvent('page'), page.click('a[href*="report.html"]')]);
  await report.waitForLoadState();
  check((await report.textContent('h1')) === 'Evaluation of needle', 'the report did not open');
  const policy = (await (await report.request.get(report.url())).headers())['content-security-policy'] || '';
  check(policy.includes('sandbox'), 'the report is not sandboxed');
  await report.close();
});
await step("a study's trials are left out until asked for", async () => {
  await page.goto(`${url}/ui#/runs`);
  await page.waitForFunction(() => /\(1 tuning trial not shown\)/.test(document.querySelector('.count')?.textContent || ''));
  check(!(await textOf('table.runs tbody')).includes('#12'), 'the trial is in the table without Tuning trials ticked');
  // The experiment's count in the list agrees with the table: its trial only when ticked.
  const counted = () => page.$eval('#runs-experiment', (s) =>
    Number(/\((\d+)\)$/.exec([...s.options].find((o) => o.value === 'console-test').textContent)[1]));
  const withoutTrials = await counted();
  await page.goto(`${url}/ui#/runs/run-study`);
  await page.click('a:has-text("the trials of study")');
  await page.waitForFunction(() => document.querySelector('.count')?.textContent === '1 run');
  check(await page.isChecked('#runs-trials'), 'the study\'s trials open without Tuning trials ticked');
  check((await textOf('table.runs tbody')).includes('#12'), 'the study\'s trial is not listed');
  check(await counted() === withoutTrials + 1, `the experiment counts ${await counted()} runs with its trial, ${withoutTrials} without`);
});
await step('compare two runs', async () => {
  await page.goto(`${url}/ui#/runs?order_by=test.pr_auc&metrics=test.pr_auc&trials=1`);
  await page.waitForSelector('table.runs tbody input[type=checkbox]');
  const boxes = await page.$$('table.runs tbody input[type=checkbox]');
  await boxes[0].check();
  await boxes[1].check();
  // A name too long for its column is cut in the middle: a study's trials keep their numbers.
  const long = 'fraud-detection-01a24aa1-2b43-77e5-bb86 #12';
  const cut = await page.$eval(`table.runs tbody a[title="${long}"]`, (a) => a.textContent);
  check(cut.includes('…') && cut.endsWith('#12') && cut.length <= 32, `the long name shows as "${cut}"`);
  await page.click('button:has-text("Compare selected")');
  await page.waitForSelector('text=Comparing 2 runs');
  check((await textOf('main')).includes('eta'), 'the comparison does not show the differing parameter eta');
  await page.waitForSelector('figure.chart canvas');
  await inspect('compare');
});
await step('the author is refused approval', async () => {
  await page.goto(`${url}/ui#/models/fraud/versions/2`);
  await page.waitForSelector('#approval-reason');
  await inspect('version-pending');
  await page.fill('#approval-reason', 'my own model looks fine');
  await page.click('button:has-text("Approve")');
  await page.waitForSelector('.notice.error');
  check((await textOf('.notice.error')).includes('Refused'), 'the refusal does not say so');
  consoleErrors.length = 0;  // the 403 is the answer expected here
});
await context.close();

context = await newSession();
await step('another approver approves', async () => {
  await signIn('carol');
  await page.goto(`${url}/ui#/models/fraud/versions/2`);
  await page.waitForSelector('#approval-reason');
  await page.fill('#approval-reason', 'reviewed the evaluation report');
  await page.click('button:has-text("Approve")');
  await page.waitForSelector('.notice.ok');
  await page.waitForSelector('strong.approval.approved');
  await page.waitForSelector('svg.lineage');
  await inspect('version-approved');
});
await context.close();

context = await newSession();
await step('a deployer deploys it as a canary and watches the panel', async () => {
  await signIn('dave');
  await page.goto(`${url}/ui#/endpoints/fraud`);
  await page.waitForSelector('#deploy-version');
  await page.fill('#deploy-version', '2');
  await page.selectOption('#deploy-strategy', 'canary');
  await page.fill('#deploy-percent', '50');
  await page.click('button:has-text("Deploy…")');
  await page.click('dialog button.danger');
  await page.waitForSelector('.canary');
  const rows = JSON.parse(process.env.FOPS_ROWS);
  const before = await textOf('.canary');
  for (let i = 0; i < 40; ++i) {
    const r = await fetch(`${url}/v1/endpoints/fraud/predict`, { method: 'POST',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify(rows[i % rows.length]) });
    check(r.ok, `scoring failed: ${r.status}`);
  }
  await page.waitForFunction((old) => {
    const m = /(\d+) canary requests/.exec(document.querySelector('.canary')?.textContent || '');
    return m && Number(m[1]) > 0 && document.querySelector('.canary').textContent !== old;
  }, before, { timeout: 15000 });
  await page.waitForFunction(() => /[1-9][\d.]* requests\/s/.test(document.querySelector('.traffic')?.textContent || ''),
    null, { timeout: 15000 });
  await inspect('endpoint-canary');
});
await step('and rolls it back', async () => {
  await page.click('button:has-text("Roll back…")');
  await page.click('dialog button.danger');
  await page.waitForSelector('.notice.ok');
  await page.waitForFunction(() => document.querySelector('main').textContent.includes('No deployment in progress'));
  check((await textOf('main')).includes('rolled_back'), 'the history does not show the rollback');
  await inspect('endpoint-rolled-back');
});
await step('the other pages', async () => {
  for (const [name, hash, selector] of [['registry', '#/models', 'table'], ['monitoring', '#/monitoring', 'figure.chart canvas'], ['audit', '#/audit', 'tbody tr']]) {
    await page.goto(`${url}/ui${hash}`);
    await page.waitForSelector(selector);
    await inspect(name);
  }
  check((await textOf('tbody')).includes('rolled back from the console') || (await textOf('tbody')).includes('rolled_back'), 'the audit log lacks the rollback');
});
await context.close();
await browser.close();

for (const e of consoleErrors) failures.push(`console error: ${e}`);
if (failures.length) {
  console.log(`${failures.length} failure(s):\n` + failures.join('\n'));
  process.exit(1);
}
console.log('all console checks passed');
