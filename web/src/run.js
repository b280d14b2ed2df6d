// A run: parameters, metrics, learning curves, its reports and files, its lineage; and runs
// compared side by side with their curves overlaid.
import { get, query, seg } from './api.js';
import { h, fmt, time, table, section, notice } from './dom.js';
import { lineChart } from './chart.js';

const artifactUrl = (run, name, inline) =>
  `/v1/runs/${seg(run)}/artifact${query({ path: name, inline: inline ? 1 : undefined })}`;

// A long table folded away behind its count.
function folded(count, content) {
  return count > 25 ? h('details', {}, h('summary', {}, `${count} entries`), content) : content;
}

async function curve(run, metric) {
  const c = await get(`/v1/runs/${seg(run)}/metrics/${seg(metric)}${query({ max_points: 2000 })}`);
  return { x: c.steps, y: c.values };
}

// A run's curves by metric: "train.aucpr" and "validation.aucpr" share the chart "aucpr" as
// the series "train" and "validation"; a name without a dot is a chart of its own.
function byMetric(curves) {
  const charts = new Map();
  for (const c of curves) {
    const dot = c.name.indexOf('.');
    const [metric, label] = dot > 0 ? [c.name.slice(dot + 1), c.name.slice(0, dot)] : [c.name, c.name];
    if (!charts.has(metric)) charts.set(metric, []);
    charts.get(metric).push({ ...c, label });
  }
  return [...charts];
}

export async function runView(params, id) {
  const run = await get(`/v1/runs/${seg(id)}`);
  const curves = await Promise.all((run.curves || []).map(async (m) => ({ name: m, ...(await curve(run.run_id, m)) })));
  const reports = run.artifacts.filter((a) => /\.html$/.test(a.name));
  // The data validation report (raw/validation.json), when the run has one.
  const validationFile = run.artifacts.find((a) => a.name === 'raw/validation.json');
  let validation = null;
  if (validationFile) {
    const response = await fetch(artifactUrl(run.run_id, validationFile.name), { credentials: 'same-origin' });
    if (response.ok) validation = await response.json();
  }
  const params_ = Object.entries(run.params);
  const metrics = Object.entries(run.metrics);
  return h('div', { class: 'view' },
    h('h1', {}, run.name || run.run_id),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Run'), h('dd', {}, run.run_id),
      h('dt', {}, 'Experiment'), h('dd', {}, h('a', { href: `#/runs?experiment=${encodeURIComponent(run.experiment)}` }, run.experiment)),
      h('dt', {}, 'Status'), h('dd', {}, h('span', { class: `status ${run.status}` }, run.status), run.error ? ` — ${run.error}` : ''),
      h('dt', {}, 'Started'), h('dd', {}, time(run.start_time)),
      h('dt', {}, 'Ended'), h('dd', {}, time(run.end_time)),
      h('dt', {}, 'By'), h('dd', {}, `${run.user}${run.host ? ' on ' + run.host : ''}`),
      h('dt', {}, 'Code'), h('dd', {}, run.code_version || '–'),
      run.note ? [h('dt', {}, 'Note'), h('dd', {}, run.note)] : null,
      // A tuning study's run: its trials are runs of their own, left out of the runs table.
      run.tags['fraudops.kind'] === 'study' ? [h('dt', {}, 'Trials'), h('dd', {},
        h('a', { href: `#/runs${query({ filter: `tags.fraudops.parent_run = ${run.run_id}`, trials: 1 })}` },
          `the trials of study ${run.tags['fraudops.study'] || ''}`.trim()))] : null),
    section('Learning curves', curves.length
      ? h('div', { class: 'charts' }, byMetric(curves).map(([metric, series]) => lineChart(series, { title: metric, xLabel: 'round', width: 560, height: 280 })))
      : h('p', {}, 'No per-round metrics were logged.')),
    section('Metrics', metrics.length ? folded(metrics.length, table(['Metric', 'Value'], metrics.map(([k, v]) => [k, fmt(v, 6)]), { class: 'kv' }))
      : h('p', {}, 'None recorded.')),
    section('Parameters', params_.length ? folded(params_.length, table(['Parameter', 'Value'], params_.map(([k, v]) => [k, v]), { class: 'kv' }))
      : h('p', {}, 'None recorded.')),
    validation ? section('Data validation',
      h('p', {}, `${fmt(validation.rows)} rows, ${fmt(validation.positives)} positives, ${fmt(validation.duplicate_rows)} duplicate rows; `,
        `${(validation.errors || []).length} errors, ${(validation.warnings || []).length} warnings.`),
      [...(validation.errors || []), ...(validation.warnings || [])].length ? h('ul', {},
        [...(validation.errors || []).map((e) => h('li', { class: 'bad' }, typeof e === 'string' ? e : JSON.stringify(e))),
          ...(validation.warnings || []).map((w) => h('li', {}, typeof w === 'string' ? w : JSON.stringify(w)))]) : null,
      folded(validation.columns.length, table(['Column', 'Type', 'Missing', 'Min', 'Max', 'ROC AUC alone', 'Excluded'],
        validation.columns.map((c) => [c.name, c.type, fmt(c.missing), fmt(c.min, 3), fmt(c.max, 3), fmt(c.roc_auc, 3), c.excluded || ''])))) : null,
    section('Data', run.datasets.length ? table(['Role', 'Rows', 'Content hash', 'Source'],
      run.datasets.map((d) => [d.role, fmt(d.rows), h('code', {}, d.content_hash.slice(0, 16)), d.source]))
      : h('p', {}, run.tags['fraudops.parent_run'] ? "None recorded: a trial trains on its study's data (its parent run)." : 'None recorded.')),
    reports.length ? section('Reports', h('ul', {}, reports.map((a) =>
      h('li', {}, h('a', { href: artifactUrl(run.run_id, a.name, true), target: '_blank', rel: 'noopener' }, a.name))))) : null,
    section('Files', run.tags['fraudops.artifacts'] ? h('p', {}, `Files ${run.tags['fraudops.artifacts']}.`) : null,
      run.artifacts.length ? table(['Name', 'Size', 'sha256'], run.artifacts.map((a) =>
        [h('a', { href: artifactUrl(run.run_id, a.name) }, a.name), fmt(a.size), h('code', {}, a.sha256.slice(0, 16))]))
        : run.tags['fraudops.artifacts'] ? null : h('p', {}, 'None recorded.')),
    section('Tags', table(['Tag', 'Value'], Object.entries(run.tags).map(([k, v]) =>
      [k, k === 'fraudops.parent_run' ? h('a', { href: `#/runs/${encodeURIComponent(v)}` }, v) : v]), { class: 'kv' })));
}

export async function compareView(params) {
  const ids = (params.get('runs') || '').split(',').filter(Boolean);
  if (ids.length < 2 || ids.length > 20) return notice('Choose 2 to 20 runs on the runs page to compare them.');
  const compared = await get(`/v1/runs/compare${query({ runs: ids.join(',') })}`);
  const names = compared.details.map((r) => r.name || r.run_id.slice(0, 13));
  // A fresh header for each table (a node can be in one place only).
  const header = () => ['', ...names.map((n, i) => h('a', { href: `#/runs/${encodeURIComponent(compared.runs[i])}` }, n))];
  const paramRows = Object.entries(compared.params).map(([k, values]) => [k, ...values]);
  const metricRows = Object.entries(compared.metrics).map(([k, values]) => [k, ...values.map((v, i) =>
    h('span', { class: compared.best[k] === compared.runs[i] ? 'best' : '' }, fmt(v, 5), compared.best[k] === compared.runs[i] ? ' ★' : ''))]);
  // Curves of the first run's per-round metrics, each overlaid across the runs.
  const details = await Promise.all(compared.runs.map((id) => get(`/v1/runs/${seg(id)}`)));
  const curveNames = [...new Set(details.flatMap((d) => d.curves || []))].slice(0, 6);
  const charts = await Promise.all(curveNames.map(async (m) => {
    const series = [];
    for (let i = 0; i < details.length; ++i) {
      if ((details[i].curves || []).includes(m)) series.push({ label: names[i], ...(await curve(details[i].run_id, m)) });
    }
    return lineChart(series, { title: m, xLabel: 'round' });
  }));
  return h('div', { class: 'view' },
    h('h1', {}, `Comparing ${ids.length} runs`),
    section('Parameters that differ', paramRows.length ? table(header(), paramRows, { class: 'compare' }) : h('p', {}, 'The runs have the same parameters.')),
    section('Metrics (★ best)', table(header(), metricRows, { class: 'compare' })),
    section('Curves', charts.length ? h('div', { class: 'charts' }, charts) : h('p', {}, 'No per-round metrics.')));
}
