// The runs table: filtered, sorted and paged by the server; only the rows in view are in the
// page (virtual scrolling), so 10,000 runs cost what 40 do. Its state lives in the URL.
import { get, query } from './api.js';
import { h, fmt, time, notice, shortened } from './dom.js';
import { navigate, remember } from './nav.js';

const ROW = 30;        // px, as style.css sets .runs tr
const PAGE = 100;      // runs a request asks for
const OVERSCAN = 10;   // rows drawn beyond the view, each side
const COLUMNS = [      // the run's own columns: [key, label, sortable as]
  ['name', 'Run', 'run_id'], ['experiment', 'Experiment', 'experiment'],
  ['status', 'Status', 'status'], ['start_time', 'Started', 'start_time'], ['user', 'By', null],
];

export async function runsView(params) {
  const state = {
    filter: params.get('filter') || '',
    experiment: params.get('experiment') || '',
    status: params.get('status') || '',
    order_by: params.get('order_by') || '',
    order: params.get('order') || 'desc',
    trials: params.get('trials') === '1',   // tuning studies' trial runs (30 a tuned run)
    metrics: (params.get('metrics') || 'test.roc_auc,test.pr_auc,test.recall_at_fpr_1pct')
      .split(',').map((m) => m.trim()).filter(Boolean),
  };
  const selected = new Set((params.get('selected') || '').split(',').filter(Boolean));
  const experiments = (await get('/v1/experiments')).experiments;

  const filter = h('input', { id: 'runs-filter', name: 'filter', value: state.filter, size: 48,
    placeholder: 'test.pr_auc >= 0.8 and params.train.xgboost.eta = 0.1 and tags.team = risk' });
  const experiment = h('select', { id: 'runs-experiment', name: 'experiment' },
    h('option', { value: '' }, 'all'),
    experiments.map((e) => h('option', { value: e.name, selected: e.name === state.experiment })));
  // Each experiment's runs as the table counts them: its tuning trials only with the box ticked.
  const countExperiments = () => experiments.forEach((e, i) => {
    experiment.options[i + 1].textContent = `${e.name} (${e.runs - (state.trials ? 0 : e.trials)})`;
  });
  const status = h('select', { id: 'runs-status', name: 'status' },
    ['', 'running', 'succeeded', 'gate_failed', 'failed', 'pruned', 'skipped', 'locked']
      .map((s) => h('option', { value: s, selected: s === state.status }, s || 'any')));
  const trials = h('input', { id: 'runs-trials', name: 'trials', type: 'checkbox', checked: state.trials });
  const metrics = h('input', { id: 'runs-metrics', name: 'metrics', value: state.metrics.join(', '), size: 40 });
  const counter = h('span', { class: 'count', 'aria-live': 'polite' });
  const compare = h('button', { type: 'button', disabled: selected.size < 2, onclick: () =>
    navigate('/runs/compare', { runs: [...selected].join(',') }) }, 'Compare selected');
  const message = h('div');

  const headerRow = h('tr');
  const head = h('thead', {}, headerRow);
  const body = h('tbody');
  const grid = h('table', { class: 'runs', 'aria-rowcount': 0 }, head, body);
  const scroller = h('div', { class: 'scroller', tabindex: 0, 'aria-label': 'Runs' }, grid);

  let total = 0;
  let hidden = 0;          // trials the query left out
  let pages = new Map();   // page index -> runs (or a pending promise)
  let generation = 0;      // bumps when the query changes: late pages of an old query are dropped

  const apiQuery = (offset) => query({
    filter: state.filter, experiment: state.experiment, status: state.status,
    order_by: state.order_by, order: state.order, limit: PAGE, offset,
    trials: state.trials ? 'include' : 'exclude',
    metrics: state.metrics.join(','),
  });

  function drawHeader() {
    const sortable = (label, key) => {
      if (!key) return h('th', { scope: 'col' }, label);
      const active = state.order_by === key || (!state.order_by && key === 'start_time');
      const direction = active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none';
      return h('th', { scope: 'col', 'aria-sort': direction },
        h('button', { type: 'button', class: 'sort', onclick: () => sortBy(key) },
          label, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : ''));
    };
    headerRow.replaceChildren(h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Select')),
      ...COLUMNS.map(([, label, key]) => sortable(label, key)),
      ...state.metrics.map((m) => sortable(m, m)));
  }

  function sortBy(key) {
    if (state.order_by === key || (!state.order_by && key === 'start_time'))
      state.order = state.order === 'asc' ? 'desc' : 'asc';
    else { state.order_by = key; state.order = 'desc'; }
    reload();
  }

  function load(page) {
    if (pages.has(page)) return;
    const mine = generation;
    const pending = get('/v1/runs' + apiQuery(page * PAGE)).then((answer) => {
      if (mine !== generation) return;
      pages.set(page, answer.runs);
      if (answer.total !== total || (answer.hidden_trials || 0) !== hidden) {
        total = answer.total;
        hidden = answer.hidden_trials || 0;
        sizeGrid();
      }
      draw();
    }).catch((error) => { if (mine === generation) message.replaceChildren(notice(error.message)); });
    pages.set(page, pending);
  }

  function sizeGrid() {
    grid.setAttribute('aria-rowcount', total);
    counter.textContent = `${total} run${total === 1 ? '' : 's'}` +
      (hidden ? ` (${hidden} tuning trial${hidden === 1 ? '' : 's'} not shown)` : '');
  }

  function row(run, index) {
    const box = h('input', { type: 'checkbox', checked: selected.has(run.run_id),
      'aria-label': `Select ${run.name || run.run_id}`, onchange: (e) => {
        if (e.target.checked) selected.add(run.run_id); else selected.delete(run.run_id);
        compare.disabled = selected.size < 2 || selected.size > 20;
      } });
    return h('tr', { 'aria-rowindex': index + 1 },
      h('td', {}, box),
      h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(run.run_id)}`, title: run.name || run.run_id },
        run.name ? shortened(run.name) : run.run_id.slice(0, 13))),
      h('td', {}, run.experiment),
      h('td', {}, h('span', { class: `status ${run.status}` }, run.status)),
      h('td', {}, time(run.start_time)),
      h('td', {}, run.user),
      state.metrics.map((m) => h('td', { class: 'num' }, fmt(run.metrics[m]))));
  }

  function draw() {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(total, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW) + OVERSCAN);
    const rows = [];
    for (let i = first; i < last; ++i) {
      const page = pages.get(Math.floor(i / PAGE));
      if (!Array.isArray(page)) { load(Math.floor(i / PAGE)); rows.push(h('tr', { class: 'placeholder' }, h('td', { colspan: 6 + state.metrics.length }, '…'))); continue; }
      const run = page[i % PAGE];
      if (run) rows.push(row(run, i));
    }
    const top = h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td'));
    top.firstChild.style.height = `${first * ROW}px`;
    const bottom = h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td'));
    bottom.firstChild.style.height = `${Math.max(0, total - last) * ROW}px`;
    body.replaceChildren(top, ...rows, bottom);
  }

  function reload() {
    ++generation;
    pages = new Map();
    total = 0;
    hidden = 0;
    message.replaceChildren();
    countExperiments();
    remember({ ...Object.fromEntries(Object.entries(state).filter(([k, v]) => k !== 'metrics' && k !== 'trials' && v)),
      ...(state.trials ? { trials: '1' } : {}), metrics: state.metrics.join(',') });
    drawHeader();
    scroller.scrollTop = 0;
    load(0);
  }

  let scheduled = false;
  scroller.addEventListener('scroll', () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; draw(); });
  });

  const form = h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    state.filter = filter.value.trim();
    state.experiment = experiment.value;
    state.status = status.value;
    state.trials = trials.checked;
    state.metrics = metrics.value.split(',').map((m) => m.trim()).filter(Boolean);
    reload();
  } },
  h('label', { for: 'runs-filter' }, 'Filter'), filter,
  h('label', { for: 'runs-experiment' }, 'Experiment'), experiment,
  h('label', { for: 'runs-status' }, 'Status'), status,
  h('label', { for: 'runs-trials' }, 'Tuning trials'), trials,
  h('label', { for: 'runs-metrics' }, 'Metric columns'), metrics,
  h('button', { type: 'submit' }, 'Apply'));

  reload();
  return h('div', { class: 'view' }, h('h1', {}, 'Runs'), form,
    h('div', { class: 'toolbar' }, counter, compare), message, scroller);
}
