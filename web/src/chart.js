// Line charts with uPlot: one x axis (steps or times), one series per name.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';

const palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#be185d',
  '#4b5563', '#65a30d', '#9333ea'];

// series: [{label, x: [...], y: [...]}]; curves with different x are aligned on their union.
export function lineChart(series, { title, xLabel, yLabel, width = 720, height = 260, time = false } = {}) {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs];
  for (const one of series) {
    const ys = new Array(xs.length).fill(null);
    one.x.forEach((x, i) => { ys[index.get(x)] = one.y[i]; });
    data.push(ys);
  }
  const holder = h('figure', { class: 'chart' }, title ? h('figcaption', {}, title) : null);
  const options = {
    width, height,
    scales: { x: { time } },
    // Ticks every 20 px up the y axis (uPlot's 30 left one tick on the run page's short charts).
    axes: [{ label: xLabel }, { label: yLabel, space: 20 }],
    series: [{ label: xLabel || 'x' }, ...series.map((one, i) => ({
      label: one.label, stroke: palette[i % palette.length], width: 1.5, spanGaps: true,
      points: { show: xs.length < 60 },
    }))],
  };
  // uPlot measures its container: draw once the figure is in the page.
  requestAnimationFrame(() => { holder.plot = new uPlot(options, data, holder); });
  return holder;
}
