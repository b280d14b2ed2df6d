// Endpoints: variants and traffic shares, live statistics, a canary's progress with each
// alarm against its threshold (polled), the deployment history; deploy and roll back for the
// deployer role, each confirmed.
import { get, post, seg } from './api.js';
import { h, fmt, time, table, section, notice, confirmDialog } from './dom.js';
import { session, onLeave } from './nav.js';
import { parseMetrics, endpointTotals, rates } from './live.js';

const variant = (v) => (v && v.model ? `${v.model}@${v.version}` : '–');

export async function endpointsView() {
  const endpoints = (await get('/v1/admin/endpoints')).endpoints;
  return h('div', { class: 'view' }, h('h1', {}, 'Endpoints'),
    endpoints.length ? table(['Endpoint', 'Production', 'Canary', 'Environment', 'Updated'], endpoints.map((e) => [
      h('a', { href: `#/endpoints/${encodeURIComponent(e.name)}` }, e.name), variant(e.production),
      e.canary && e.canary.model ? `${variant(e.canary)} (${fmt(e.canary_percent)} %)` : '–',
      e.environment || '–', time(e.updated_at)])) : h('p', {}, 'Nothing is deployed yet.'));
}

// One alarm: the live value against its threshold.
function alarm(name, value, threshold, unit = '') {
  const over = threshold > 0 && value !== null && value !== undefined && value > threshold;
  return h('tr', { class: over ? 'over' : '' }, h('td', {}, name), h('td', { class: 'num' }, fmt(value, 4) + unit),
    h('td', { class: 'num' }, threshold > 0 ? fmt(threshold, 4) + unit : 'off'),
    h('td', {}, threshold > 0 ? (over ? 'over' : 'ok') : '–'));
}

function canaryPanel(endpoint) {
  const d = endpoint.deployment;
  if (!d || !endpoint.canary || !endpoint.canary.model)
    return h('p', {}, 'No deployment in progress.');
  const r = endpoint.rollout || {};
  const canary = r.canary || {}, production = r.production || {};
  const p = d.params || {};
  const errorRate = canary.requests ? canary.errors / canary.requests : null;
  const started = Date.parse(d.step_started_at || d.created_at);
  const bake = p.bake_seconds || 0;
  const elapsed = started ? (Date.now() - started) / 1000 : 0;
  const progress = h('progress', { max: 100, value: Math.min(100, bake ? (100 * elapsed) / bake : 0), 'aria-label': 'Bake time' });
  return h('div', { class: 'canary' },
    h('p', {}, `${d.strategy} of ${variant(endpoint.canary)} at ${fmt(endpoint.canary_percent)} % — ${d.status}; `,
      `${fmt(Math.round(elapsed))} s of ${fmt(bake)} s baked, ${fmt(canary.requests || 0)} canary requests (minimum ${fmt(p.min_requests || 0)}).`),
    progress,
    h('table', { class: 'alarms' },
      h('thead', {}, h('tr', {}, ['Alarm', 'Canary', 'Threshold', ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {},
        alarm('error rate', errorRate, p.max_error_rate),
        alarm('p99 latency', canary.p99_ms, p.max_p99_ms, ' ms'),
        alarm('score PSI vs production', r.score_psi, p.max_score_psi))),
    h('p', { class: 'muted' }, `Production: ${fmt(production.requests || 0)} requests, ${fmt(production.errors || 0)} errors, p99 ${fmt(production.p99_ms, 3)} ms.`));
}

// A value with its interval: {value, low, high} (the A/B report's shape) or a number.
const withInterval = (x) => (x && typeof x === 'object'
  ? `${fmt(x.value, 4)} [${fmt(x.low, 4)}, ${fmt(x.high, 4)}]` : fmt(x, 4));

function abPanel(ab) {
  const report = ab.report;
  const variants = report ? report.variants || [] : [];
  return h('div', {},
    h('p', {}, `Variants: ${ab.ab.variants.map((v) => `${v.name} (${v.model}@${v.version}) ${fmt(v.weight)} %`).join(', ')}`,
      ab.ab.assignment_field ? `; sticky by ${ab.ab.assignment_field}` : '; random by weight'),
    report ? table(['Variant', 'Requests', 'Alert rate', 'ROC AUC', 'Recall at FPR'], variants.map((v) => [
      v.name, fmt(v.requests), withInterval(v.alert_rate), withInterval(v.roc_auc), withInterval(v.recall_at_fpr)]))
      : h('p', {}, ab.report_error || 'No report yet.'),
    report && report.comparisons ? table(['Variant', 'Against', 'Alert rate Δ (p)', 'ROC AUC Δ (p)', 'Enough requests'],
      report.comparisons.map((c) => [c.variant, c.against,
        c.alert_rate ? `${fmt(c.alert_rate.difference, 4)} (${fmt(c.alert_rate.p_value, 3)})` : '–',
        c.roc_auc ? `${fmt(c.roc_auc.difference, 4)} (${fmt(c.roc_auc.p_value, 3)})` : '–',
        c.sample_size_reached === undefined ? '–' : (c.sample_size_reached ? 'yes' : 'no')])) : null);
}

function shadowPanel(shadows) {
  return shadows.length ? table(['Shadow', 'Rows', 'Decision agreement', 'Mean |score Δ|', 'Score PSI', 'p99 ms (prod / shadow)'],
    shadows.map((x) => [x.shadow, fmt(x.rows), fmt(x.decision_agreement, 4), fmt(x.mean_abs_score_difference, 5),
      fmt(x.score_psi, 4), `${fmt(x.production_latency_ms.p99, 3)} / ${fmt(x.shadow_latency_ms.p99, 3)}`]))
    : h('p', {}, 'No shadow traffic yet.');
}

export async function endpointView(params, name) {
  const base = `/v1/admin/endpoints/${seg(name)}`;
  const [endpoint, history] = await Promise.all([get(base), get(`${base}/deployments`)]);
  // A/B and shadow reports only where the endpoint has them (otherwise 404s).
  const [ab, shadows] = await Promise.all([
    endpoint.ab ? get(`${base}/ab`) : null,
    (endpoint.shadows || []).length ? get(`${base}/shadows`) : null]);
  const message = h('div', { 'aria-live': 'polite' });
  const live = h('div', { 'aria-live': 'polite' }, canaryPanel(endpoint));
  const served = h('div');
  const facts = h('div');
  const drawFacts = (e) => facts.replaceChildren(h('dl', { class: 'facts' },
    h('dt', {}, 'Production'), h('dd', {}, variant(e.production), e.loaded ? ' (loaded)' : ''),
    h('dt', {}, 'Canary'), h('dd', {}, e.canary && e.canary.model ? `${variant(e.canary)} at ${fmt(e.canary_percent)} %` : '–'),
    h('dt', {}, 'Shadows'), h('dd', {}, (e.shadows || []).map(variant).join(', ') || '–'),
    h('dt', {}, 'Environment'), h('dd', {}, e.environment || '–')));
  drawFacts(endpoint);
  const drawHistory = (deployments) => served.replaceChildren(table(['When', 'Strategy', 'Version', 'Status', 'By', 'Why'],
    deployments.map((d) => [time(d.created_at), d.strategy, variant(d.target), d.status, d.actor, d.reason || ''])));
  drawHistory(history.deployments);
  // The panel and the history follow what happens (here or by anyone else).
  const refresh = async () => {
    const [now, past] = await Promise.all([get(base), get(`${base}/deployments`)]);
    live.replaceChildren(canaryPanel(now));
    drawFacts(now);
    drawHistory(past.deployments);
  };
  // Live traffic from this server's /metrics, over each poll's interval.
  const traffic = h('p', { class: 'traffic', 'aria-live': 'off' }, 'Live traffic: measuring…');
  let reading = null;
  const sample = async () => {
    const text = await (await fetch('/metrics', { credentials: 'same-origin' })).text();
    const now = { at: performance.now(), totals: endpointTotals(parseMetrics(text), name) };
    if (reading) {
      const r = rates(reading.totals, now.totals, (now.at - reading.at) / 1000);
      traffic.textContent = `Live traffic on this server: ${fmt(Math.round(r.rps * 10) / 10)} requests/s` +
        (r.error_share === null ? '' : `, ${fmt(100 * r.error_share, 2)} % server errors`) +
        (r.p99_ms === null ? '' : `, p99 ≤ ${fmt(r.p99_ms, 2)} ms`) + '.';
    }
    reading = now;
  };
  sample().catch(() => {});
  const timer = setInterval(() => {
    refresh().catch(() => { /* the next poll tries again */ });
    sample().catch(() => {});
  }, 2000);
  onLeave(() => clearInterval(timer));

  const canDeploy = session.can('deploy');
  const model = h('input', { id: 'deploy-model', name: 'model', value: endpoint.production ? endpoint.production.model : '', required: true });
  const version = h('input', { id: 'deploy-version', name: 'version', size: 6, required: true });
  const strategy = h('select', { id: 'deploy-strategy', name: 'strategy' },
    ['canary', 'linear', 'all_at_once', 'shadow'].map((x) => h('option', { value: x }, x)));
  const percent = h('input', { id: 'deploy-percent', name: 'canary_percent', type: 'number', min: 1, max: 50, value: 10 });
  const deploy = async (event) => {
    event.preventDefault();
    const ref = `${model.value}@${version.value}`;
    if (!await confirmDialog('Deploy', `Deploy ${ref} to ${name} as ${strategy.value}?`, 'Deploy')) return;
    try {
      await post(`${base}/deployments`, { model: model.value, version: Number(version.value) || version.value,
        strategy: strategy.value, canary_percent: Number(percent.value) });
      message.replaceChildren(notice(`Deploying ${ref}.`, 'ok'));
      await refresh();
    } catch (error) { message.replaceChildren(notice(error.message)); }
  };
  const rollback = async () => {
    if (!await confirmDialog('Roll back', `Roll back ${name}? The canary is removed, or production returns to the version before.`, 'Roll back')) return;
    try {
      await post(`${base}/rollback`, { reason: 'rolled back from the console' });
      message.replaceChildren(notice('Rolled back.', 'ok'));
      await refresh();
    } catch (error) { message.replaceChildren(notice(error.message)); }
  };
  return h('div', { class: 'view' },
    h('h1', {}, name),
    facts, traffic,
    section('Canary', live),
    ab ? section('A/B test', abPanel(ab)) : null,
    shadows ? section('Shadows', shadowPanel(shadows.shadows)) : null,
    canDeploy ? section('Change',
      h('form', { class: 'toolbar', onsubmit: deploy },
        h('label', { for: 'deploy-model' }, 'Model'), model,
        h('label', { for: 'deploy-version' }, 'Version'), version,
        h('label', { for: 'deploy-strategy' }, 'Strategy'), strategy,
        h('label', { for: 'deploy-percent' }, 'Canary %'), percent,
        h('button', { type: 'submit' }, 'Deploy…'),
        h('button', { type: 'button', class: 'danger', onclick: rollback }, 'Roll back…')),
      message) : null,
    section('What served here, and when', served));
}
