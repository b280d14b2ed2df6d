// The registry: models, their versions, approval with a reason (by role, the author refused
// when duties are segregated), aliases, and a version's lineage from data to endpoint.
import { get, post, put, seg, ApiError } from './api.js';
import { h, s, fmt, time, table, section, notice } from './dom.js';
import { session } from './nav.js';

const metric = (v, name) => (v.metrics && v.metrics.test ? fmt(v.metrics.test[name]) : '–');

export async function modelsView() {
  const models = (await get('/v1/models')).models;
  return h('div', { class: 'view' }, h('h1', {}, 'Registry'),
    models.length ? table(['Model', 'Versions', 'Aliases', 'Latest', 'Approval', 'ROC AUC'], models.map((m) => [
      h('a', { href: `#/models/${encodeURIComponent(m.name)}` }, m.name), fmt(m.versions),
      Object.entries(m.aliases).map(([a, v]) => `${a}→v${v}`).join(', ') || '–',
      m.latest ? `v${m.latest.version}` : '–', m.latest ? m.latest.approval : '–',
      m.latest ? metric(m.latest, 'roc_auc') : '–'])) : h('p', {}, 'No model is registered yet.'));
}

export async function modelView(params, model) {
  const versions = (await get(`/v1/models/${seg(model)}/versions`)).versions;
  return h('div', { class: 'view' }, h('h1', {}, model),
    table(['Version', 'Approval', 'Aliases', 'ROC AUC', 'PR AUC', 'Created', 'Run'], versions.map((v) => [
      h('a', { href: `#/models/${encodeURIComponent(model)}/versions/${v.version}` }, `v${v.version}`),
      h('span', { class: `approval ${v.approval}` }, v.approval + (v.archived ? ' (archived)' : '')),
      (v.aliases || []).join(', ') || '–', metric(v, 'roc_auc'), metric(v, 'pr_auc'), time(v.created_at),
      h('a', { href: `#/runs/${encodeURIComponent(v.run_id)}` }, v.run_id.slice(0, 13))])));
}

// The lineage graph: one column per kind, left to right, edges as lines.
function lineageGraph(graph) {
  const order = ['data', 'run', 'artifact', 'version', 'endpoint'];
  const columns = order.map((kind) => graph.nodes.filter((n) => n.kind === kind));
  const W = 190, H = 46, GAP_X = 40, GAP_Y = 14;
  const place = new Map();
  columns.forEach((nodes, c) => nodes.forEach((n, r) => place.set(n.id, { x: c * (W + GAP_X), y: r * (H + GAP_Y) })));
  const width = order.length * (W + GAP_X);
  const height = Math.max(...columns.map((c) => c.length), 1) * (H + GAP_Y);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'Lineage from data to endpoints', class: 'lineage' });
  for (const e of graph.edges) {
    const a = place.get(e.from), b = place.get(e.to);
    if (!a || !b) continue;
    svg.append(s('line', { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2, class: `edge ${e.kind}` }));
  }
  for (const n of graph.nodes) {
    const p = place.get(n.id);
    const label = n.label.length > 26 ? n.label.slice(0, 25) + '…' : n.label;
    const detail = n.kind === 'endpoint' ? (n.roles || []).join(', ') : n.kind === 'version' ? n.approval : n.kind;
    svg.append(s('g', { class: `node ${n.kind}` },
      s('title', {}, n.id),
      s('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6 }),
      s('text', { x: p.x + 8, y: p.y + 19 }, label),
      s('text', { x: p.x + 8, y: p.y + 36, class: 'detail' }, detail)));
  }
  return h('div', { class: 'graph' }, svg);
}

export async function versionView(params, model, ref) {
  const [version, lineage] = await Promise.all([
    get(`/v1/models/${seg(model)}/versions/${seg(ref)}`),
    get(`/v1/models/${seg(model)}/versions/${seg(ref)}/lineage`)]);
  // The version's documents: its run's HTML reports (evaluation, bias, model card), sandboxed.
  const run = await get(`/v1/runs/${seg(version.run_id)}`);
  const documents = run.artifacts.filter((a) => /\.html$/.test(a.name));
  const author = lineage.run.user;
  const message = h('div', { 'aria-live': 'polite' });
  const base = `/v1/admin/models/${seg(model)}/versions/${version.version}`;
  const reason = h('input', { id: 'approval-reason', name: 'reason', size: 50, required: true,
    placeholder: 'e.g. reviewed the evaluation and bias reports' });
  const act = (action) => async (event) => {
    event.preventDefault();
    if (!reason.value.trim()) { message.replaceChildren(notice('Give a reason: it goes into the audit log.')); return; }
    try {
      await post(`${base}/${action}`, { reason: reason.value.trim() });
      message.replaceChildren(notice(`Version ${version.version} ${action === 'approve' ? 'approved' : 'rejected'}.`, 'ok'));
      setTimeout(() => window.dispatchEvent(new HashChangeEvent('hashchange')), 600);
    } catch (error) {
      const why = error instanceof ApiError && error.status === 403 && error.code === 'forbidden'
        ? `Refused: ${error.message}` : error.message;
      message.replaceChildren(notice(why));
    }
  };
  const canApprove = session.can('approve');
  const approval = section('Approval',
    h('p', {}, 'Status: ', h('strong', { class: `approval ${version.approval}` }, version.approval),
      version.approval_by ? ` by ${version.approval_by}` : '', version.approval_reason ? ` — “${version.approval_reason}”` : ''),
    h('p', { class: 'duties' }, `Trained by ${author}. With segregation of duties, its author may not approve it, and its approver may not deploy it.`),
    canApprove && version.approval === 'pending' ? h('form', { class: 'toolbar', onsubmit: act('approve') },
      h('label', { for: 'approval-reason' }, 'Reason'), reason,
      h('button', { type: 'submit' }, 'Approve'),
      h('button', { type: 'button', class: 'danger', onclick: act('reject') }, 'Reject')) :
      (version.approval === 'pending' ? h('p', {}, 'You do not hold the approver role.') : null),
    message);
  const alias = h('input', { id: 'alias-name', name: 'alias', size: 16, placeholder: 'champion' });
  const aliasMessage = h('div', { 'aria-live': 'polite' });
  const aliases = section('Aliases', h('p', {}, (version.aliases || []).join(', ') || 'none'),
    canApprove ? h('form', { class: 'toolbar', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await put(`/v1/models/${seg(model)}/aliases/${seg(alias.value.trim())}`, { version: version.version });
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (error) { aliasMessage.replaceChildren(notice(error.message)); }
    } }, h('label', { for: 'alias-name' }, 'Move alias here'), alias, h('button', { type: 'submit' }, 'Set')) : null,
    aliasMessage);
  // The numbers of the version's metrics, by dotted name (nested groups flattened).
  const metrics = [];
  const walk = (prefix, value) => {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
      metrics.push([prefix, fmt(value, 5)]);
    else if (value && typeof value === 'object' && !Array.isArray(value))
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
  };
  walk('', version.metrics || {});
  return h('div', { class: 'view' },
    h('h1', {}, `${model} v${version.version}`),
    h('p', {}, `Registered ${time(version.created_at)} from run `, h('a', { href: `#/runs/${encodeURIComponent(version.run_id)}` }, version.run_id),
      `; ${version.algorithm}, threshold ${fmt(version.threshold)}.`),
    documents.length ? section('Model card and reports', h('ul', {}, documents.map((a) => h('li', {},
      h('a', { href: `/v1/runs/${seg(run.run_id)}/artifact?path=${encodeURIComponent(a.name)}&inline=1`, target: '_blank', rel: 'noopener' },
        a.name.includes('model_card') ? `Model card (${a.name})` : a.name))))) : null,
    approval, aliases,
    section('Lineage', lineageGraph(lineage.graph)),
    section('Metrics', h('details', {}, h('summary', {}, `${metrics.length} values`), table(['Metric', 'Value'], metrics, { class: 'kv' }))),
    version.policy ? section('Decision policy', h('pre', {}, version.policy)) : null,
    section('History', table(['When', 'What', 'Who', 'Details'], (version.audit || []).map((a) =>
      [time(a.at), a.action, a.actor, JSON.stringify(a.details)]))));
}
