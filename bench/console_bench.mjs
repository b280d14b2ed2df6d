// The console's speed in Chromium (bench/console.sh): each figure the median of FOPS_REPEATS
// fresh page loads, measured in the page with the Performance API.
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';
import { gzipSync } from 'node:zlib';

const url = process.env.FOPS_URL;
const repeats = Number(process.env.FOPS_REPEATS || 5);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Signed in once, through the API: the cookie goes into every fresh context.
const login = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ user: process.env.FOPS_USER, password: process.env.FOPS_PASSWORD }) });
if (!login.ok) throw new Error(`sign-in failed: ${login.status}`);
const token = /fops_session=([^;]+)/.exec(login.headers.get('set-cookie'))[1];
const runs = await (await fetch(`${url}/v1/runs?limit=1&order_by=run_id`, { headers: { cookie: `fops_session=${token}` } })).json();
// A run with curves: the bench gives every 100th run (in creation order) 1,000-round curves.
const withCurves = await (await fetch(`${url}/v1/runs?limit=1&order=asc`, { headers: { cookie: `fops_session=${token}` } })).json();

const browser = await chromium.launch({ executablePath: process.env.FOPS_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
const results = { table_ms: [], sort_ms: [], run_page_ms: [] };
for (let i = 0; i < repeats; ++i) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addCookies([{ name: 'fops_session', value: token, url }]);
  const page = await context.newPage();
  // Navigation to a usable table: the first rows drawn, from the navigation's start.
  await page.goto(`${url}/ui#/runs`);
  await page.waitForSelector('table.runs tbody tr:not(.spacer):not(.placeholder)');
  results.table_ms.push(await page.evaluate(() => performance.now()));
  const total = await page.$eval('.count', (el) => el.textContent);
  // Sorting by a metric: the click until the first row is the new first run.
  const firstBefore = await page.$eval('table.runs tbody tr:not(.spacer) a', (a) => a.textContent);
  results.sort_ms.push(await page.evaluate(async (before) => {
    const start = performance.now();
    const button = [...document.querySelectorAll('button.sort')].find((b) => b.textContent.startsWith('test.pr_auc'));
    button.click();
    await new Promise((resolve) => {
      const check = () => {
        const first = document.querySelector('table.runs tbody tr:not(.spacer):not(.placeholder) a');
        if (first && first.textContent !== before) resolve(); else requestAnimationFrame(check);
      };
      check();
    });
    return performance.now() - start;
  }, firstBefore));
  // A run's page with four 1,000-round curves (two charts: aucpr and logloss, training and
  // validation in each): the hash change until every chart is drawn.
  results.run_page_ms.push(await page.evaluate(async (id) => {
    const start = performance.now();
    location.hash = `#/runs/${id}`;
    await new Promise((resolve) => {
      const check = () => {
        if (document.querySelectorAll('figure.chart canvas').length >= 2) resolve(); else requestAnimationFrame(check);
      };
      check();
    });
    return performance.now() - start;
  }, withCurves.runs[0].run_id));
  if (i === 0) console.error(`table shows ${total}`);
  await context.close();
}
await browser.close();
const asset = async (path) => {
  const body = Buffer.from(await (await fetch(`${url}${path}`)).arrayBuffer());
  return { bytes: body.length, gzip_bytes: gzipSync(body, { level: 9 }).length };
};
const [js, css, html] = await Promise.all([asset('/ui/app.js'), asset('/ui/app.css'), asset('/ui')]);
console.log(JSON.stringify({
  runs: Number(process.env.FOPS_RUNS), repeats,
  table_ms: Math.round(median(results.table_ms)), sort_ms: Math.round(median(results.sort_ms)),
  run_page_ms: Math.round(median(results.run_page_ms)),
  assets_gzip_kb: +((js.gzip_bytes + css.gzip_bytes + html.gzip_bytes) / 1024).toFixed(1),
  app_js_kb: +(js.bytes / 1024).toFixed(1), samples: results,
}));
