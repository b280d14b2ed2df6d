// Monitoring: drift per feature (PSI, KS) and delayed-label quality over time, the reports
// and their alerts, the schedule's history; and the audit log, searchable.
import { get, query, seg } from './api.js';
import { h, fmt, time, table, section } from './dom.js';
import { navigate } from './nav.js';
import { lineChart } from './chart.js';

// Report directory names are times with '-' for ':' (2026-12-01T10-00-00Z).
const when = (t) => Date.parse(t.replace(/T(\d\d)-(\d\d)-(\d\d)/, 'T$1:$2:$3')) / 1000;

export async function monitoringView(params, endpointName) {
  const endpoints = (await get('/v1/admin/endpoints')).endpoints;
  const name = endpointName || (endpoints[0] && endpoints[0].name);
  const picker = h('select', { id: 'monitor-endpoint', onchange: (e) => navigate(`/monitoring/${encodeURIComponent(e.target.value)}`) },
    endpoints.map((e) => h('option', { value: e.name, selected: e.name === name }, e.name)));
  const head = [h('h1', {}, 'Monitoring'), h('p', { class: 'toolbar' }, h('label', { for: 'monitor-endpoint' }, 'Endpoint'), picker)];
  if (!name) return h('div', { class: 'view' }, ...head, h('p', {}, 'Nothing is deployed yet.'));
  const [series, reports, experiments, schedules] = await Promise.all([
    get(`/v1/monitoring/${seg(name)}/series`), get(`/v1/monitoring/${seg(name)}/reports`), get('/v1/experiments'),
    get('/v1/schedules')]);
  const x = series.times.map(when);
  const last = (values) => values.filter((v) => v !== null).slice(-1)[0] || 0;
  const top = Object.entries(series.psi).sort((a, b) => last(b[1]) - last(a[1])).slice(0, 8);
  const ks = top.filter(([feature]) => (series.ks[feature] || []).some((v) => v !== null))
    .map(([feature]) => ({ label: feature, x, y: series.ks[feature] }));
  const histories = await Promise.all(experiments.experiments.map(async (e) =>
    [e.name, (await get(`/v1/schedules/${seg(e.name)}/history${query({ limit: 20 })}`)).runs]));
  const scheduled = histories.filter(([, runs]) => runs.length);
  return h('div', { class: 'view' }, ...head,
    x.length ? [
      section('Drift: PSI of the most drifted features',
        lineChart(top.map(([feature, values]) => ({ label: feature, x, y: values })), { xLabel: 'time', yLabel: 'PSI', time: true })),
      ks.length ? section('Drift: KS statistic of the same features',
        lineChart(ks, { xLabel: 'time', yLabel: 'KS', time: true })) : null,
      Object.keys(series.quality).length ? section('Quality from delayed labels',
        lineChart(Object.entries(series.quality).map(([m, values]) => ({ label: m, x, y: values })), { xLabel: 'time', time: true })) : null,
    ] : h('p', {}, 'No monitoring report yet (fraudops monitor run, or monitor.interval in serve).'),
    section('Reports', table(['Time', 'Model', 'Alerts', 'Drifted', 'Quality'], reports.reports.map((r) => [
      r.time, r.model, h('span', { class: r.alerts ? 'alerting' : '' }, fmt(r.alerts)),
      (r.drift_violations || []).join(', ') || '–',
      Object.entries(r.quality || {}).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(', ') || '–']))),
    section('Schedule', table(['Pipeline', 'Cron (UTC)', 'Triggers', 'Next runs'], schedules.schedules.map((x) => [
      x.pipeline, x.cron || '–', x.triggers.join(', ') || 'none', x.next.map(time).join(', ') || '–']))),
    section('Scheduled runs', scheduled.length ? scheduled.map(([pipeline, runs]) => [h('h3', {}, pipeline),
      table(['Scheduled for', 'Trigger', 'Why', 'Status', 'Version', 'Deployment'], runs.map((r) => [
        time(r.scheduled_for), r.trigger, r.reason, r.status, r.model ? `${r.model}@${r.version}` : '–', r.deployment || '–']))])
      : h('p', {}, 'No scheduled run yet (fraudops schedule).')));
}

export async function auditView(params) {
  const entries = (await get('/v1/admin/audit')).audit.slice().reverse();  // newest first
  const search = h('input', { id: 'audit-search', type: 'search', value: params.get('q') || '', size: 40,
    placeholder: 'actor, action, model, reason…' });
  const body = h('tbody');
  const counter = h('span', { class: 'count', 'aria-live': 'polite' });
  const draw = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = entries.filter((e) => {
      const text = `${e.at} ${e.actor} ${e.action} ${e.model} ${e.version} ${JSON.stringify(e.details)}`.toLowerCase();
      return words.every((w) => text.includes(w));
    }).slice(0, 500);
    counter.textContent = `${shown.length} of ${entries.length} entries`;
    body.replaceChildren(...shown.map((e) => h('tr', {}, h('td', {}, time(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
      h('td', {}, e.model ? `${e.model}${e.version ? '@' + e.version : ''}` : '–'), h('td', {}, h('code', {}, JSON.stringify(e.details))))));
  };
  search.addEventListener('input', draw);
  draw();
  return h('div', { class: 'view' }, h('h1', {}, 'Audit log'),
    h('p', { class: 'toolbar' }, h('label', { for: 'audit-search' }, 'Search'), search, counter),
    h('table', {}, h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'Model', 'Details'].map((x) => h('th', { scope: 'col' }, x)))), body));
}
