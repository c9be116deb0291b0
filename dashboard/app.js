// The dashboard: plain JS over the master's API. Text goes in with textContent only (never HTML).
// A state-changing request carries the session's CSRF token in a header; reads use the cookie.
const $ = (id) => document.getElementById(id);
const state = { me: undefined, csrf: '', data: {}, source: undefined, timer: undefined, filter: '' };

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM: the CSP forbids inline style attributes, not this
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}

const bytes = (b) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; } return `${b.toFixed(i ? 1 : 0)} ${u[i]}`; };
const ago = (t) => { if (!t) return '-'; const s = Math.max(0, Math.round((Date.now() - t) / 1000)); return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`; };
const time = (t) => (t ? new Date(t).toLocaleTimeString() : '-');
const pct = (u, t) => (t ? Math.min(100, Math.round((100 * u) / t)) : 0);

function say(text, error = false) {
  const m = $('message');
  m.textContent = text;
  m.className = error ? 'error' : '';
  m.hidden = false;
}

async function api(path, options = {}) {
  const headers = { ...(options.body !== undefined && { 'content-type': 'application/json' }), ...(options.method && options.method !== 'GET' && { 'x-csrf-token': state.csrf }) };
  const r = await fetch(path, { ...options, headers, credentials: 'same-origin' });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401 && path !== '/api/session') { showLogin(); }
  return { status: r.status, body };
}

// ---- session
async function start() {
  $('login').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', render);
  const r = await api('/api/session');
  if (r.status === 200) signedIn(r.body); else showLogin();
}

async function login(e) {
  e.preventDefault();
  const r = await api('/api/session', { method: 'POST', body: JSON.stringify({ token: $('token').value.trim() }) });
  $('token').value = '';
  if (r.status !== 200) return say(`Log in refused: ${r.body.message ?? r.status}`, true);
  $('message').hidden = true;
  signedIn(r.body);
}

async function logout() {
  await api('/api/session', { method: 'DELETE' });
  state.source?.close();
  state.me = undefined;
  showLogin();
}

function showLogin() {
  $('login').hidden = false;
  $('nav').hidden = true;
  $('view').replaceChildren();
}

function signedIn(me) {
  state.me = me;
  state.csrf = me.csrf;
  $('login').hidden = true;
  $('nav').hidden = false;
  $('who').textContent = `${me.name} (${me.role})`;
  document.body.dataset.role = me.role;
  if (!location.hash) location.hash = '#overview';
  live();
  refresh();
}

// ---- live updates: the master's events; a new look re-reads what is shown (at most once a second)
function live() {
  state.source?.close();
  const es = new EventSource('/api/events');
  state.source = es;
  es.onopen = () => $('live').classList.add('on');
  es.onerror = () => $('live').classList.remove('on');
  const soon = () => { clearTimeout(state.timer); state.timer = setTimeout(refresh, 300); };
  es.addEventListener('look', soon);
  es.addEventListener('journal', soon);
  es.addEventListener('watch', soon);
  es.addEventListener('apply', (m) => { const e = JSON.parse(m.data); if (e.type === 'operation-finished' || e.type === 'summary') soon(); });
}

async function refresh() {
  if (!state.me) return;
  const [clusters, nodes, instances, journal, plan, drift] = await Promise.all(
    ['/api/clusters', '/api/nodes', '/api/instances?limit=5000', '/api/journal?limit=50', '/api/plan', '/api/drift'].map((p) => api(p)));
  if (clusters.status !== 200) { if (clusters.status === 503) setTimeout(refresh, 1000); return; }
  state.data = { clusters: clusters.body, nodes: nodes.body, instances: instances.body, journal: journal.body, plan: plan.body, drift: drift.body };
  render();
}

// ---- actions
async function act(path, what) {
  const r = await api(path, { method: 'POST' });
  if (r.status === 200) say(r.body.message);
  else say(`${what} refused (${r.status}): ${r.body.message ?? r.body.error}`, true);
  refresh();
}

const button = (label, path, what) => h('button', { type: 'button', class: state.me.role === 'operator' ? '' : 'viewer', title: state.me.role === 'operator' ? what : 'operators only', 'data-action': label, onclick: () => act(path, what) }, label);

// ---- views
function render() {
  if (!state.me || !state.data.nodes) return;
  const [page, arg] = (location.hash.slice(1) || 'overview').split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.getAttribute('href') === `#${page}`);
  const view = { overview, instances: instancesPage, node: () => nodePage(decodeURIComponent(arg ?? '')), plan: planPage, journal: journalPage }[page] ?? overview;
  $('view').replaceChildren(...view());
}

function overview() {
  const cards = state.data.clusters.clusters.flatMap((c) => [
    h('div', { class: 'card' }, h('h3', {}, `Cluster ${c.name}`), h('div', { class: 'big' }, `${c.nodes.up}/${c.nodes.total} nodes up`),
      c.nodes.down ? h('div', { class: 'bad' }, `${c.nodes.down} down`) : h('div', { class: 'good' }, 'all nodes up'),
      h('div', {}, `${c.nodes.drained} drained, ${c.nodes.offline} offline`)),
    h('div', { class: 'card' }, h('h3', {}, 'Memory used'), h('div', { class: 'big' }, `${pct(c.memory.used, c.memory.total)}%`),
      h('div', { class: 'bar' }, h('span', { style: `width:${pct(c.memory.used, c.memory.total)}%` })), h('div', {}, `${bytes(c.memory.used)} of ${bytes(c.memory.total)}; vcpus ${c.vcpus.used}/${c.vcpus.total}`)),
    h('div', { class: 'card' }, h('h3', {}, 'N+1'), h('div', { class: `big ${c.n1.ok ? 'good' : 'bad'}` }, c.n1.ok ? 'OK' : 'failing'),
      h('div', {}, c.n1.ok ? 'every node\'s failure fits' : `if ${c.n1.failing.join(', ')} failed, not everything fits`)),
    h('div', { class: 'card' }, h('h3', {}, 'Instances'), h('div', { class: 'big' }, `${c.instances.running}/${c.instances.total} running`),
      h('div', { class: c.instances.degraded ? 'warn' : '' }, `${c.instances.degraded} degraded; cluster score ${c.score.toFixed(3)}`)),
    ...c.guards.map((g) => h('div', { class: 'card bad' }, h('h3', {}, 'Failover stopped'), g)),
  ]);
  return [h('div', { class: 'cards' }, cards), h('h2', {}, 'Nodes'), nodesTable(state.data.nodes.nodes)];
}

function nodesTable(nodes) {
  const rows = nodes.map((n) => h('tr', { 'data-node': n.name, 'data-health': n.health, class: n.health === 'up' ? '' : 'down' },
    h('td', {}, h('a', { href: `#node/${encodeURIComponent(n.name)}` }, n.name)),
    h('td', { class: 'health' }, n.health + (n.nodeDownSince ? ` ${ago(n.nodeDownSince)}` : '')),
    h('td', { class: 'flags' }, [...n.flags, n.override ? `(${n.override.drained ? 'drained' : 'undrained'} by ${n.override.by})` : ''].filter(Boolean).join(' ') || '-'),
    h('td', {}, `${bytes(n.memory.used)} / ${bytes(n.memory.total)}`), h('td', { class: 'hide-narrow' }, `${n.vcpus.used}/${n.vcpus.total}`),
    h('td', {}, String(n.primaries)), h('td', {}, String(n.secondaries)),
    h('td', {}, n.flags.includes('drained') ? button('undrain', `/api/nodes/${encodeURIComponent(n.name)}/undrain`, `Undrain ${n.name}`) : button('drain', `/api/nodes/${encodeURIComponent(n.name)}/drain`, `Drain ${n.name}`))));
  return h('div', { class: 'scroll' }, h('table', { id: 'nodes' }, h('thead', {}, h('tr', {}, ['Node', 'Health', 'Flags', 'Memory', 'VCPUs', 'Pinst', 'Sinst', ''].map((t, i) => h('th', { class: i === 4 ? 'hide-narrow' : '' }, t)))), h('tbody', {}, rows)));
}

function instancesTable(list) {
  const rows = list.map((i) => h('tr', { 'data-instance': i.name, class: i.state === 'node-down' ? 'down' : '' },
    h('td', {}, i.name), h('td', { class: 'primary' }, i.primary ?? '-'), h('td', { class: 'secondary' }, i.secondary ?? '-'), h('td', { class: 'hide-narrow' }, i.image),
    h('td', {}, bytes(i.memory)), h('td', { class: 'hide-narrow' }, String(i.vcpus)), h('td', { class: 'hide-narrow' }, i.disks.map((d) => bytes(d.size)).join(', ')),
    h('td', { class: `state ${i.state === 'running' ? 'good' : i.state === 'node-down' ? 'bad' : ''}` }, i.state),
    h('td', {}, i.recoveryPoint ? ago(i.recoveryPoint) : '-'), h('td', { class: i.degraded ? 'warn' : '' }, i.degraded ? 'yes' : 'no'),
    h('td', {}, i.secondary ? [button('migrate', `/api/instances/${encodeURIComponent(i.name)}/migrate`, `Migrate ${i.name}`), ' ', button('failover', `/api/instances/${encodeURIComponent(i.name)}/failover`, `Fail over ${i.name}`)] : '')));
  const heads = ['Instance', 'Primary', 'Secondary', 'Image', 'Memory', 'VCPUs', 'Disks', 'State', 'Recovery point', 'Degraded', ''];
  return h('div', { class: 'scroll' }, h('table', { id: 'instances' }, h('thead', {}, h('tr', {}, heads.map((t, i) => h('th', { class: [3, 5, 6].includes(i) ? 'hide-narrow' : '' }, t)))), h('tbody', {}, rows)));
}

function instancesPage() {
  const all = state.data.instances.instances;
  const shown = state.filter ? all.filter((i) => i.name.includes(state.filter) || i.primary === state.filter || i.secondary === state.filter) : all;
  const filter = h('input', { class: 'filter', placeholder: 'filter: name or node', value: state.filter, oninput: (e) => { state.filter = e.target.value; render(); $('filter')?.focus(); }, id: 'filter' });
  return [h('h2', {}, `Instances (${state.data.instances.total})`), filter, instancesTable(shown)];
}

function nodePage(name) {
  const n = state.data.nodes.nodes.find((x) => x.name === name);
  if (!n) return [h('p', {}, `No node ${name}.`)];
  const mine = state.data.instances.instances.filter((i) => i.primary === name || i.secondary === name);
  return [h('h2', {}, `Node ${name}`), nodesTable([n]), n.error ? h('p', { class: 'bad' }, n.error) : '', n.failoverBlocked ? h('p', { class: 'warn' }, `No automatic failover: ${n.failoverBlocked}`) : '',
    h('h2', {}, `Its instances (${mine.length})`), instancesTable(mine)];
}

function planPage() {
  const p = state.data.plan;
  const ops = p.operations.map((o) => h('li', {}, h('strong', {}, `${o.type} ${o.instance}`), ` — ${o.reason}`, o.wave ? ` (wave ${o.wave})` : '',
    o.changes?.length ? h('ul', {}, o.changes.map((c) => h('li', { class: 'mono' }, `${c.path}: ${c.from} → ${c.to}`))) : ''));
  const list = (items, empty) => h('ul', { class: 'plain' }, items.length ? items : [h('li', {}, empty)]);
  return [
    h('h2', {}, `Last plan (${time(p.at)})`), list(ops, 'Nothing to do: the nodes match the manifests.'),
    h('h2', {}, 'Pending'), list(p.pending.map((x) => h('li', {}, h('strong', {}, x.instance), `: ${x.reason}`, x.retryAt ? ` (retry ${time(x.retryAt)})` : '')), 'Nothing pending.'),
    h('h2', {}, 'Warnings and errors'), list([...p.errors.map((e) => h('li', { class: 'bad' }, e.message)), ...p.warnings.map((w) => h('li', { class: 'warn' }, w))], 'None.'),
    h('h2', {}, 'Drift'), list(state.data.drift.drift.map((d) => h('li', {}, h('strong', {}, `${d.instance}@${d.node}`), ` ${d.kind}: ${d.detail} (${d.action})`)), 'No drift.'),
    h('p', {}, button('reconcile now', '/api/reconcile', 'Reconcile now')),
  ];
}

function journalPage() {
  const rows = state.data.journal.jobs.map((j) => h('tr', { 'data-job': j.id },
    h('td', {}, time(j.start)), h('td', {}, j.type), h('td', {}, j.instance || '-'), h('td', { class: j.result === 'failed' ? 'bad' : j.result === 'succeeded' ? 'good' : '' }, j.result),
    h('td', {}, j.by ?? (j.trigger ?? '-')), h('td', { class: 'hide-narrow' }, j.error ?? j.reason)));
  return [h('h2', {}, 'Journal (live)'), h('div', { class: 'scroll' }, h('table', { id: 'journal' }, h('thead', {}, h('tr', {}, ['Time', 'Type', 'Subject', 'Result', 'Who / trigger', 'Detail'].map((t, i) => h('th', { class: i === 5 ? 'hide-narrow' : '' }, t)))), h('tbody', {}, rows)))];
}

start();
