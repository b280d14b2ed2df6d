// Building the page without innerHTML: every value goes in as text, so nothing the server
// returns (a run's name, a reason) can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const svgNs = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNs, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children.flat()) {
    if (child !== undefined && child !== null)
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// `text` cut to `width` characters for a narrow column: its start and end kept, joined by
// '…', so the names of one series ('study-… #7') stay apart (the CLI's runs list does the same).
export function shortened(text, width = 32) {
  if (text.length <= width) return text;
  const tail = Math.floor((width - 1) / 3);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}

export function fmt(value, digits = 4) {
  if (value === null || value === undefined || value === '') return '–';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(digits);
  }
  return String(value);
}

export function time(text) {
  return text ? text.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–';
}

export function table(headers, rows, attrs) {
  return h('table', attrs || {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children);
}

export function notice(text, kind = 'error') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// A confirmation in the page (not window.confirm): resolves true when confirmed.
export function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-label': title },
      h('h2', {}, title), h('p', {}, text),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => { dialog.close(); dialog.remove(); resolve(false); } }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', onclick: () => { dialog.close(); dialog.remove(); resolve(true); } }, action)));
    document.body.append(dialog);
    dialog.showModal();
  });
}
