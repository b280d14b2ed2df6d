// The console: a hash router over views, the signed-in person, and the login form.
import './style.css';
import { api, get, post, setCsrf, ApiError } from './api.js';
import { h, notice } from './dom.js';
import { runsView } from './runs.js';
import { runView, compareView } from './run.js';
import { modelsView, modelView, versionView } from './registry.js';
import { endpointsView, endpointView } from './endpoints.js';
import { monitoringView, auditView } from './monitoring.js';
import { session, location, leave } from './nav.js';

const routes = [
  [/^\/runs$/, runsView],
  [/^\/runs\/compare$/, compareView],
  [/^\/runs\/([^/]+)$/, runView],
  [/^\/models$/, modelsView],
  [/^\/models\/([^/]+)$/, modelView],
  [/^\/models\/([^/]+)\/versions\/([^/]+)$/, versionView],
  [/^\/endpoints$/, endpointsView],
  [/^\/endpoints\/([^/]+)$/, endpointView],
  [/^\/monitoring$/, monitoringView],
  [/^\/monitoring\/([^/]+)$/, monitoringView],
  [/^\/audit$/, auditView],
];

async function render() {
  leave();
  const main = document.getElementById('main');
  if (!session.who) return;
  const { path, params } = location();
  for (const [pattern, view] of routes) {
    const match = pattern.exec(path);
    if (!match) continue;
    const args = match.slice(1).map(decodeURIComponent);
    main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    try {
      const content = await view(params, ...args);
      main.replaceChildren(content);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return showLogin();
      main.replaceChildren(notice(error.message));
    }
    document.title = `fraudops – ${path.split('/')[1] || 'runs'}`;
    for (const a of document.querySelectorAll('nav a')) {
      a.toggleAttribute('aria-current', path.startsWith(a.getAttribute('href').slice(1)));
    }
    return;
  }
  main.replaceChildren(notice(`No page ${path}`));
}

function showWho() {
  const who = document.getElementById('who');
  if (!session.who) { who.replaceChildren(); return; }
  who.replaceChildren(
    h('span', {}, `${session.who.name || session.who.actor} (${(session.who.roles || session.who.scopes || []).join(', ') || 'no role'})`),
    session.who.kind === 'anonymous' ? null :
      h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
}

function setSession(who) {
  session.who = who;
  session.can = (permission) => (who.permissions || []).includes(permission);
  setCsrf(who.csrf_token);
  showWho();
}

async function signOut() {
  try { await api('DELETE', '/v1/sessions/current'); } catch { /* signed out anyway */ }
  session.who = null;
  setCsrf('');
  showWho();
  showLogin();
}

function showLogin(message) {
  const main = document.getElementById('main');
  const error = h('div', { 'aria-live': 'polite' }, message ? notice(message) : null);
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const token = h('input', { id: 'login-token', name: 'token', autocomplete: 'off' });
  const submit = async (event) => {
    event.preventDefault();
    const body = token.value ? { token: token.value } : { user: user.value, password: password.value };
    try {
      await post('/v1/sessions', body);
      setSession(await get('/v1/sessions/current'));
      render();
    } catch (e) {
      error.replaceChildren(notice(e.message));
    }
  };
  main.replaceChildren(h('section', { class: 'login' },
    h('h1', {}, 'Sign in'),
    h('form', { onsubmit: submit },
      h('label', { for: 'login-user' }, 'User'), user,
      h('label', { for: 'login-password' }, 'Password'), password,
      h('details', {}, h('summary', {}, 'Sign in with a token instead'),
        h('label', { for: 'login-token' }, 'OIDC or personal access token'), token),
      h('button', { type: 'submit' }, 'Sign in')),
    error));
  user.focus();
}

async function start() {
  try {
    const who = await get('/v1/sessions/current');
    if (who.signed_in === false) return showLogin();
    setSession(who);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin();
    document.getElementById('main').replaceChildren(notice(error.message));
    return;
  }
  render();
}

window.addEventListener('hashchange', render);
document.addEventListener('DOMContentLoaded', start);
