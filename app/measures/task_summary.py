"""The guided exam's task table as the summaries print it (HTML and PDF share these words).

Qt-free, stdlib only. One row per task of NAME_measures.json "tasks" (app.measures.tasks): task,
when (player clock), headline measure with right and left, symmetry with its 95 % interval, weaker
side, synkinesis; then the movements that belonged to no task.
"""
from __future__ import annotations

import html
import math

HEADER = ["task", "when", "measure", "patient right", "patient left", "symmetry %", "weaker", "synkinesis"]
INTRO = ("Each instructed movement measured on its own plateau inside the task's span: the change from the "
         "protocol's rest in the measure the task tests, right against left, with 95 % intervals in brackets. Synkinesis: "
         "during smiles each eye's narrowing in % of its own resting opening; during eye closures each mouth "
         "corner's movement in mm. No composite grade.")
UNTASKED_TITLE = "Movement outside the tasks"


def _ok(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _num(x, digits: int = 1) -> str:
    return f"{x:.{digits}f}" if _ok(x) else "-"


def _ci(value, ci, digits: int = 1) -> str:
    shown = _num(value, digits)
    if _ok(value) and ci and all(_ok(v) for v in ci):
        shown += f" ({ci[0]:.{digits}f} to {ci[1]:.{digits}f})"
    return shown


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _synkinesis(s: dict | None) -> str:
    if not s:
        return ""
    unit = "%" if s["measure"] == "eye_narrowing_pct" else " mm"
    what = "eye narrowing" if s["measure"] == "eye_narrowing_pct" else "mouth corner"
    return (f"{what}: R {_ci(s.get('right'), s.get('ci95_right'))}{unit}, "
            f"L {_ci(s.get('left'), s.get('ci95_left'))}{unit}")


def _closure(entry: dict) -> str:
    c = entry.get("closure") or {}
    gaps = [f"{side[0].upper()} gap {_num((c.get(side) or {}).get('gap_mm'))} mm" for side in ("right", "left")
            if c.get(side)]
    return "; ".join(gaps)


def task_label(task: str) -> str:
    """"gentle_eye_closure" -> "gentle eye closure" (the vocabulary's names, readable)."""
    return task.replace("_", " ")


def task_rows(result: dict) -> list[list[str]]:
    """Plain-text rows (HEADER's columns), one per task, in the record's order."""
    rows = []
    for e in result.get("tasks") or []:
        when = f"{_mmss(e['start_s'])}-{_mmss(e['end_s'])}"
        h = e.get("headline")
        if not h:
            rows.append([task_label(e["task"]), when, e.get("headline_note") or "-", "", "", "", "", ""])
            continue
        label = f"{h['label']} ({h['unit']})"
        if e.get("closure"):
            label += "; " + _closure(e)
        if h.get("not_measurable"):
            symmetry = h["not_measurable"]
        elif h.get("symmetry_pct") is None:
            symmetry = h.get("note") or "no movement beyond the noise"
        else:
            symmetry = _ci(h["symmetry_pct"], h.get("ci95"), 0)
        rows.append([task_label(e["task"]), when, label, _ci(h["right"]["value"], h["right"]["ci95"]),
                     _ci(h["left"]["value"], h["left"]["ci95"]), symmetry,
                     h.get("weaker") or ("-" if h.get("not_measurable") else "none"),
                     _synkinesis(e.get("synkinesis"))])
    return rows


def untasked_lines(result: dict) -> list[str]:
    """One line per movement that belonged to no task (None when no record was used)."""
    out = []
    for u in result.get("untasked") or []:
        out.append(f"{_mmss(u['start_s'])}-{_mmss(u['end_s'])}: {u['region']} moved "
                   f"({', '.join(u.get('regions_active') or [u['region']])}); not part of any task")
    return out


def closure_comparison(result: dict) -> str | None:
    """Gentle against full closure in one sentence, when both were asked for."""
    c = result.get("tasks_compared")
    if not c:
        return None
    parts = []
    for side in ("right", "left"):
        d = c.get(side)
        if d:
            parts.append(f"patient {side}: gentle {_ci(d['gentle_closed_pct'], d.get('gentle_ci95'), 0)} %, "
                         f"full {_ci(d['full_closed_pct'], d.get('full_ci95'), 0)} % of the resting opening closed")
    return "Gentle against full eye closure: " + "; ".join(parts) + "." if parts else None


def tasks_html(result: dict) -> str:
    """The task table (and the untasked movement) as an HTML section; "" when no record was used."""
    if "tasks" not in result:
        return ""
    e = html.escape
    head = "".join(f'<th class="l">{e(h)}</th>' for h in HEADER)
    body = "".join("<tr>" + "".join(f'<td class="l">{"<b>" + e(c) + "</b>" if i == 0 else e(c)}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in task_rows(result))
    out = [f'<div class="keep"><h2>Tasks (guided exam: {e(result.get("protocol", {}).get("name", ""))})</h2>'
           f"<p class='sub'>{e(INTRO)}</p><table class='head'><tr>{head}</tr>{body}</table></div>"]
    if (sentence := closure_comparison(result)):
        out.append(f"<p>{e(sentence)}</p>")
    lines = untasked_lines(result)
    out.append(f"<h3>{e(UNTASKED_TITLE)}</h3>" + ("<ul>" + "".join(f"<li>{e(x)}</li>" for x in lines) + "</ul>"
                                                   if lines else "<p>None: every movement fell inside a task.</p>"))
    return "".join(out)


__all__ = ["tasks_html", "HEADER", "INTRO", "UNTASKED_TITLE", "task_rows", "untasked_lines", "closure_comparison"]
