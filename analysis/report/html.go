package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
)

// WriteHTML writes index.html: a self-contained viewer of the report,
// with no reference to anything outside the file. It shows the heat map
// (the SVG of WriteHeatmap, inline), whose cells filter the table of
// tests below it to one kernel's tests of one pair; clicking a test
// opens its shared ranges, with each side's CPU, access and stack.
//
// The report is embedded as JSON in <script type="application/json"
// id="data">; the page's script builds the table from it. For tests and
// tools the page has stable hooks: the cells are g.cell elements with
// data-kernel, data-a and data-b attributes, the table is #tests with
// one tr.test per test (data-id, data-kernel, data-a, data-b; hidden
// when filtered out), #filter names the filter and #show-all resets it.
// A URL fragment "#test-click=KERNEL,A,B" clicks that cell once the page
// has loaded, and "test-expand=KERNEL,ID" (after "&" or alone) opens
// that test's shared ranges.
func (r *Report) WriteHTML(w io.Writer) error {
	// json.Marshal escapes <, > and & (as \u003c and so on), so the data
	// cannot close the script element or open a comment in it.
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: encoding the viewer's data: %w", err)
	}
	var b bytes.Buffer
	title := "crewvm check"
	if r.Model != "" {
		title += ": " + r.Model
	}
	fmt.Fprintf(&b, htmlHead, html.EscapeString(title), htmlStyle)
	fmt.Fprintf(&b, "<header>\n<h1>%s</h1>\n<ul id=\"summary\">\n", html.EscapeString(title))
	for _, k := range r.Kernels {
		tests, free := k.Totals()
		pct := 0.0
		if tests > 0 {
			pct = 100 * float64(free) / float64(tests)
		}
		fmt.Fprintf(&b, "<li><b>%s</b>: %d of %d tests conflict-free (%.1f%%)</li>\n",
			html.EscapeString(k.Name), free, tests, pct)
	}
	b.WriteString("</ul>\n<p class=\"hint\">Click a cell of the heat map to list that pair's tests; click a test to see what its calls share.</p>\n</header>\n")
	b.WriteString("<section id=\"heatmap\">\n")
	r.heatmapSVG(&b, true)
	b.WriteString("</section>\n")
	b.WriteString(htmlBody)
	b.WriteString(`<script type="application/json" id="data">`)
	b.Write(data)
	b.WriteString("</script>\n<script>\n")
	b.WriteString(htmlScript)
	b.WriteString("</script>\n</body>\n</html>\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("report: writing the viewer: %w", err)
	}
	return nil
}

// htmlHead takes the page's title and style sheet.
const htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
%s</style>
</head>
<body>
`

const htmlStyle = `body { font-family: sans-serif; font-size: 14px; margin: 1em 2em; color: #1a1a1a; background: #ffffff; }
h1 { font-size: 1.4em; margin: 0 0 0.3em; }
#summary { margin: 0; padding-left: 1.2em; }
.hint { color: #555555; margin: 0.4em 0 0.8em; }
#heatmap { overflow-x: auto; }
#heatmap g.cell { cursor: pointer; }
#heatmap g.cell:hover rect { stroke: #1a1a1a; stroke-width: 2; }
#heatmap g.cell.selected rect { stroke: #000000; stroke-width: 3; }
#controls { margin: 1em 0 0.5em; display: flex; gap: 1em; align-items: center; flex-wrap: wrap; }
#filter { font-weight: bold; }
#count { color: #555555; }
#tests { border-collapse: collapse; min-width: 60%; }
#tests th, #tests td { text-align: left; padding: 0.25em 0.7em; border-bottom: 1px solid #dddddd; vertical-align: top; }
#tests thead th { background: #f2f2f2; position: sticky; top: 0; }
#tests tr.test { cursor: pointer; }
#tests tr.test:hover { background: #f5f8ff; }
#tests tr.test.open { background: #eaf0ff; }
#tests tr.test td.result.free { color: #1a7f3c; }
#tests tr.test td.result.conflicted { color: #b3261e; }
#tests tr.test td.toggle::before { content: "\25B8"; color: #888888; }
#tests tr.test.open td.toggle::before { content: "\25BE"; }
#tests tr.detail > td { background: #fafafa; padding: 0.5em 1em 0.8em 2em; }
table.shared { border-collapse: collapse; width: 100%; }
table.shared th, table.shared td { border: 1px solid #dddddd; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
table.shared th { background: #eeeeee; }
.addr, .stack { font-family: monospace; }
.raw { color: #777777; }
.stack { margin: 0.2em 0 0; padding-left: 1.6em; }
.access.write { color: #b3261e; font-weight: bold; }
.access.read { color: #1f5fa8; }
`

const htmlBody = `<section id="controls">
<span>Showing: <span id="filter">all tests</span></span>
<button type="button" id="show-all">show all</button>
<label><input type="checkbox" id="conflicted-only"> conflicted only</label>
<span id="count"></span>
</section>
<table id="tests">
<thead><tr><th></th><th>kernel</th><th>test</th><th>set</th><th>path</th><th>pair</th><th>result</th></tr></thead>
<tbody></tbody>
</table>
`

// htmlScript is the viewer's script; it reads the report from #data.
const htmlScript = `(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('data').textContent);
  const tbody = document.querySelector('#tests tbody');
  const controls = document.getElementById('controls');
  const filterLabel = document.getElementById('filter');
  const countLabel = document.getElementById('count');
  const conflictedOnly = document.getElementById('conflicted-only');
  const cells = Array.from(document.querySelectorAll('#heatmap .cell'));
  const columns = 7;
  let filter = null; // {kernel, a, b}, or null for every test
  const rows = []; // {tr, kernel, test, detail, open}

  // el makes an element with attributes and text (never parsed as HTML).
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      e.setAttribute(k, String(v));
    }
    if (text !== undefined) {
      e.textContent = String(text);
    }
    return e;
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  // side describes one call's access to a shared range.
  function side(cpu, write, stack) {
    const td = el('td');
    const head = el('div');
    head.appendChild(document.createTextNode('CPU ' + cpu + ' '));
    head.appendChild(el('span', {class: 'access ' + (write ? 'write' : 'read')}, write ? 'write' : 'read'));
    td.appendChild(head);
    const ol = el('ol', {class: 'stack'});
    for (const frame of stack || []) {
      ol.appendChild(el('li', {}, frame));
    }
    td.appendChild(ol);
    return td;
  }

  // detail is the row under a test that lists its shared ranges.
  function detail(row) {
    const tr = el('tr', {class: 'detail', 'data-id': row.test.id, 'data-kernel': row.kernel});
    const td = el('td', {colspan: columns});
    const shared = row.test.shared || [];
    if (shared.length === 0) {
      td.appendChild(el('p', {}, 'Conflict-free: the two calls share no memory that one of them writes.'));
    } else {
      const table = el('table', {class: 'shared'});
      const head = el('tr');
      for (const h of ['address', 'size', 'first call', 'second call']) {
        head.appendChild(el('th', {}, h));
      }
      table.appendChild(el('thead')).appendChild(head);
      const body = el('tbody');
      for (const s of shared) {
        const tr2 = el('tr', {class: 'range'});
        const addr = el('td', {class: 'addr'}, s.addr);
        // Addresses past 2^53 lose precision in JavaScript: shown only when exact.
        if (Number.isSafeInteger(s.rawaddr) && s.addr !== '0x' + s.rawaddr.toString(16)) {
          addr.appendChild(el('div', {class: 'raw'}, '0x' + s.rawaddr.toString(16)));
        }
        tr2.appendChild(addr);
        tr2.appendChild(el('td', {}, plural(s.size, 'byte', 'bytes')));
        tr2.appendChild(side(s.cpu1, s.write1, s.stack1));
        tr2.appendChild(side(s.cpu2, s.write2, s.stack2));
        body.appendChild(tr2);
      }
      table.appendChild(body);
      td.appendChild(table);
    }
    tr.appendChild(td);
    return tr;
  }

  function toggle(row) {
    if (!row.detail) {
      row.detail = detail(row);
      row.tr.after(row.detail);
    }
    row.open = !row.open;
    row.tr.classList.toggle('open', row.open);
    row.tr.setAttribute('aria-expanded', String(row.open));
    row.detail.hidden = !row.open || row.tr.hidden;
  }

  function matches(row) {
    if (filter && (row.kernel !== filter.kernel || row.test.pair.a !== filter.a || row.test.pair.b !== filter.b)) {
      return false;
    }
    return !conflictedOnly.checked || (row.test.shared || []).length > 0;
  }

  // apply shows the rows that pass the filter, and says what it is.
  function apply() {
    let shown = 0;
    for (const row of rows) {
      const ok = matches(row);
      row.tr.hidden = !ok;
      if (row.detail) {
        row.detail.hidden = !ok || !row.open;
      }
      if (ok) {
        shown++;
      }
    }
    filterLabel.textContent = filter ? filter.kernel + ': ' + filter.a + ' \u00d7 ' + filter.b : 'all tests';
    countLabel.textContent = shown + ' of ' + plural(rows.length, 'test', 'tests') + ' shown';
    for (const c of cells) {
      const selected = filter !== null && c.dataset.kernel === filter.kernel &&
        c.dataset.a === filter.a && c.dataset.b === filter.b;
      c.classList.toggle('selected', selected);
      if (selected) {
        c.parentNode.appendChild(c); // drawn last, so that its border shows whole
      }
    }
  }

  const frag = document.createDocumentFragment();
  for (const k of data.kernels || []) {
    for (const t of k.tests || []) {
      const n = (t.shared || []).length;
      const tr = el('tr', {class: 'test', 'data-id': t.id, 'data-kernel': k.name, 'data-a': t.pair.a,
        'data-b': t.pair.b, tabindex: 0, 'aria-expanded': 'false'});
      tr.appendChild(el('td', {class: 'toggle'}));
      tr.appendChild(el('td', {}, k.name));
      tr.appendChild(el('td', {}, t.id));
      tr.appendChild(el('td', {}, t.set));
      tr.appendChild(el('td', {}, t.path));
      tr.appendChild(el('td', {}, t.pair.a + ' \u00d7 ' + t.pair.b));
      tr.appendChild(el('td', {class: 'result ' + (n ? 'conflicted' : 'free')},
        n ? plural(n, 'shared range', 'shared ranges') : 'conflict-free'));
      const row = {tr: tr, kernel: k.name, test: t, detail: null, open: false};
      tr.addEventListener('click', () => toggle(row));
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          toggle(row);
        }
      });
      rows.push(row);
      frag.appendChild(tr);
    }
  }
  tbody.appendChild(frag);

  for (const c of cells) {
    c.addEventListener('click', (ev) => {
      filter = {kernel: c.dataset.kernel, a: c.dataset.a, b: c.dataset.b};
      apply();
      // Bring the table into view when a person clicked below the fold.
      if (ev.isTrusted && controls.getBoundingClientRect().top > window.innerHeight - 80) {
        controls.scrollIntoView({behavior: 'smooth', block: 'start'});
      }
    });
  }
  document.getElementById('show-all').addEventListener('click', () => {
    filter = null;
    apply();
  });
  conflictedOnly.addEventListener('change', apply);
  apply();

  // Test hooks, from the URL fragment: test-click=KERNEL,A,B clicks that
  // cell; test-expand=KERNEL,ID opens that test.
  const hooks = new URLSearchParams(location.hash.slice(1));
  const click = hooks.get('test-click');
  if (click) {
    const [k, a, b] = click.split(',');
    const cell = cells.find((c) => c.dataset.kernel === k && c.dataset.a === a && c.dataset.b === b);
    if (cell) {
      cell.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    } else {
      document.body.setAttribute('data-hook-error', 'no cell ' + click);
    }
  }
  const expand = hooks.get('test-expand');
  if (expand) {
    const [k, id] = expand.split(',');
    const row = rows.find((r) => r.kernel === k && String(r.test.id) === id);
    if (row) {
      row.tr.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    } else {
      document.body.setAttribute('data-hook-error', 'no test ' + expand);
    }
  }
})();
`
