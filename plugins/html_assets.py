"""The inline stylesheet and script of the ``html`` reporter (the page loads nothing from anywhere).

The script filters the item table in the browser: a text box (matched against each row's text) and
task / status / outcome selects. The filter lives in the URL fragment too (``report.html#q=geo&
status=ok&task=sciq&show=gains``): it is applied on load and kept up to date as the user filters, so
a filtered view can be shared or checked by a headless browser. Rows left out get the ``hidden``
attribute; ``<html data-filter="ready">`` says the script ran. It reads record text only through the
DOM (``textContent``, ``dataset``): no record text ever enters the script.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { --ok: #2a9d4b; --bad: #d0433a; --muted: #777; --line: #ddd; --bg2: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
  padding: 16px 24px 48px; max-width: 1600px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
h4 { font-size: 12px; margin: 10px 0 2px; color: #444; } h4 small, small { color: var(--muted); font-weight: normal; }
.meta { color: var(--muted); margin: 0 0 8px; }
ul.runs { margin: 4px 0; padding-left: 18px; color: #444; font-size: 13px; }
.note { background: #fff7e0; border: 1px solid #f0d890; padding: 6px 10px; border-radius: 4px; margin: 6px 0; }
table { border-collapse: collapse; }
table.summary td, table.summary th { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; }
table.summary td:first-child, table.summary th:first-child { text-align: left; }
.pos { color: var(--ok); } .neg { color: var(--bad); }
.plots { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; }
.plots figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px; background: #fff; }
.plots figure.wide { grid-column: 1 / -1; }
.plots svg { width: 100%; height: auto; display: block; }
@media (max-width: 1000px) { .plots { grid-template-columns: 1fr; } }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 8px 10px; background: var(--bg2);
  border: 1px solid var(--line); border-radius: 6px; position: sticky; top: 0; z-index: 2; }
.filters input[type=search] { width: 22em; padding: 4px 6px; }
#f-count { color: var(--muted); }
#items-table { width: 100%; font-size: 12.5px; }
#items-table th { position: sticky; top: 46px; background: #eef0f3; text-align: left; padding: 4px 6px; z-index: 1; }
#items-table td { padding: 4px 6px; vertical-align: top; border-top: 1px solid var(--line); }
#items-table tr.more td { border-top: none; padding-top: 0; }
tbody.item[hidden] { display: none; }
td.id { font-family: ui-monospace, monospace; font-size: 11.5px; word-break: break-all; max-width: 14em; }
td.q { max-width: 28em; white-space: pre-wrap; overflow-wrap: anywhere; }
td.opts ul, td.audits ul { margin: 0; padding: 0; list-style: none; }
td.opts li { overflow-wrap: anywhere; } td.opts li.gold { font-weight: 600; }
td.opts li b { color: var(--muted); }
td.ans { white-space: nowrap; font-weight: 600; } td.ans.ok { color: var(--ok); }
td.ans.bad, td.ans.none { color: var(--bad); }
.na { color: #aaa; font-weight: normal; } td.num { text-align: right; white-space: nowrap; }
td.audits { max-width: 22em; overflow-wrap: anywhere; font-size: 11.5px; }
td.audits li.flag { color: var(--bad); font-weight: 600; } td.audits li.pass { color: var(--muted); }
.st { padding: 1px 6px; border-radius: 9px; background: #eee; white-space: nowrap; font-size: 11.5px; }
.st-ok { background: #dff2e4; color: #1d6b34; }
.st-error, .st-syntax, .st-generator_error { background: #fbe0de; color: #8f2620; }
.st-timeout, .st-fuel, .st-memory, .st-output_cap, .st-call_budget { background: #e2e9f6; color: #2b4f86; }
.st-no_submit, .st-invalid_submit { background: #fdf0d2; color: #7d5a0b; }
details summary { cursor: pointer; color: #3b6fb6; font-size: 12px; }
.det { border-left: 3px solid var(--line); padding: 2px 0 6px 10px; max-width: 1400px; }
pre { background: var(--bg2); border: 1px solid #e6e6e6; padding: 6px 8px; margin: 0; max-height: 24em;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 11.5px; }
pre.err { background: #fdf0ef; } p.empty { color: #aaa; margin: 0; font-size: 12px; }
ol.trace { padding-left: 22px; } ol.trace > li { margin-bottom: 8px; }
.call { display: grid; grid-template-columns: 3fr 2fr 2fr 2fr; gap: 0 8px; }
.call pre { max-height: 12em; } .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0 8px; }
"""

JS = """
(function () {
  "use strict";
  var box = document.getElementById("f-q");
  var selects = {task: document.getElementById("f-task"), status: document.getElementById("f-status"),
                 show: document.getElementById("f-show")};
  var count = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody.item"));
  var texts = rows.map(function (r) { return r.rows[0].textContent.toLowerCase(); });
  function shows(row, show) {
    if (!show) return true;
    if (show === "gains") return row.dataset.gain === "1";
    if (show === "losses") return row.dataset.gain === "-1";
    if (show === "flagged") return row.dataset.flag === "1";
    return false;
  }
  function state() {
    var s = {q: box.value.trim().toLowerCase()};
    Object.keys(selects).forEach(function (k) { s[k] = selects[k].value; });
    return s;
  }
  function apply() {
    var s = state(), n = 0;
    rows.forEach(function (row, i) {
      var keep = (!s.q || texts[i].indexOf(s.q) >= 0) && (!s.task || row.dataset.task === s.task) &&
                 (!s.status || row.dataset.status === s.status) && shows(row, s.show);
      if (keep) { row.removeAttribute("hidden"); n += 1; } else { row.setAttribute("hidden", ""); }
    });
    count.textContent = n + " of " + rows.length + " items shown";
    count.setAttribute("data-shown", String(n));
  }
  function choose(select, value) {
    value = value || "";
    var found = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    if (!found) {  // a value from the URL that the page does not list: keep it, so no row matches
      var opt = document.createElement("option");
      opt.value = value; opt.textContent = value;
      select.appendChild(opt);
    }
    select.value = value;
  }
  function fromHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    box.value = p.get("q") || "";
    Object.keys(selects).forEach(function (k) { choose(selects[k], p.get(k)); });
    apply();
  }
  function toHash() {
    var p = new URLSearchParams();
    if (box.value) p.set("q", box.value);
    Object.keys(selects).forEach(function (k) { if (selects[k].value) p.set(k, selects[k].value); });
    var hash = p.toString();
    try { history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search); }
    catch (e) { /* a file: URL some browsers refuse to rewrite: the filter still works */ }
  }
  box.addEventListener("input", function () { apply(); toHash(); });
  Object.keys(selects).forEach(function (k) {
    selects[k].addEventListener("change", function () { apply(); toHash(); });
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.documentElement.setAttribute("data-filter", "ready");
})();
"""


def script_hash(script: str) -> str:
    """The Content-Security-Policy source of ``script``: only this exact inline script may run."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def csp(script: str) -> str:
    """No network at all, inline styles, and no script but the page's own (defence in depth behind the
    escaping: a record's text that slipped through as markup still could not run)."""
    return f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {script_hash(script)}"
