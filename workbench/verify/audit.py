"""What the Verifier page shows: per-task verdicts with audit flags, the paths x steps heatmap, step tables.

Pure functions over `store.verify.reasoning_paths_nested` output; no Streamlit here.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import plotly.graph_objects as go

from workbench.verify.reasoning import (
    PASSED,
    UNVERIFIED,
    TaskVerdict,
    VerificationSettings,
    counted_verdicts,
    decided_by,
    disagrees,
    evaluate_task,
    low_confidence,
    path_name,
    step_score,
)
from workbench.verify.verifiers.base import UNVERIFIABLE

FILTERS = {
    "disagreements": "verifiers disagree on a step",
    "overruled": "a person overruled a step",
    "gated out": "the task does not pass: unverified or failed",
    "unverified": "nothing verified the best path's outcome",
    "low confidence": "a step scores between 0.25 and 0.75",
}
# Heatmap marks: what the verdicts on a cell checked. A step only evidence speaks for (its arithmetic holds) is
# not a verified step; a step with an outcome verdict carries the check of the path's result.
OUTCOME_MARK, EVIDENCE_MARK = "◎", "e"
GATE_WORDS = {PASSED: "passes", UNVERIFIED: "unverified"}
COLORSCALE = [[0.0, "#d73027"], [0.5, "#fee08b"], [1.0, "#1a9850"]]


@dataclass
class TaskSummary:
    task_type: str
    task_id: int
    title: str
    paths: list[dict]
    verdict: TaskVerdict
    flags: set[str]

    @property
    def key(self) -> str:
        return f"{self.task_type}:{self.task_id}"


def vouches(verdicts: dict[str, dict]) -> str:
    """What the verdicts given on a step checked, the strongest kind first: 'outcome' (the final result against
    ground truth), 'step' (the step's logic was judged), 'evidence' (only evidence, such as arithmetic), or ''
    (no verdict)."""
    kinds = {v.get("checks") or "evidence" for v in verdicts.values() if v["label"] != UNVERIFIABLE}
    return next((kind for kind in ("outcome", "step", "evidence") if kind in kinds), "")


def gate_word(verdict: TaskVerdict) -> str:
    """'passes', 'unverified' or 'fails': the task's status as the page says it."""
    return GATE_WORDS.get(verdict.status, "fails")


def step_flags(step: dict) -> set[str]:
    flags = set()
    if disagrees(step["scores"]):
        flags.add("disagreements")
    if step["overrule"] is not None:
        flags.add("overruled")
    if low_confidence(step_score(step["scores"], step["overrule"])):
        flags.add("low confidence")
    return flags


def summarise(nested: dict[tuple, list[dict]], titles: dict[tuple, str], settings: VerificationSettings) -> list[TaskSummary]:
    """One summary per task with its verdict and which audit filters it matches."""
    summaries = []
    for (task_type, task_id), paths in nested.items():
        verdict = evaluate_task(paths, settings)
        flags = {flag for path in paths for step in path["steps"] for flag in step_flags(step)}
        if not verdict.passed:
            flags.add("gated out")
        if verdict.status == UNVERIFIED:
            flags.add("unverified")
        title = titles.get((task_type, task_id), "(deleted task)")
        summaries.append(TaskSummary(task_type, task_id, title, paths, verdict, flags))
    return summaries


def matching(summaries: list[TaskSummary], wanted: list[str]) -> list[TaskSummary]:
    """Tasks that match every chosen filter."""
    return [s for s in summaries if set(wanted) <= s.flags]


def path_label(path: dict, verdict: TaskVerdict) -> str:
    """The path's name (`reasoning.path_name`), starred when it is the task's best path."""
    return ("★ " if path["id"] == verdict.best_path_id else "") + path_name(path)


def _wrap(text: str, width: int = 70, limit: int = 600) -> str:
    short = text if len(text) <= limit else text[:limit] + "…"
    return "<br>".join(textwrap.wrap(short, width)) or "(empty)"


def hover_text(step: dict, settings: VerificationSettings) -> str:
    """A cell's hover: the step's score as the gate counts it, who decided it, what its verdicts vouch for, the text
    and every verdict (with what it checks) and overrule."""
    counted = counted_verdicts(step["scores"], settings)
    kind = vouches(counted)
    lines = [f"<b>Step {step['idx'] + 1}</b> · score {step_score(counted, step['overrule']):.2f}"
             f" · decided by {decided_by(counted, step['overrule'])}" + (f" · vouches for: {kind}" if kind else ""),
             _wrap(step["text"])]
    for name, verdict in sorted(counted.items()):
        lines.append(f"<b>{name}</b> ({verdict.get('checks') or 'evidence'}): {verdict['score']:.2f} {verdict['label']}"
                     f" — {_wrap(verdict['rationale'] or '', 70, 240)}")
    if step["overrule"] is not None:
        o = step["overrule"]
        lines.append(f"<b>overruled</b>: {o['label']} by {o['reviewer']} — {_wrap(o['reason'] or '', 70, 200)}")
    return "<br>".join(lines)


def heatmap_figure(summary: TaskSummary) -> go.Figure:
    """Paths x steps coloured by effective step score (verdicts counted as the gate counts them); each cell marks
    what its verdicts vouch for (OUTCOME_MARK: a verified outcome, EVIDENCE_MARK: only evidence), ✎ an overrule and ≠
    verifiers that disagree; a transparent marker per cell carries hover and clicks."""
    paths, verdict = summary.paths, summary.verdict
    settings = verdict.settings
    width = max((len(p["steps"]) for p in paths), default=0)
    labels = [f"{path_label(p, verdict)} · {verdict.path_scores[p['id']]:.2f}" for p in paths]
    z = [[None] * width for _ in paths]
    marks = [[""] * width for _ in paths]
    xs, ys, hovers, custom = [], [], [], []
    for row, path in enumerate(paths):
        for step in path["steps"]:
            column = step["idx"]
            counted = counted_verdicts(step["scores"], settings)
            z[row][column] = step_score(counted, step["overrule"])
            kind = vouches(counted)
            marks[row][column] = ({"outcome": OUTCOME_MARK, "evidence": EVIDENCE_MARK}.get(kind, "")
                                  + ("✎" if step["overrule"] else "") + ("≠" if disagrees(step["scores"]) else ""))
            xs.append(column + 1)
            ys.append(labels[row])
            hovers.append(hover_text(step, settings))
            custom.append([path["id"], step["id"]])
    steps_axis = list(range(1, width + 1))
    figure = go.Figure()
    figure.add_trace(go.Heatmap(
        z=z, x=steps_axis, y=labels, zmin=0, zmax=1, colorscale=COLORSCALE, text=marks, texttemplate="%{text}",
        hoverinfo="skip", xgap=2, ygap=2, colorbar={"title": {"text": "step score"}},
    ))
    figure.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", customdata=custom, hovertext=hovers, hoverinfo="text", showlegend=False,
        marker={"symbol": "square", "size": 26, "color": "rgba(0,0,0,0)", "line": {"width": 0}},
        selected={"marker": {"color": "rgba(30,30,30,0.35)"}}, unselected={"marker": {"opacity": 1}},
    ))
    if verdict.best_path_id is not None:
        best_row = [p["id"] for p in paths].index(verdict.best_path_id)  # category axis: rows sit at 0, 1, 2...
        figure.add_shape(type="rect", xref="x", x0=0.5, x1=width + 0.5, yref="y", y0=best_row - 0.5,
                         y1=best_row + 0.5, line={"color": "#1f4e99", "width": 3}, layer="above")
    best = "—" if verdict.best_score is None else f"{verdict.best_score:.2f}"
    figure.update_layout(
        title={"text": f"Gate: {gate_word(verdict)} · best path {best} ({verdict.aggregation}) · a step is wrong "
                       f"under {verdict.threshold:g}"},
        xaxis={"title": {"text": "step"}, "tickmode": "linear", "dtick": 1},
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(260, 60 + 34 * len(paths)), margin={"l": 10, "r": 10, "t": 50, "b": 40},
        hoverlabel={"align": "left"},
    )
    return figure


def step_rows(path: dict, verifiers: list[str], settings: VerificationSettings) -> list[dict]:
    """One row per step: text, effective score (as the gate counts verdicts), what it vouches for, each verifier's
    score, label, what it checks and rationale side by side, the overrule."""
    rows = []
    for step in path["steps"]:
        counted = counted_verdicts(step["scores"], settings)
        row = {"step": step["idx"] + 1, "text": step["text"], "score": step_score(counted, step["overrule"]),
               "vouches for": vouches(counted) or "nothing", "decided by": decided_by(counted, step["overrule"]),
               "flags": ", ".join(sorted(step_flags(step)))}
        for name in verifiers:
            verdict = counted.get(name)
            row[f"{name} score"] = verdict["score"] if verdict else None
            row[f"{name} label"] = verdict["label"] if verdict else None
            row[f"{name} checks"] = verdict.get("checks") if verdict else None
            row[f"{name} rationale"] = verdict["rationale"] if verdict else None
        overrule = step["overrule"]
        row["overrule"] = (
            f"{overrule['label']} by {overrule['reviewer']}: {overrule['reason']}" if overrule else None
        )
        rows.append(row)
    return rows


def rollout_rows(verdict: dict | None, rollouts: list[dict]) -> list[dict]:
    """One row per stored rollout of a step: k, the answer it reached, whether that is the verdict's target, its text."""
    reached = (verdict or {}).get("params", {}).get("reached") or []
    return [{"k": r["k"] + 1, "final answer": r["final_answer"] or "(none)",
             "reaches the target": reached[r["k"]] if r["k"] < len(reached) else None, "continuation": r["text"]}
            for r in rollouts]


def verifier_names(paths: list[dict]) -> list[str]:
    return sorted({name for path in paths for step in path["steps"] for name in step["scores"]})
