// The landing page at `/`: links to the installed webapps, the plugins with their state and the
// data sources with their counters. The page itself is public and holds no data; its script reads
// the (permission-checked) JSON endpoints with the login cookie, and offers a login form when
// they answer 401.

import type { FastifyInstance } from 'fastify';

// Inline script and style: one self-contained page, no files to ship. Everything from the server is
// put in with textContent, never as HTML.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>signalk-edge</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:60rem;color:#123}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left;border-bottom:1px solid #ddd}
#apps a{display:inline-block;margin:.3rem 1rem .3rem 0;padding:.5rem .8rem;border:1px solid #89a;border-radius:.4rem;text-decoration:none}
#login{display:none;border:1px solid #c88;padding:1rem;max-width:20rem}.err{color:#a00}
</style></head><body>
<h1>signalk-edge</h1>
<form id="login"><p>Log in to see the boat's status.</p>
<p><input id="user" autocomplete="username" placeholder="user"> <input id="pass" type="password" autocomplete="current-password" placeholder="password"></p>
<p><button>Log in</button> <span id="loginError" class="err"></span></p></form>
<h2>Webapps</h2><div id="apps">…</div>
<h2>Plugins</h2><table id="plugins"><thead><tr><th>plugin</th><th>state</th><th>status</th></tr></thead><tbody></tbody></table>
<h2>Sources</h2><table id="sources"><thead><tr><th>source</th><th>type</th><th>state</th><th>lines</th><th>deltas</th><th>errors</th></tr></thead><tbody></tbody></table>
<p id="error" class="err"></p>
<script>
const el = (tag, text, attrs) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); Object.assign(e, attrs || {}); return e; };
const rows = (id, items, cells) => { const body = document.querySelector('#' + id + ' tbody'); body.replaceChildren(...items.map((i) => { const tr = el('tr'); for (const c of cells(i)) tr.append(el('td', c)); return tr; })); };
async function json(url) {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (r.status === 401) { document.getElementById('login').style.display = 'block'; throw new Error('not logged in'); }
  if (!r.ok) throw new Error(url + ': ' + r.status);
  return r.json();
}
async function refresh() {
  const apps = await json('/skServer/webapps');
  const box = document.getElementById('apps');
  box.replaceChildren(...apps.map((a) => el('a', (a.signalk && a.signalk.displayName) || a.name, { href: '/' + a.name + '/' })));
  if (apps.length === 0) box.textContent = 'none installed (signalk-edge install-webapp <package>)';
  try {
    const plugins = await json('/plugins');
    rows('plugins', plugins, (p) => [p.name || p.id, p.state, p.statusMessage || p.errorMessage || '']);
    const status = await json('/edge/v1/status');
    rows('sources', status.sources, (s) => [s.id, s.type, s.state, s.lines, s.deltas, Object.values(s.errors || {}).reduce((a, b) => a + b, 0)]);
    document.getElementById('error').textContent = '';
  } catch (e) { document.getElementById('error').textContent = e.message; }
}
document.getElementById('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const r = await fetch('/signalk/v1/auth/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: document.getElementById('user').value, password: document.getElementById('pass').value }) });
  if (!r.ok) { document.getElementById('loginError').textContent = 'login failed (' + r.status + ')'; return; }
  document.getElementById('login').style.display = 'none';
  refresh();
});
refresh().catch((e) => { document.getElementById('error').textContent = e.message; });
setInterval(() => refresh().catch(() => {}), 5000);
</script></body></html>
`;

export function landingRoutes(app: FastifyInstance): void {
  // Public: the page is the same for everyone; what it shows comes from the checked endpoints.
  app.get('/', { config: { access: 'public' } }, (_req, reply) =>
    reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(PAGE),
  );
}
