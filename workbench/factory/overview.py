"""The factory at a glance: the funnel, the gate's decisions and what the work cost.

One report feeds the Overview page, Home and `workbench overview`, so all three show the same numbers.
The funnel only narrows: every stage counts a subset of the stage before it (see `STAGES` for each
definition), so every rate between stages lies in [0, 1]. Samples that reached a stage by another way
(a reviewer approving a sample that never passed the gate) are counted beside the funnel, not in it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from workbench.core.wording import plural
from workbench.store import Store
from workbench.verify.reasoning import GateFailure, VerificationSettings, evaluate_task, verification_settings


@dataclass(frozen=True)
class Stage:
    """One funnel stage: its key in `Store.funnel_counts`, its label and what it counts."""

    key: str
    label: str
    definition: str


STAGES: tuple[Stage, ...] = (
    Stage("candidates", "Candidates",
          "Every text the factory made or took in: each evolution attempt that came back (eliminated ones too), "
          "each Magpie generation (filtered ones too), each imported sample. Failed model calls are not counted."),
    Stage("kept", "Passed the filters",
          "Candidates without a filter reason: evolutions that survived elimination, Magpie samples that passed "
          "every filter, and no sample set aside as a near-duplicate of a seed."),
    Stage("verified", "Verified",
          "Kept samples whose reasoning paths were sampled and scored step by step by the verifiers."),
    Stage("gated", "Passed the gate",
          "Verified samples whose best path score reaches the gate threshold."),
    Stage("approved", "Approved",
          "Samples that passed the gate and were approved in review (by a person, or by the demo's automatic review)."),
    Stage("exported", "Exported",
          "Approved samples written to at least one export file."),
)

# A sample whose stored best path score fails the gate, while its paths pass under today's aggregation rule.
RESCORED = ("rescored", "", "passes under today's path score rule; its stored score is from an earlier rule (verify it "
                            "again to store the new one)")


def failure_reasons(store: Store, settings: VerificationSettings) -> list[dict]:
    """Why the kept samples under the gate failed, grouped as the Verifier page says it for each task (the gate's
    `TaskVerdict.failure`: the best path's weakest step and who decided it), most common first:
    [{"reason": label, "key": kind, "decided_by": who, "count": n}]."""
    failing = set(store.gate_failing_samples(settings.threshold))
    groups: Counter[tuple[str, str, str]] = Counter()
    for (task_type, task_id), paths in store.reasoning_paths_nested().items():
        if task_type != "sample" or task_id not in failing:
            continue
        failing.discard(task_id)
        failure = evaluate_task(paths, settings).failure
        groups[(failure.kind, failure.decided_by, failure.label) if failure else RESCORED] += 1
    if failing:  # a stored score without paths (deleted since)
        no_steps = GateFailure("no_steps")
        groups[(no_steps.kind, "", no_steps.label)] += len(failing)
    return [{"reason": label, "key": kind, "decided_by": who, "count": n}
            for (kind, who, label), n in groups.most_common()]


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
    """Per evolution depth: the mean entropy gain over the parent (`Store.entropy_frontier`) beside the share of
    the depth's verified tasks that pass the gate (pass_rate, None where none was verified) and how many were
    verified: the Overview's and the Distributions page's one frontier."""
    return store.entropy_frontier(verification_settings(store).threshold)


def overview_report(store: Store) -> dict:
    """Everything the Overview page shows, as plain data (the JSON of `workbench overview --json`).

    Keys: seeds; funnel (see `funnel`); outside_funnel (approved and exported samples that skipped the gate);
    gate (threshold, aggregation, verified, passed, failed, failure reasons with counts, review status of the
    passed ones, verified and passed seeds); entropy_by_depth; verifiers; usage (per job kind: tokens, cost in
    USD or None when unknown, worker seconds); sample_models (samples per teacher model).
    """
    settings = verification_settings(store)
    counts = store.funnel_counts(settings.threshold)
    return {
        "seeds": counts["seeds"],
        "funnel": funnel(counts),
        "outside_funnel": {
            "approved": counts["approved_total"] - counts["approved"],
            "exported": counts["exported_total"] - counts["exported"],
        },
        "gate": {
            "threshold": settings.threshold,
            "aggregation": settings.aggregation,
            "verified": counts["verified"],
            "passed": counts["gated"],
            "failed": counts["verified"] - counts["gated"],
            "failure_reasons": failure_reasons(store, settings),
            "review_of_passed": store.gated_review_counts(settings.threshold),
            "seeds": store.seed_gate_counts(settings.threshold),
        },
        "entropy_by_depth": entropy_by_depth(store),
        "verifiers": store.verifier_pass_rates(),
        "usage": store.usage_by_kind(),
        "sample_models": store.sample_models(),
    }


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
        return "gate", (f"{plural(stages['verified'], 'sample')} verified, none passed the gate: see why on the "
                        "Verifier page, where you can also overrule a step.")
    if pending:
        return "review", f"Review what passed the gate: {plural(pending, 'sample')} pending."
    if stages["approved"] > stages["exported"]:
        return "export", f"Export the {plural(stages['approved'] - stages['exported'], 'approved sample')} not exported yet."
    return "done", "Everything that passed the gate is reviewed and exported. The Overview shows the whole funnel."
