/**
 * The page at `/` of `lvu serve`: per stream, the retained frames as thumbnails along media time, kept (green) and
 * evicted (grey) frames, gaps (hatched), the frames the last answer saw at high resolution (yellow), retained
 * tokens over time against the budget (the red line), where a context was continued after a restart (purple),
 * alerts that fired (magenta), search results (cyan bars, with thumbnails), what an object detector found (boxes on
 * the thumbnails, orange bars: each frame's count of the most seen class), a question box and a search box; on top,
 * one question across the streams ticked. Plain HTML + canvas, no dependencies.
 */
export const TIMELINE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lvu — timelines</title>
<style>
 body{font:14px system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
 h1{font-size:18px} .stream,.panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px;margin:12px 0}
 .meta{color:#555;font-size:12px;margin:4px 0} canvas{display:block;width:100%;border:1px solid #eee}
 form{display:flex;gap:8px;margin-top:8px} input[type=text]{flex:1;padding:6px} .answer,.crossanswer{white-space:pre-wrap;margin-top:6px}
 .note{color:#555;font-size:12px;margin:4px 0}
 .err{color:#b00} .hits{display:flex;gap:8px;flex-wrap:wrap;margin-top:6px;font-size:12px}
 .hit{border:1px solid #ccc;padding:4px;border-radius:4px;background:#f6fbff} .hit canvas{width:64px;height:64px}
 #across label{margin-right:10px}
</style></head>
<body><h1>lvu — rolling contexts</h1>
<div class="panel" id="across"><b>Across streams</b><div class="note">one question over the ticked streams under one budget (frames interleaved by wall-clock time)</div>
<div id="pick"></div><form id="crossform"><input type="text" placeholder="Ask across streams…" name="cq"><button>Ask all</button></form><div class="crossanswer" id="crossanswer"></div></div>
<div id="streams">loading…</div>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const headers = token ? { authorization: 'Bearer ' + token } : {};
const lastAnswer = {}; const lastSearch = {}; let alerts = [];
const clock = (ms) => { const s = Math.max(0, Math.floor(ms / 1000)); const h = Math.floor(s / 3600);
  const m = String(Math.floor((s % 3600) / 60)).padStart(2, '0'); const x = String(s % 60).padStart(2, '0');
  return h ? h + ':' + m + ':' + x : m + ':' + x; };
async function get(url) { const r = await fetch(url, { headers }); if (!r.ok) throw new Error(url + ' ' + r.status); return r.json(); }
function section(id) {
  let el = document.getElementById('s-' + id);
  if (el) return el;
  el = document.createElement('div'); el.className = 'stream'; el.id = 's-' + id;
  el.innerHTML = '<b></b><div class="meta"></div><canvas width="1200" height="300"></canvas>' +
    '<form class="ask"><input type="text" placeholder="Ask about this stream…" name="q"><button>Ask</button></form>' +
    '<div class="answer"></div>' +
    '<form class="search"><input type="text" placeholder="Search its history…" name="s"><button>Search</button></form>' +
    '<div class="hits"></div>';
  el.querySelector('b').textContent = id;
  el.querySelector('form.ask').addEventListener('submit', (ev) => { ev.preventDefault(); ask(id, el); });
  el.querySelector('form.search').addEventListener('submit', (ev) => { ev.preventDefault(); search(id, el); });
  document.getElementById('streams').appendChild(el);
  const box = document.createElement('label'); box.innerHTML = '<input type="checkbox" checked> ';
  box.querySelector('input').value = id; box.append(id); document.getElementById('pick').appendChild(box);
  return el;
}
function thumbCanvas(b64, side) {
  const c = document.createElement('canvas'); c.width = side; c.height = side; const g = c.getContext('2d');
  const img = g.createImageData(side, side); const raw = atob(b64);
  for (let p = 0; p < side * side; p++) { img.data[p * 4] = raw.charCodeAt(p * 3); img.data[p * 4 + 1] = raw.charCodeAt(p * 3 + 1);
    img.data[p * 4 + 2] = raw.charCodeAt(p * 3 + 2); img.data[p * 4 + 3] = 255; }
  g.putImageData(img, 0, 0); return c;
}
async function search(id, el) {
  const q = el.querySelector('input[name=s]').value; const out = el.querySelector('.hits'); out.textContent = 'searching…';
  const r = await fetch('/v1/streams/' + encodeURIComponent(id) + '/search?limit=5&q=' + encodeURIComponent(q), { headers });
  const j = await r.json();
  if (!r.ok) { out.className = 'hits err'; out.textContent = j.error + ': ' + j.message; return; }
  out.className = 'hits'; out.textContent = ''; lastSearch[id] = j;
  if (!j.ranges.length) out.textContent = 'nothing found';
  for (const h of j.ranges) {
    const d = document.createElement('div'); d.className = 'hit';
    if (h.best.thumb) d.appendChild(thumbCanvas(h.best.thumb, j.thumbSide));
    const t = document.createElement('div');
    t.textContent = clock(h.fromMs) + '–' + clock(h.toMs) + ' · ' + h.frames + ' frames · score ' + h.score.toFixed(3) +
      (h.best.labels.length ? ' · ' + h.best.labels.join(', ') : '');
    d.appendChild(t); out.appendChild(d);
  }
  refresh();
}
async function askAcross() {
  const streams = [...document.querySelectorAll('#pick input:checked')].map((i) => i.value);
  const q = document.querySelector('input[name=cq]').value; const out = document.getElementById('crossanswer');
  out.className = 'crossanswer'; out.textContent = 'asking ' + streams.join(', ') + '…';
  const r = await fetch('/v1/query', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ streams, question: q }) });
  const j = await r.json();
  if (!r.ok) { out.className = 'crossanswer err'; out.textContent = j.error + ': ' + j.message; return; }
  // each stream's timeline outlines the frames of this answer that are its own
  for (const id of streams) lastAnswer[id] = { evidence: { highRes: j.evidence.highRes.filter((f) => f.streamId === id) } };
  const lab = (f) => f.streamId + ' ' + clock(f.ptsMs);
  out.textContent = (j.answer ?? '(no LLM: evidence only)') + '\\n' +
    'high resolution: ' + (j.evidence.highRes.map(lab).join(', ') || 'none') + '\\n' +
    'best scores: ' + j.evidence.topScored.map(lab).join(', ') + '\\n' +
    'across ' + (j.streams || streams).join(', ') + ' · tokens: ' + j.totalTokens + ' of ' + j.budgetTokens + ' (' + j.mode + ')';
  refresh();
}
document.getElementById('crossform').addEventListener('submit', (ev) => { ev.preventDefault(); askAcross(); });
async function ask(id, el) {
  const q = el.querySelector('input[name=q]').value; const out = el.querySelector('.answer');
  out.className = 'answer'; out.textContent = 'asking…';
  const r = await fetch('/v1/streams/' + encodeURIComponent(id) + '/query',
    { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ question: q }) });
  const j = await r.json();
  if (!r.ok) { out.className = 'answer err'; out.textContent = j.error + ': ' + j.message; return; }
  lastAnswer[id] = j;
  out.textContent = (j.answer ?? '(no LLM: evidence only)') + '\\n' +
    'high resolution: ' + (j.evidence.highRes.map((f) => clock(f.ptsMs)).join(', ') || 'none') + '\\n' +
    'best scores: ' + j.evidence.topScored.map((f) => clock(f.ptsMs)).join(', ') + '\\n' +
    'tokens: ' + j.totalTokens + ' of ' + j.budgetTokens + ' (' + j.mode + ')';
  refresh();
}
function draw(el, c) {
  const cv = el.querySelector('canvas'); const g = cv.getContext('2d'); const W = cv.width, H = cv.height;
  g.fillStyle = '#fff'; g.fillRect(0, 0, W, H);
  const tl = c.timeline; const ret = c.retained;
  const pts = tl.map((t) => t.ptsMs); if (!pts.length) { g.fillStyle = '#999'; g.fillText('no kept frame yet', 10, 20); return; }
  const t0 = Math.min(...pts), t1 = Math.max(...pts, t0 + 1000); const L = 50, R = W - 10;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (R - L);
  // search results: cyan bars over their time ranges
  for (const h of lastSearch[c.status.id]?.ranges ?? []) {
    g.fillStyle = '#00aadc'; g.fillRect(x(h.fromMs) - 3, 98, Math.max(6, x(h.toMs) - x(h.fromMs) + 6), 10);
  }
  // gaps between retained frames (more than 3× the median spacing)
  const sp = ret.slice(1).map((f, i) => f.ptsMs - ret[i].ptsMs).sort((a, b) => a - b); const med = sp[sp.length >> 1] || 0;
  g.fillStyle = '#f1f1f1';
  for (let i = 1; i < ret.length; i++) if (med && ret[i].ptsMs - ret[i - 1].ptsMs > 3 * med) g.fillRect(x(ret[i - 1].ptsMs), 0, x(ret[i].ptsMs) - x(ret[i - 1].ptsMs), 110);
  // thumbnails of the retained frames
  const hi = new Set((lastAnswer[c.status.id]?.evidence.highRes ?? []).map((f) => f.seq));
  const side = c.thumbSide; const img = g.createImageData(side, side); const tmp = document.createElement('canvas');
  tmp.width = side; tmp.height = side; const tg = tmp.getContext('2d');
  for (const f of ret) {
    const raw = atob(f.thumb);
    for (let p = 0; p < side * side; p++) { img.data[p * 4] = raw.charCodeAt(p * 3); img.data[p * 4 + 1] = raw.charCodeAt(p * 3 + 1);
      img.data[p * 4 + 2] = raw.charCodeAt(p * 3 + 2); img.data[p * 4 + 3] = 255; }
    tg.putImageData(img, 0, 0); const xx = x(f.ptsMs) - 20;
    g.drawImage(tmp, xx, 10, 40, 40);
    if (hi.has(f.seq)) { g.strokeStyle = '#f5c400'; g.lineWidth = 3; g.strokeRect(xx - 2, 8, 44, 44); }
    // the detector's boxes (in the thumbnail's square), people in orange, the rest in white
    for (const o of f.objects ?? []) {
      g.strokeStyle = o.class === 'person' ? '#ff7a00' : '#ffffff'; g.lineWidth = 1;
      g.strokeRect(xx + o.box[0] * 40, 10 + o.box[1] * 40, o.box[2] * 40, o.box[3] * 40);
    }
  }
  // object counts: the most seen class's count per retained frame, as orange bars (y 116–152)
  const seen = {};
  for (const f of ret) for (const o of f.objects ?? []) seen[o.class] = (seen[o.class] ?? 0) + 1;
  const cls = Object.keys(seen).sort((a, b) => seen[b] - seen[a])[0];
  if (cls) {
    const counts = ret.map((f) => (f.objects ?? []).filter((o) => o.class === cls).length); const cmax = Math.max(1, ...counts);
    g.fillStyle = '#ff7a00';
    ret.forEach((f, i) => { const h = (counts[i] / cmax) * 34; g.fillRect(x(f.ptsMs) - 2, 152 - h, 4, h); });
    g.fillStyle = '#555'; g.fillText(cls + ' (max ' + cmax + ')', 4, 128);
  }
  // kept (green) and evicted (grey) ticks
  for (const t of tl) { g.fillStyle = t.kind === 'kept' ? '#2a9d3a' : '#9a9a9a'; g.fillRect(x(t.ptsMs) - 1, t.kind === 'kept' ? 60 : 80, 2, 16); }
  g.fillStyle = '#555'; g.fillText('kept', 4, 72); g.fillText('evicted', 4, 92);
  // retained tokens over time against the budget
  const per = c.status.store.retainedFrames ? c.status.retainedTokens / c.status.store.retainedFrames : 0;
  const budget = c.status.budgetTokens; let n = 0, latest = t0; const series = [];
  for (const t of tl) { if (t.kind === 'kept') { n++; latest = Math.max(latest, t.ptsMs); } else n--; series.push([latest, n * per]); }
  const top = 160, bottom = H - 20; const ymax = Math.max(budget, ...series.map((s) => s[1])) * 1.1;
  const y = (v) => bottom - (v / ymax) * (bottom - top);
  g.strokeStyle = '#1f5fbf'; g.lineWidth = 2; g.beginPath(); series.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v)))); g.stroke();
  g.strokeStyle = '#ff0000'; g.lineWidth = 2; g.setLineDash([6, 4]); g.beginPath(); g.moveTo(L, y(budget)); g.lineTo(R, y(budget)); g.stroke(); g.setLineDash([]);
  g.fillStyle = '#555'; g.fillText('budget ' + budget, 4, y(budget) - 4); g.fillText('tokens', 4, bottom);
  g.fillText(clock(t0), L, H - 4); g.fillText(clock(t1), R - 40, H - 4);
  // a context continued after a restart: a purple line where the new frames begin
  const rs = c.status.restored;
  if (rs && rs.afterSeq >= 0) {
    g.strokeStyle = '#8000ff'; g.lineWidth = 3; g.setLineDash([8, 4]); g.beginPath();
    g.moveTo(x(rs.afterPtsMs) + 3, 0); g.lineTo(x(rs.afterPtsMs) + 3, 112); g.stroke(); g.setLineDash([]);
    g.fillStyle = '#8000ff'; g.fillText(rs.fromStateDir ? 'restart' : 'continued', x(rs.afterPtsMs) + 8, 108);
  }
  // alerts that fired on this stream: magenta triangles at the frame that crossed the threshold
  for (const a of alerts.filter((a) => a.stream === c.status.id && a.alert)) {
    const ax = x(a.alert.ptsMs); g.fillStyle = '#d0008a'; g.beginPath();
    g.moveTo(ax - 9, 0); g.lineTo(ax + 9, 0); g.lineTo(ax, 14); g.closePath(); g.fill();
    g.fillText('alert ' + a.alert.score.toFixed(3), ax + 11, 10);
  }
}
async function refresh() {
  try {
    const { streams } = await get('/v1/streams');
    alerts = (await get('/v1/answers/recent')).answers.filter((a) => a.trigger === 'alert');
    const root = document.getElementById('streams'); if (root.textContent === 'loading…') root.textContent = '';
    if (!streams.length) root.textContent = 'no streams: add one with POST /v1/streams';
    for (const s of streams) {
      const el = section(s.id); const c = await get('/v1/streams/' + encodeURIComponent(s.id) + '/context');
      el.querySelector('.meta').textContent = s.source + ' · ' + s.state + ' · sampled ' + s.counters.sampled + ' · kept ' +
        s.counters.kept + ' · retained ' + s.store.retainedFrames + ' · evicted ' + s.store.evictedTotal +
        ' · tokens ' + s.retainedTokens + ' / budget ' + s.budgetTokens +
        (s.restored ? ' · continued after seq ' + s.restored.afterSeq + (s.restored.fromStateDir ? ' (restart, saved state)' : '') : '') +
        (alerts.some((a) => a.stream === s.id) ? ' · alerts ' + alerts.filter((a) => a.stream === s.id).length : '');
      draw(el, c);
    }
    document.body.dataset.ready = '1';
  } catch (e) { document.getElementById('streams').textContent = String(e); }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
`;
