// Where the console is (the hash), who is signed in, and what a view polls.

export const session = { who: null, can: () => false };

let stops = [];
// Views that poll register a stop function; leaving the view calls it.
export function onLeave(stop) { stops.push(stop); }
export function leave() { for (const stop of stops) stop(); stops = []; }

export function location() {
  const hash = window.location.hash.replace(/^#/, '') || '/runs';
  const [path, search] = hash.split('?');
  return { path, params: new URLSearchParams(search || '') };
}

export function navigate(path, params) {
  const search = params ? new URLSearchParams(params).toString() : '';
  window.location.hash = '#' + path + (search ? '?' + search : '');
}

// Replaces the URL's query without a new view (a view keeps its state in the URL).
export function remember(params) {
  const { path } = location();
  const search = new URLSearchParams(params).toString();
  history.replaceState(null, '', '#' + path + (search ? '?' + search : ''));
}
