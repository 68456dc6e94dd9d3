"""The HTML page of a migration report: one self-contained file, made from the JSON report.

Everything is inline (CSS, the SVG chart, a few lines of JavaScript for the
failure filter) and a Content-Security-Policy allows nothing else: the page
loads nothing from the network and runs only its own script (by hash), so it
can be mailed, archived and opened offline. Every value from the report is
HTML-escaped: failure messages and reference values come from order data,
which is untrusted (an order naming its status ``<script>...`` shows that
text, it does not run it).

Each number taken from the report carries its place in the JSON
(``data-key='["counts","read"]'``; ``data-len`` for a list's length), so a
test can check the page against ``report.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

__all__ = ["render_html"]

_CSS: Final = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
  max-width: 1100px; padding: 1rem 1.5rem 3rem; color: #1a202c; background: #fff; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid #e2e8f0; padding-bottom: 0.2rem; }
.meta { color: #4a5568; margin: 0 0 1rem; }
.badge { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 0.6rem; font-size: 0.8rem;
  font-weight: 600; vertical-align: middle; }
.ok { background: #c6f6d5; color: #22543d; }
.bad { background: #fed7d7; color: #742a2a; }
.dry { background: #e2e8f0; color: #2d3748; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); gap: 0.6rem; }
.card { border: 1px solid #e2e8f0; border-radius: 0.4rem; padding: 0.5rem 0.7rem; }
.card .n { font-size: 1.4rem; font-weight: 600; display: block; }
.card .l { color: #4a5568; font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #edf2f7; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9em;
  overflow-wrap: anywhere; }
.none { color: #718096; font-style: italic; }
.filter { display: flex; gap: 0.6rem; align-items: center; flex-wrap: wrap; margin: 0.4rem 0; }
.filter input { min-width: 16rem; }
svg.chart { width: 100%; height: auto; max-width: 960px; }
svg.key { width: 12px; height: 12px; vertical-align: middle; }
svg text { font-size: 11px; fill: #4a5568; }
.axis { stroke: #a0aec0; stroke-width: 1; }
.grid { stroke: #edf2f7; stroke-width: 1; }
.line { fill: none; stroke-width: 2; }
.s-written, .s-read { stroke: #2b6cb0; }
.s-retries { stroke: #dd6b20; }
.s-rate_limited { stroke: #c53030; }
.key-written, .key-read { fill: #2b6cb0; }
.key-retries { fill: #dd6b20; }
.key-rate_limited { fill: #c53030; }
"""

# Filters the failure rows by kind and text; marks the page ready (a test waits for the marker).
# textContent and attributes only: nothing from the report becomes markup here.
_JS: Final = """
(function () {
  var kind = document.getElementById("failure-kind");
  var text = document.getElementById("failure-text");
  var shown = document.getElementById("failures-shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#failure-rows tr"));
  function apply() {
    var wanted = kind ? kind.value : "";
    var needle = text ? text.value.toLowerCase() : "";
    var count = 0;
    rows.forEach(function (row) {
      var match = (!wanted || row.getAttribute("data-kind") === wanted) &&
        (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0);
      row.hidden = !match;
      if (match) { count += 1; }
    });
    if (shown) { shown.textContent = String(count); }
  }
  if (kind) { kind.addEventListener("change", apply); }
  if (text) { text.addEventListener("input", apply); }
  apply();
  document.body.setAttribute("data-ready", "true");
})();
"""

_SERIES_LABELS: Final = {
    "written": "orders written",
    "read": "orders read",
    "retries": "retries",
    "rate_limited": "429 answers",
}


def _e(value: Any) -> str:
    """``value`` as text safe inside an element or a quoted attribute."""
    return escape(str(value), quote=True)


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def _key(*path: Any) -> str:
    return f' data-key="{_e(json.dumps(list(path)))}"'


def _number(value: Any, *path: Any) -> str:
    """A number from the report at ``path``, marked with its place (``—`` for none)."""
    if value is None:
        return '<span class="none">—</span>'
    return f"<span{_key(*path)}>{_e(value)}</span>"


def _length(items: Sequence[Any], *path: Any) -> str:
    return f'<span data-len="{_e(json.dumps(list(path)))}">{len(items)}</span>'


def _card(label: str, value: Any, *path: Any, shown: str | None = None) -> str:
    """A summary card: the number at ``path`` (or ``shown``, already markup) and its label."""
    number = shown if shown is not None else _number(value, *path)
    return f'<div class="card"><span class="n">{number}</span><span class="l">{_e(label)}</span></div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, body_id: str = "") -> str:
    """A table of ``rows`` (cells already markup); a header ending in ``#`` is a number column."""
    head = "".join(
        f'<th class="num">{_e(h[:-1])}</th>' if h.endswith("#") else f"<th>{_e(h)}</th>" for h in headers
    )
    numeric = [h.endswith("#") for h in headers]
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if n else f"<td>{c}</td>" for c, n in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    ident = f' id="{_e(body_id)}"' if body_id else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody{ident}>{body}</tbody></table>"


def _code(value: Any) -> str:
    return f"<code>{_e(value)}</code>"


def _ids(values: Any) -> str:
    return _e(", ".join(map(str, values or [])))


def render_html(data: Mapping[str, Any]) -> str:
    """The report ``data`` (:meth:`MigrationReport.to_dict`, with ``files``, ``verify``) as a page."""
    body = "\n".join(
        [
            _header(data),
            _summary(data),
            _chart(data),
            _losses(data),
            _failures(data),
            _references(data),
            _conflicts(data),
            _verify(data.get("verify")),
        ]
    )
    title = f"orderbridge report: {data.get('source', '?')} -> {data.get('target', '?')}"
    return html_page(title, body, script=_JS)


def html_page(title: str, body: str, *, script: str | None = None) -> str:
    """A self-contained page: the report style inline, ``script`` inline when given, and a
    Content-Security-Policy that allows exactly those (by hash) and nothing else."""
    scripts = f"script-src {_hash(script)}; " if script is not None else ""
    policy = (
        f"default-src 'none'; style-src {_hash(_CSS)}; {scripts}img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    tail = f"<script>{script}</script>\n" if script is not None else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(policy)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"{body}\n{tail}</body>\n</html>\n"
    )


def _outcome(data: Mapping[str, Any]) -> str:
    if data.get("dry_run"):
        return '<span class="badge dry">dry run</span>'
    counts = data.get("counts", {})
    ok = not (
        counts.get("failed")
        or counts.get("conflicts")
        or data.get("interrupted")
        or data.get("stopped_reason")
    )
    return '<span class="badge ok">complete</span>' if ok else '<span class="badge bad">check it</span>'


def _header(data: Mapping[str, Any]) -> str:
    title = "Dry run" if data.get("dry_run") else "Migration"
    lines = [
        f"<h1>{title} <code>{_e(data.get('source', '?'))}</code> → "
        f"<code>{_e(data.get('target', '?'))}</code> {_outcome(data)}</h1>",
        f'<p class="meta">mode {_e(data.get("mode", ""))} · started {_e(data.get("started_at", ""))} · '
        f"finished {_e(data.get('finished_at', ''))}"
        + (f" · state <code>{_e(data['state_path'])}</code>" if data.get("state_path") else "")
        + "</p>",
    ]
    if data.get("stopped_reason"):
        lines.append(f'<p class="badge bad">stopped early: {_e(data["stopped_reason"])}</p>')
    if data.get("interrupted"):
        lines.append('<p class="badge bad">interrupted: orders in flight were finished</p>')
    if data.get("resume_hint"):
        lines.append(f"<p>To resume: {_e(data['resume_hint'])}</p>")
    return "\n".join(lines)


def _summary(data: Mapping[str, Any]) -> str:
    counts: Mapping[str, Any] = data.get("counts", {})
    cards = [_card(name.replace("_", " "), value, "counts", name) for name, value in counts.items()]
    cards += [
        _card("seconds", data.get("duration_seconds"), "duration_seconds"),
        (
            _card("orders/s", data.get("orders_per_second"), "orders_per_second")
            if data.get("orders_per_second") is not None
            else _card("read/s", data.get("read_per_second"), "read_per_second")
        ),
        _card("target requests", data.get("target_requests"), "target_requests"),
        _card("retries", data.get("retries"), "retries"),
        _card("429 answers", data.get("rate_limited"), "rate_limited"),
    ]
    concurrency = data.get("concurrency") or {}
    lines = ['<section id="summary"><h2>Summary</h2>', f'<div class="cards">{"".join(cards)}</div>']
    if concurrency.get("policy"):
        mean = _number(concurrency.get("mean"), "concurrency", "mean")
        peak = _number(concurrency.get("peak"), "concurrency", "peak")
        lines.append(f"<p>Workers: {_e(concurrency['policy'])}, mean {mean}, peak {peak}.</p>")
    planned: Mapping[str, Any] = data.get("planned") or {}
    if planned:
        items = ", ".join(f"{_number(n, 'planned', k)} {_e(k)}" for k, n in planned.items())
        lines.append(f"<p>Plan: {items}.</p>")
    notes = (data.get("source_paging") or {}).get("notes") or []
    for note in notes:
        lines.append(f"<p>Source: {_e(note)}</p>")
    ledger = data.get("ledger")
    if ledger:
        lines.append(
            f"<p>Read the target's {_number(ledger.get('orders'), 'ledger', 'orders')} orders first "
            f"({_number(ledger.get('requests'), 'ledger', 'requests')} requests, "
            f"{_number(ledger.get('seconds'), 'ledger', 'seconds')} s).</p>"
        )
    lines.append("</section>")
    return "\n".join(lines)


def _chart(data: Mapping[str, Any]) -> str:
    timeline = data.get("timeline") or {}
    first = "read" if data.get("dry_run") else "written"
    names = [first, "retries", "rate_limited"]
    series = {name: [int(v) for v in timeline.get(name) or []] for name in names}
    step = float(timeline.get("interval_seconds") or 1.0)
    length = max((len(v) for v in series.values()), default=0)
    head = '<section id="chart"><h2>Over time</h2>'
    if length == 0:
        return head + '<p class="none">No time series in this report.</p></section>'
    width, height, left, right, top, bottom = 900, 260, 48, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(1, *(max(v, default=0) for v in series.values()))
    seconds = length * step

    def x(i: float) -> float:  # interval i is drawn at its middle; the axis runs from 0 to its end
        return left + plot_w * (i + 0.5) / length

    def y(v: float) -> float:
        return top + plot_h * (1 - v / peak)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="orders, retries and 429s per {step:g} s">'
    ]
    bottom_y, right_x = top + plot_h, width - right
    for fraction in (0, 0.5, 1):
        level = y(peak * fraction)
        parts.append(f'<line class="grid" x1="{left}" x2="{right_x}" y1="{level:.1f}" y2="{level:.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{level + 4:.1f}" text-anchor="end">{peak * fraction:g}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom_y}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{right_x}" y1="{bottom_y}" y2="{bottom_y}"/>')
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        at = seconds * fraction
        label = f"{at:.0f}" if seconds >= 20 else f"{at:.1f}"
        at_x = left + plot_w * fraction
        anchor = "start" if fraction == 0 else "end" if fraction == 1 else "middle"  # ends stay inside
        parts.append(f'<text x="{at_x:.1f}" y="{bottom_y + 16}" text-anchor="{anchor}">{label} s</text>')
    for name in names:
        values = series[name] + [0] * (length - len(series[name]))
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if length == 1:  # one point is no line: draw it across its interval
            points = f"{left},{y(values[0]):.1f} {left + plot_w},{y(values[0]):.1f}"
        parts.append(f'<polyline class="line s-{name}" points="{points}"/>')
    parts.append("</svg>")
    legend = []
    for name in names:
        total = sum(series[name])
        where = ("counts", name) if name in ("read", "written") else (name,)
        # The series add up to the report's totals (the page marks them so a test can check).
        legend.append(
            f'<svg class="key" viewBox="0 0 12 12"><rect class="key-{name}" width="12" '
            f'height="12"/></svg> {_e(_SERIES_LABELS[name])}: {_number(total, *where)}'
        )
    return (
        head + f"<p>Per {step:g} s interval. " + " · ".join(legend) + "</p>" + "".join(parts) + "</section>"
    )


def _losses(data: Mapping[str, Any]) -> str:
    losses: Mapping[str, Any] = data.get("losses") or {}
    head = '<section id="losses"><h2>Fields the target cannot hold</h2>'
    if not losses:
        return head + '<p class="none">None: the target holds every field of every order.</p></section>'
    rows = []
    for name, entry in losses.items():
        money = entry.get("money") or {}
        shown = ", ".join(
            f"<span{_key('losses', name, 'money', currency)}>{_e(amount)}</span> {_e(currency)}"
            for currency, amount in money.items()
        )
        rows.append(
            f"<tr><td><code>{_e(name)}</code></td>"
            f'<td class="num">{_number(entry.get("orders"), "losses", name, "orders")}</td>'
            f'<td class="num">{shown}</td><td>{_e(entry.get("reason") or "")}</td></tr>'
        )
    return (
        head + '<table><thead><tr><th>field</th><th class="num">orders</th><th class="num">money lost</th>'
        "<th>why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _failures(data: Mapping[str, Any]) -> str:
    failures: Sequence[Mapping[str, Any]] = data.get("failures") or []
    total = (data.get("counts") or {}).get("failed", len(failures))
    head = f'<section id="failures"><h2>Failures ({_number(total, "counts", "failed")})</h2>'
    if not failures:
        return head + '<p class="none">No order failed.</p></section>'
    kinds = Counter(str(f.get("kind")) for f in failures)
    listed = "" if total == len(failures) else f" ({len(failures)} listed here; all are in the state file)"
    options = "".join(
        f'<option value="{_e(kind)}">{_e(kind)} ({count})</option>' for kind, count in kinds.most_common()
    )
    by_kind = "".join(
        f'<tr><td><code>{_e(kind)}</code></td><td class="num">{count}</td></tr>'
        for kind, count in kinds.most_common()
    )
    rows = "".join(
        f'<tr data-kind="{_e(f.get("kind"))}"><td class="mono">{_e(f.get("source_id"))}</td>'
        f'<td><code>{_e(f.get("kind"))}</code></td><td class="mono">{_e(f.get("field") or "")}</td>'
        f"<td>{_e(f.get('message'))}</td></tr>"
        for f in failures
    )
    return (
        head
        + f"<p>By kind{_e(listed)}:</p>"
        + '<table class="by-kind"><thead><tr><th>kind</th><th class="num">orders</th></tr></thead>'
        f"<tbody>{by_kind}</tbody></table>"
        + '<div class="filter"><label>kind <select id="failure-kind"><option value="">all</option>'
        f'{options}</select></label><label>text <input id="failure-text" type="search" '
        'placeholder="order id, field or message"></label>'
        f'<span><span id="failures-shown">{len(failures)}</span> shown</span></div>'
        "<table><thead><tr><th>order</th><th>kind</th><th>field</th><th>message</th></tr></thead>"
        f'<tbody id="failure-rows">{rows}</tbody></table></section>'
    )


def _references(data: Mapping[str, Any]) -> str:
    refs: Mapping[str, Mapping[str, Any]] = data.get("unresolved_references") or {}
    head = '<section id="references"><h2>Unresolved references</h2>'
    if not refs:
        return head + '<p class="none">None: every reference found its id in the target.</p></section>'
    rows = "".join(
        f'<tr><td><code>{_e(kind)}</code></td><td class="mono">{_e(value)}</td>'
        f'<td class="num">{_number(count, "unresolved_references", kind, value)}</td></tr>'
        for kind, values in refs.items()
        for value, count in values.items()
    )
    return (
        head + '<table><thead><tr><th>kind</th><th>value</th><th class="num">orders</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _conflicts(data: Mapping[str, Any]) -> str:
    conflicts: Sequence[Mapping[str, Any]] = data.get("conflicts") or []
    if not conflicts:
        return ""
    rows = "".join(
        f'<tr><td class="mono">{_e(c.get("source_id"))}</td>'
        f'<td class="mono">{_e(", ".join(map(str, c.get("target_ids") or [])))}</td></tr>'
        for c in conflicts
    )
    return (
        f'<section id="conflicts"><h2>Conflicts ({_length(conflicts, "conflicts")})</h2>'
        "<p>Left alone: the target holds another order (not orderbridge's) under the natural key.</p>"
        "<table><thead><tr><th>source order</th><th>target orders</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _verify(result: Mapping[str, Any] | None) -> str:
    head = '<section id="verify"><h2>Verify</h2>'
    if not result:
        return head + '<p class="none">Not verified (<code>orderbridge verify</code> adds it).</p></section>'
    ok = result.get("ok")
    badge = f'<span class="badge {"ok" if ok else "bad"}">{"all equal" if ok else "differences"}</span>'
    cards = [_card("compared", result.get("checked"), "verify", "checked")]
    for name in ("missing", "duplicated", "extra", "mismatches", "money_lost"):
        shown = _length(result.get(name) or [], "verify", name)
        cards.append(_card(name.replace("_", " "), None, shown=shown))
    cards.append(_card("unreadable", result.get("unreadable"), "verify", "unreadable"))
    lines = [
        head,
        f"<p>{badge} verified {_e(result.get('verified_at', ''))}</p>",
        f'<div class="cards">{"".join(cards)}</div>',
    ]
    for name, label in (("missing", "Missing in the target"), ("extra", "Extra in the target")):
        if result.get(name):
            lines.append(f"<p>{label}: " + ", ".join(_code(s) for s in result[name]) + "</p>")
    for entry in result.get("duplicated") or []:
        lines.append(f"<p>Duplicated: {_code(entry.get('source_id'))} → {_ids(entry.get('target_ids'))}</p>")
    mismatches = result.get("mismatches") or []
    if mismatches:
        lines.append("<p>Orders that differ:</p>")
        lines.append(
            _table(
                ["source", "target", "field", "source value", "target value"],
                [
                    [
                        _code(m.get("source_id")),
                        _code(m.get("target_id")),
                        _code(m.get("field")),
                        _e(m.get("source")),
                        _e(m.get("target")),
                    ]
                    for m in mismatches
                ],
            )
        )
    money = result.get("money_lost") or []
    if money:
        lines.append("<p>Copies lacking money the target cannot hold:</p>")
        lines.append(
            _table(
                ["source", "target", "fields", "amount#", "source total#", "target total#"],
                [
                    [
                        _code(m.get("source_id")),
                        _code(m.get("target_id")),
                        _ids(m.get("fields")),
                        _e(m.get("amount")),
                        _e(m.get("source_total")),
                        _e(m.get("target_total")),
                    ]
                    for m in money
                ],
            )
        )
    lines.append("</section>")
    return "\n".join(lines)
