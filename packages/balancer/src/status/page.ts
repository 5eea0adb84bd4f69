/**
 * The status page: one constant HTML document with its CSS and script inline (no CDN, no library, no request
 * but its own JSON). The script polls `<page URL>/status.json` every second, sending the page's `?token=` as a
 * bearer token, and updates the table in place: one row per upstream with its state, weight, in-flight, req/s,
 * error rate, p50/p99, last health check and an SVG chart of the last minutes of req/s and p99.
 *
 * Nothing from the server is interpolated into the HTML: names reach the DOM through `textContent` only. A strict
 * Content-Security-Policy allows exactly this script and style (by hash) and requests to this origin.
 */
import { createHash } from 'node:crypto'

const STYLE = `
:root { --bg: #f4f5f7; --card: #fff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec;
  --up: #1f9d55; --down: #d92d20; --ejected: #e07b00; --draining: #7a5af8; --pending: #8a93a6;
  --slow: #0e9384; --backup: #2e90fa; --rps: #2e6bd6; --p99: #e8590c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: var(--bg); }
header { background: #151a24; color: #e9edf5; padding: 14px 24px; display: flex; flex-wrap: wrap;
  align-items: center; gap: 10px 18px; }
header h1 { font-size: 18px; margin: 0 8px 0 0; font-weight: 650; letter-spacing: .2px; }
header h1 small { color: #9aa4b8; font-weight: 500; margin-left: 6px; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px;
  background: #252c3a; color: #d5dbe7; font-size: 13px; white-space: nowrap; }
.pill b { color: #fff; font-weight: 600; }
.pill[data-state="normal"] { background: #16432b; color: #b7f0cc; }
.pill[data-state="panic"], .pill[data-state="none"] { background: #7a1b14; color: #ffd9d4; }
.pill[data-state="backup"] { background: #6b4400; color: #ffe3b0; }
.pill[data-exhausted="true"] { background: #7a1b14; color: #ffd9d4; }
.meter { display: inline-block; width: 70px; height: 7px; background: #3a4356; border-radius: 4px; overflow: hidden; }
.meter i { display: block; height: 100%; width: 0; background: #63a4ff; }
.pill[data-exhausted="true"] .meter i { background: #ff6b5b; }
#live { margin-left: auto; }
#live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #8a93a6; display: inline-block; }
#live[data-live="true"]::before { background: #34d27b; box-shadow: 0 0 0 3px rgba(52,210,123,.25); }
#live[data-live="false"] { background: #7a1b14; color: #ffd9d4; }
#live[data-live="false"]::before { background: #ff6b5b; }
main { padding: 18px 24px 28px; }
table { width: 100%; border-collapse: separate; border-spacing: 0; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; overflow: hidden; }
th { text-align: left; font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .4px;
  padding: 9px 12px; background: #fafbfc; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 9px 12px; border-bottom: 1px solid var(--line); vertical-align: middle; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr[data-state="down"] td { background: #fff1f0; }
tr[data-state="ejected"] td { background: #fff6ea; }
tr[data-state="draining"] td { background: #f5f2ff; }
tr[data-state="pending"] td { background: #f6f7f9; }
.name { font-weight: 600; }
.url { color: var(--muted); font-size: 12px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.tag { font-size: 11px; padding: 1px 6px; border-radius: 4px; background: #e8f1ff; color: #1f5fbf; margin-left: 6px; font-weight: 600; }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 2px 9px; border-radius: 5px; color: #fff;
  font-weight: 650; font-size: 12px; letter-spacing: .3px; text-transform: uppercase; }
.badge[data-state="up"] { background: var(--up); }
.badge[data-state="down"] { background: var(--down); }
.badge[data-state="ejected"] { background: var(--ejected); }
.badge[data-state="draining"] { background: var(--draining); }
.badge[data-state="pending"] { background: var(--pending); }
.badge[data-state="slow-start"] { background: var(--slow); }
.badge[data-state="backup"] { background: var(--backup); }
.detail { display: block; color: var(--muted); font-size: 12px; margin-top: 3px; max-width: 260px; }
.err-hi { color: var(--down); font-weight: 600; }
.hc { font-size: 13px; white-space: nowrap; }
.hc[data-result="pass"]::before { content: "\\2714  "; color: var(--up); }
.hc[data-result="warn"]::before { content: "\\26A0  "; color: var(--ejected); }
.hc[data-result="fail"]::before { content: "\\2716  "; color: var(--down); }
.hc small { color: var(--muted); display: block; font-size: 12px; }
.chart { display: block; }
.legend { font-size: 11px; color: var(--muted); white-space: nowrap; }
.legend .rps { color: var(--rps); font-weight: 600; }
.legend .p99 { color: var(--p99); font-weight: 600; }
th .legend-rps { color: var(--rps); }
th .legend-p99 { color: var(--p99); }
.foot { color: var(--muted); font-size: 12px; margin-top: 12px; display: flex; gap: 18px; flex-wrap: wrap; }
.foot a { color: var(--muted); }
`

// String.raw keeps the regular expressions' backslashes; the script uses no template literals of its own.
const SCRIPT = String.raw`
(function () {
  'use strict';
  var base = location.pathname.replace(/\/+$/, '');
  var token = new URLSearchParams(location.search).get('token');
  var headers = token ? { authorization: 'Bearer ' + token } : {};
  var jsonUrl = base + '/status.json';
  var SVG = 'http://www.w3.org/2000/svg';
  var W = 220, H = 44;
  var rows = new Map();
  var $ = function (id) { return document.getElementById(id); };
  document.getElementById('json-link').setAttribute('href', jsonUrl);

  function el (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function num (v, digits) { return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }); }
  function rate (v) { return v >= 100 ? num(v, 0) : v >= 10 ? num(v, 1) : num(v, 2); }
  function ms (v) { return v === null ? '\u2013' : (v >= 100 ? num(v, 0) : v >= 10 ? num(v, 1) : num(v, 2)) + ' ms'; }
  function pct (v) { return v === 0 ? '0 %' : v < 0.001 ? '<0.1 %' : num(v * 100, v < 0.1 ? 1 : 0) + ' %'; }
  function ago (iso, now) {
    if (!iso) return '';
    var s = Math.max(0, Math.round((Date.parse(now) - Date.parse(iso)) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
  }

  function makeRow (u) {
    var tr = el('tr');
    tr.setAttribute('data-upstream', u.name);
    var cells = {};
    var nameCell = el('td');
    var name = el('span', 'name', u.name);
    nameCell.appendChild(name);
    if (u.backup) nameCell.appendChild(el('span', 'tag', 'backup'));
    if (u.url !== u.name) { nameCell.appendChild(el('div', 'url', u.url)); }
    tr.appendChild(nameCell);
    var stateCell = el('td', 'state');
    cells.badge = el('span', 'badge');
    cells.detail = el('span', 'detail');
    stateCell.appendChild(cells.badge);
    stateCell.appendChild(cells.detail);
    cells.state = stateCell;
    tr.appendChild(stateCell);
    ['weight', 'inflight', 'rps', 'errors', 'p50', 'p99'].forEach(function (k) {
      cells[k] = el('td', 'num ' + k);
      tr.appendChild(cells[k]);
    });
    cells.hc = el('td');
    tr.appendChild(cells.hc);
    var chartCell = el('td');
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('width', String(W));
    svg.setAttribute('height', String(H));
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var grid = document.createElementNS(SVG, 'line');
    grid.setAttribute('x1', '0'); grid.setAttribute('x2', String(W));
    grid.setAttribute('y1', String(H - 0.5)); grid.setAttribute('y2', String(H - 0.5));
    grid.setAttribute('stroke', '#d9dde5');
    var area = document.createElementNS(SVG, 'path');
    area.setAttribute('fill', 'rgba(46,107,214,0.18)');
    area.setAttribute('stroke', '#2e6bd6');
    area.setAttribute('stroke-width', '1.5');
    var line = document.createElementNS(SVG, 'path');
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#e8590c');
    line.setAttribute('stroke-width', '1.5');
    var title = document.createElementNS(SVG, 'title');
    svg.appendChild(title); svg.appendChild(grid); svg.appendChild(area); svg.appendChild(line);
    chartCell.appendChild(svg);
    cells.legend = el('div', 'legend');
    chartCell.appendChild(cells.legend);
    tr.appendChild(chartCell);
    cells.chart = { area: area, line: line, title: title };
    return { tr: tr, cells: cells };
  }

  function drawChart (c, h, bucketSeconds) {
    var n = h.rps.length;
    var maxR = 0, maxL = 0, first = -1, i;
    for (i = 0; i < n; i++) {
      if (h.rps[i] === null) continue;
      if (first < 0) first = i;
      if (h.rps[i] > maxR) maxR = h.rps[i];
      if (h.p99Ms[i] !== null && h.p99Ms[i] > maxL) maxL = h.p99Ms[i];
    }
    c.legend.textContent = '';
    if (first < 0 || n - first < 2) {
      // Points before the balancer started are null: the chart fills in from the right as time passes.
      c.chart.area.setAttribute('d', 'M0,0');
      c.chart.line.setAttribute('d', 'M0,0');
      c.legend.textContent = 'collecting\u2026 one point per ' + bucketSeconds + ' s';
      return;
    }
    var x = function (k) { return (k * W / (n - 1)).toFixed(1); };
    var y = function (v, max) { return (H - 2 - (max > 0 ? v / max : 0) * (H - 6)).toFixed(1); };
    var d = 'M' + x(first) + ',' + H;
    for (i = first; i < n; i++) d += ' L' + x(i) + ',' + y(h.rps[i], maxR);
    d += ' L' + W + ',' + H + ' Z';
    c.chart.area.setAttribute('d', d);
    var p = '', pen = false;
    for (i = first; i < n; i++) {
      var v = h.p99Ms[i];
      if (v === null) { pen = false; continue; }
      p += (pen ? ' L' : ' M') + x(i) + ',' + y(v, maxL);
      pen = true;
    }
    c.chart.line.setAttribute('d', p || 'M0,0');
    var minutes = Math.round(n * bucketSeconds / 60);
    c.chart.title.textContent = 'Last ' + minutes + ' min: req/s (blue, peak ' + rate(maxR) + ') and p99 (orange, peak ' + ms(maxL || null) + ')';
    c.legend.appendChild(el('span', 'rps', 'peak ' + rate(maxR) + '/s'));
    c.legend.appendChild(document.createTextNode(' \u00b7 '));
    c.legend.appendChild(el('span', 'p99', 'p99 peak ' + ms(maxL || null)));
  }

  function updateRow (r, u, report) {
    var c = r.cells;
    r.tr.setAttribute('data-state', u.state);
    c.state.setAttribute('data-state', u.state);
    c.badge.setAttribute('data-state', u.state);
    c.badge.textContent = u.state === 'slow-start' ? 'slow ' + u.weightPercent + ' %' : u.state;
    c.detail.textContent = u.detail;
    c.weight.textContent = u.weightPercent < 100 ? rate(u.effectiveWeight) + ' / ' + u.weight : String(u.weight);
    c.inflight.textContent = String(u.inFlight);
    c.rps.textContent = rate(u.rps);
    c.errors.textContent = pct(u.errorRate);
    c.errors.className = 'num errors' + (u.errorRate >= 0.05 ? ' err-hi' : '');
    c.p50.textContent = ms(u.p50Ms);
    c.p99.textContent = ms(u.p99Ms);
    c.hc.textContent = '';
    var hc = u.healthCheck;
    if (hc === null) {
      c.hc.appendChild(el('span', 'hc', 'off'));
    } else if (hc.last === null) {
      c.hc.appendChild(el('span', 'hc', 'no result yet'));
    } else {
      var last = hc.last;
      var what = last.error !== null ? last.error : 'HTTP ' + last.status + (last.healthStatus ? ' ' + last.healthStatus : '');
      var span = el('span', 'hc', what);
      span.setAttribute('data-result', last.result);
      span.appendChild(el('small', '', last.result + ' \u00b7 ' + ago(last.at, report.generatedAt) +
        ' \u00b7 ' + (last.result === 'fail' ? hc.failures + ' failed in a row' : hc.successes + ' passed in a row')));
      c.hc.appendChild(span);
    }
    drawChart(c, u.history, report.window.bucketSeconds);
  }

  function update (report) {
    $('balancer').textContent = report.balancer;
    document.title = 'Switchyard \u00b7 ' + report.balancer;
    var st = $('set-state');
    st.setAttribute('data-state', report.state);
    st.textContent = '';
    st.appendChild(document.createTextNode(report.panic ? 'PANIC \u00b7 balancing over all' : report.state === 'backup' ? 'backups serving' : report.state === 'none' ? 'no upstream available' : 'normal'));
    $('eligible').textContent = '';
    $('eligible').appendChild(el('b', '', report.eligible + ' / ' + report.total));
    $('eligible').appendChild(document.createTextNode(' eligible'));
    var b = $('budget');
    var budget = report.retryBudget;
    if (budget === null) {
      b.setAttribute('data-exhausted', 'false');
      b.textContent = 'retry budget off';
    } else {
      b.setAttribute('data-exhausted', String(budget.exhausted));
      b.textContent = 'retry budget ';
      var meter = el('span', 'meter');
      var fill = el('i');
      fill.style.width = Math.min(100, budget.allowed > 0 ? budget.retries * 100 / budget.allowed : 0) + '%';
      meter.appendChild(fill);
      b.appendChild(meter);
      b.appendChild(el('b', '', budget.retries + ' / ' + Math.floor(budget.allowed)));
      b.appendChild(document.createTextNode(budget.exhausted ? ' exhausted' : ' retries (' + budget.percent + ' %)'));
      if (budget.denied.recent > 0) b.appendChild(document.createTextNode(' \u00b7 ' + budget.denied.recent + ' refused'));
    }
    $('no-upstream').textContent = '';
    $('no-upstream').appendChild(el('b', '', String(report.noUpstream.total)));
    $('no-upstream').appendChild(document.createTextNode(' without upstream'));
    $('totals').textContent = 'total ' + rate(report.totals.rps) + ' req/s \u00b7 ' + pct(report.totals.errorRate) + ' errors \u00b7 ' +
      report.totals.inFlight + ' in flight \u00b7 algorithm ' + report.algorithm + ' \u00b7 figures over the last ' +
      report.window.recentSeconds + ' s, charts over ' + Math.round(report.window.points * report.window.bucketSeconds / 60) + ' min';
    var seen = new Set();
    var tbody = $('rows');
    report.upstreams.forEach(function (u, index) {
      seen.add(u.url);
      var r = rows.get(u.url);
      if (!r) { r = makeRow(u); rows.set(u.url, r); }
      if (tbody.children[index] !== r.tr) tbody.insertBefore(r.tr, tbody.children[index] || null);
      updateRow(r, u, report);
    });
    rows.forEach(function (r, url) { if (!seen.has(url)) { r.tr.remove(); rows.delete(url); } });
    var live = $('live');
    live.setAttribute('data-live', 'true');
    live.textContent = 'live \u00b7 ' + new Date(report.generatedAt).toLocaleTimeString();
  }

  function poll () {
    fetch(jsonUrl, { headers: headers, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(update)
      .catch(function (err) {
        var live = $('live');
        live.setAttribute('data-live', 'false');
        live.textContent = 'disconnected: ' + (err && err.message ? err.message : String(err));
      })
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
`

const BODY = `<header>
<h1>Switchyard<small id="balancer"></small></h1>
<span class="pill" id="set-state" data-state="normal">\u2026</span>
<span class="pill" id="eligible"></span>
<span class="pill" id="budget" data-exhausted="false"></span>
<span class="pill" id="no-upstream"></span>
<span class="pill" id="live">connecting\u2026</span>
</header>
<main>
<table id="upstreams">
<thead><tr><th>Upstream</th><th>State</th><th class="num">Weight</th><th class="num">In flight</th><th class="num">Req/s</th>
<th class="num">Errors</th><th class="num">p50</th><th class="num">p99</th><th>Last health check</th>
<th>Last minutes: <span class="legend-rps">req/s</span> &amp; <span class="legend-p99">p99</span></th></tr></thead>
<tbody id="rows"></tbody>
</table>
<div class="foot"><span id="totals"></span><a id="json-link" href="#">status.json</a></div>
</main>`

function sha256 (text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`
}

/** The page, served as is. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Switchyard status</title>
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`

/**
 * Headers for the page: a CSP that allows only the inline script and style above (by hash) and fetches to this
 * origin, no caching, and no Referer (a `?token=` in the URL must not leak through links).
 */
export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; ` +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff'
})
