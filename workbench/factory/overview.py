"""The factory at a glance: the funnel, the gate's decisions and what the work cost.

One report feeds the Overview page, Home and `workbench overview`, so all three show the same numbers.
The funnel only narrows: every stage counts a subset of the stage before it (see `STAGES` for each
definition), so every rate between stages lies in [0, 1]. Samples that reached a stage by another way
(a reviewer approving a sample the gate failed, left unverified or never decided) are counted beside the funnel, not
in it, by what the gate said of them; the approved samples in all (`store.overview.approved_counts`) are the count Home, Review
and Export show.
"""

from __future__ import annotations

from dataclasses import dataclass

import workbench.student.report as student_report
from workbench.core.wording import plural
from workbench.store import Store
from workbench.verify.reasoning import GateFailure, selection_rule, verification_settings


@dataclass(frozen=True)
class Stage:
    """One funnel stage: its key in `store.overview.funnel_counts`, its label and what it counts."""

    key: str
    label: str
    definition: str


STAGES: tuple[Stage, ...] = (
    Stage("candidates", "Candidates",
          "Every text the factory made or took in: each evolution attempt that came back (eliminated ones too), "
          "each Magpie generation (filtered ones too), each imported sample, each seed asked as a sample (a seed "
          "copy). Failed model calls are not counted."),
    Stage("kept", "Passed the filters",
          "Candidates without a filter reason: evolutions that survived elimination, Magpie samples that passed "
          "every filter, and no sample set aside as a near-duplicate of a seed."),
    Stage("verified", "Decided by the gate",
          "Kept samples whose reasoning paths were sampled and scored step by step, and which the gate decided: "
          "passed, unverified (nothing verified the outcome) or failed (a step found wrong, or no final answer)."),
    Stage("gated", "Passed the gate",
          "Decided samples whose best path's outcome is verified (the reference answer, the tests or a "
          "self-consistency majority at the margin) and in which no verifier found a step wrong."),
    Stage("approved", "Passed and approved",
          "Samples that passed the gate and were approved in review (by a person, or by the demo's automatic review). "
          "Samples approved without passing the gate are counted beside the funnel; all approved samples together "
          "are what Home, Review and Export count as approved."),
    Stage("exported", "Passed, approved and exported",
          "Samples that passed the gate, were approved and were written to at least one export file."),
)


def gate_reasons(store: Store, status: str) -> list[dict]:
    """Why the kept samples the gate left `status` (unverified or failed) got it, grouped as the Verifier page says
    it for each task (the gate's `TaskVerdict.failure`: a kind and who decided it), most common first:
    [{"reason": label, "key": kind, "decided_by": who, "count": n}]."""
    return [{"reason": GateFailure(row["kind"], row["decided_by"]).label, "key": row["kind"],
             "decided_by": row["decided_by"], "count": row["count"]} for row in store.overview.gate_reason_counts(status)]


def funnel(counts: dict[str, int]) -> list[dict]:
    """The stages in order as {stage, key, count, definition, rate}; rate = count / previous stage's count
    (None for the first stage and after an empty stage)."""
    rows: list[dict] = []
    previous: int | None = None
    for stage in STAGES:
        count = int(counts[stage.key])
        rate = count / previous if previous else None
        rows.append({"stage": stage.label, "key": stage.key, "count": count, "definition": stage.definition, "rate": rate})
        previous = count
    return rows


def entropy_by_depth(store: Store) -> list[dict]:
    """Per evolution depth: the mean entropy gain over the parent (`store.maps.entropy_frontier`) beside the share of
    the depth's decided tasks that passed the gate (pass_rate, None where none was decided) and how many were
    decided (verified): the Overview's and the Distributions page's one frontier."""
    rows = {row["depth"]: {**row, "pass_rate": None, "verified": 0} for row in store.maps.entropy_frontier()}
    for row in store.overview.gate_pass_rate_by_depth():
        rows.setdefault(row["depth"], {"depth": row["depth"], "mean_entropy_gain": None, "nodes": 0}).update(row)
    return [rows[depth] for depth in sorted(rows)]


def overview_report(store: Store) -> dict:
    """Everything the Overview page shows, as plain data (the JSON of `workbench overview --json`); its `student`
    key is the student in the loop: seeds probed, pass@1 on them, headroom (`student_report.student_summary`).

    Keys: seeds; funnel (see `funnel`); approved (`store.overview.approved_counts`: every approved sample no filter removed,
    the count Home, Review and Export show, by the gate's decision on it); outside_funnel (approved and exported
    samples that did not pass the gate: approved = approved.total - the funnel's approved); gate (the settings:
    threshold, margin, aggregation and its rule in words, step_rule; `store.overview.gate_counts` of the kept samples:
    decided, passed, unverified and failed, with unverified_reasons and failure_reasons and their counts; the
    review status of the passed ones; the same counts for `seeds` and `removed_samples`); entropy_by_depth;
    verifiers; usage (per job kind: tokens, cost in USD or None when unknown, worker seconds); sample_models
    (samples per teacher model).
    """
    settings = verification_settings(store)
    counts = store.overview.funnel_counts()
    decided = store.overview.gate_counts()
    approved = store.overview.approved_counts()
    return {
        "seeds": counts["seeds"],
        "funnel": funnel(counts),
        "approved": approved,
        "outside_funnel": {
            "approved": approved["total"] - counts["approved"],
            "exported": counts["exported_total"] - counts["exported"],
        },
        "gate": {
            "threshold": settings.threshold,
            "margin": settings.margin,
            "aggregation": settings.aggregation,
            "selection_rule": selection_rule(settings),
            "step_rule": settings.step_rule,
            **decided["samples"],
            "unverified_reasons": gate_reasons(store, "unverified"),
            "failure_reasons": gate_reasons(store, "failed"),
            "review_of_passed": store.overview.gated_review_counts(),
            "seeds": decided["seeds"],
            "removed_samples": decided["removed samples"],
        },
        "entropy_by_depth": entropy_by_depth(store),
        "verifiers": store.overview.verifier_pass_rates(),
        "usage": store.jobs.usage_by_kind(),
        "sample_models": store.overview.sample_models(),
        "student": student_report.student_summary(store),
    }


def approved_beside_the_gate(approved: dict) -> str:
    """The approved samples that did not pass the gate, by what the gate said of them, in words ('' when none): 'one
    approved though the gate failed it, 2 approved while it was unverified'."""
    parts = [f"{plural(approved[key], 'sample')} approved {words}" for key, words in (
        ("failed", "though the gate failed it"), ("unverified", "while the gate left it unverified"),
        ("undecided", "before the gate decided it (no scored reasoning path)")) if approved[key]]
    return "; ".join(parts)


NEXT_STEPS = ("seeds", "generate", "verify", "gate", "review", "export", "done")


def next_step(report: dict) -> tuple[str, str]:
    """What to do next, from an overview report: (one of NEXT_STEPS, a sentence saying why)."""
    stages = {row["key"]: row["count"] for row in report["funnel"]}
    gate = report["gate"]
    pending = gate["review_of_passed"].get("pending", 0)
    if report["seeds"] == 0 and stages["candidates"] == 0:
        return "seeds", "Start with gold seeds: load the sample seeds or import your own."
    if stages["kept"] == 0:
        return "generate", "Grow samples from the seeds: evolve them (Evolution) or let the model write its own questions (Magpie)."
    if stages["verified"] == 0:
        return "verify", f"Sample and verify reasoning paths for the {plural(stages['kept'], 'kept sample')}."
    if stages["gated"] == 0:
        return "gate", (f"{plural(stages['verified'], 'sample')} decided by the gate, none passed "
                        f"({gate['unverified']:,} unverified, {gate['failed']:,} failed): see why on the Verifier page, "
                        "where you can also overrule a step.")
    if pending:
        return "review", f"Review what passed the gate: {plural(pending, 'sample')} pending."
    if stages["approved"] > stages["exported"]:
        return "export", f"Export the {plural(stages['approved'] - stages['exported'], 'approved sample')} not exported yet."
    return "done", "Everything that passed the gate is reviewed and exported. The Overview shows the whole funnel."
