"""The demo project: the real pipeline, small, on the configured teacher and student (the bundled model by default).

One `demo` job runs its stages in order, each as a real job of its own kind that shows on the Jobs page
(or, for the seed copies, the review and the export, as a step of the demo job): probe the student on the demo's
seeds (k=2: its known failures and uncertainty), evolve a handful of shipped seeds, let Magpie write questions, ask
the demo's checkable seeds as samples of their own (seed copies), embed and map everything (which filters
near-duplicates of seeds), sample and verify reasoning paths, review by the gate, probe the student on what was
approved (the headroom), scan for PII and export what was approved: its verified paths as chat data, and the
preference pairs the gate made (passing against failing paths, and Step-DPO step pairs).

The checkable seeds (`sample_seeds/demo/checkable.jsonl`) are chosen so that the bundled 270M base model can solve
them with the few-shot prompts: two one-step arithmetic questions checked against their reference answers
("What is 2 + 2?", "What is 2 * 3?") and a tiny function checked by running its tests (`add(a, b)`); harder sums
("What is 10 + 10?") failed when tried. In two demo runs on a loaded 2-core machine, 2 + 2 passed against its
reference answer both times; 2 * 3 passed once, and once failed: its paths answered 6, but the rollouts
(Math-Shepherd) from their first step did not reach 6, and the strictest step rule lets any verifier's "wrong" fail a
step; `add` passed its tests in the run that checked it with the code verifier. They are there so that the demo ends
with tasks that pass against a real reference answer or real tests. Beside them, the
samples evolution and Magpie make from the shipped gold seeds, and one shipped math seed, are checked the same way
and mostly rejected, each with the gate's reason. When the model solves none of them (another machine samples other
paths), nothing passes and the demo says so: it never passes a stand-in.

The gate decides on every teacher, the bundled 270M base model included. The reasoning stage's final answers are
checked against the reference answer where the task has one (and a code task by its tests), else they vote
(self-consistency, 1/0 against the majority, the pseudo-reference); Monte-Carlo rollouts (Math-Shepherd) from their
steps aim at the same target, and the arithmetic verifier re-computes every written calculation. A sample whose best
path passes the gate is approved; every other sample with paths is rejected with the gate's reason (its weakest
step, the verifier that decided it and why); each review is signed "demo (automatic, by the gate)" and marked
automatic, so the Review page asks a person to confirm it. The demo's result says how many passes were checked
against a reference answer, tests or a majority vote (`passed_by`). Nothing is hand-written.
"""

from __future__ import annotations

from workbench.core.env import export_dir
from workbench.core.wording import plural
from workbench.export.engine import ExportError, ExportOptions, export
from workbench.seeds.engine import load_sample_seeds, parse_seeds, sample_seeds_dir
from workbench.store import Store
from workbench.verify.reasoning import (
    PSEUDO_REFERENCE,
    TaskVerdict,
    counted_verdicts,
    path_gate,
    refresh_task_metric,
    verification_settings,
)

STAGES = ("probe", "evolve", "magpie", "seed_copies", "embed", "project", "reason", "review", "headroom", "scan",
          "export")
DEMO_REVIEWER = "demo (automatic, by the gate)"
# The shipped gold seeds the demo evolves and probes the student on; one math seed, which the bundled model fails,
# is also solved by the teacher (a rejection against a real reference answer).
SEEDS_PER_DOMAIN = {"math": 1, "logic": 1, "science": 1, "writing": 1}
CHECKABLE_SEEDS = "demo/checkable.jsonl"  # under sample_seeds/: the tasks the bundled model can solve (docstring)
MAGPIE_N = 4
# The reasoning stage's budget on the bundled model (about 25 tokens/s on 2 cores): 4 paths per task at
# temperature 0.5 (at 0.8 the 270M model's paths seldom agree on anything: 1 task in 12 had a majority, at
# 0.5 half did), 2 rollouts of at most 48 tokens from at most 2 steps of each path whose answer reaches the
# target; a step is good when a rollout from it reaches the target (Math-Shepherd's hard estimation). The code
# verifier runs the tests of the tasks that have them (the checkable `add(a, b)`) and abstains on the others.
REASON_PARAMS = {
    "n": 4, "temperature": 0.5, "max_tokens": 128, "verifiers": ["arithmetic", "consistency", "rollout", "code"],
    "consistency_mode": "majority", "rollout_k": 2, "rollout_max_steps": 2, "rollout_max_tokens": 48,
    "rollout_label": "any", "rollout_temperature": 0.5, "rollout_skip_wrong_paths": True, "concurrency": 1,
}
RESULT_KEYS = ("tasks_verified", "passed_gate", "passed_by", "rejected", "approved", "exported", "preference_pairs")
PASSED_BY = ("reference_answer", "tests", "majority")  # what verified a pass (outcome_source); 'a person' beside them
SHOWN = 5  # the passes and rejections the demo's result lists (Home shows them)
# The student's probe, small: k=2 attempts of at most 64 tokens on the demo's seeds that can be checked, first on the
# seeds (known failures, the frontier) and, after the review, on the approved tasks (the headroom).
PROBE_OVERRIDES = {"k": 2, "max_tokens": 64}
STUDENT_KEYS = ("student", "seeds_probed", "student_pass_at_1", "known_failures", "approved_probed", "headroom")


def demo_seed_ids(store: Store) -> list[int]:
    """The first seeds of a few domains (loading the shipped seeds into an empty store first)."""
    if store.overview.counts()["seeds"] == 0:
        load_sample_seeds(store)
    chosen: list[int] = []
    for domain, count in SEEDS_PER_DOMAIN.items():
        chosen += [s["id"] for s in store.seeds.list_seeds(domain=domain, limit=count)]
    return chosen or [s["id"] for s in store.seeds.list_seeds(limit=6)]


def checkable_seed_ids(store: Store) -> list[int]:
    """The demo's checkable seeds (CHECKABLE_SEEDS: questions the bundled model can solve, with a reference answer or
    tests), stored first where the store lacks them; a user's own edit of one is kept."""
    path = sample_seeds_dir() / CHECKABLE_SEEDS
    seeds = parse_seeds(path.read_bytes(), path.name).seeds
    store.seeds.insert_new_seeds(seeds)
    return store.seeds.stored_seed_ids(seeds)


def add_seed_copies(store: Store, job_id: int, seed_ids: list[int]) -> list[int]:
    """Ask each seed as a sample of its own (a seed copy: source 'seed', the seed's question and input, no answer of
    its own, made by job `job_id`): its reasoning paths are checked against the seed's reference answer or tests, and
    the verified path is what an export ships. Returns the samples' ids (the same ones when run again)."""
    return store.samples.insert_samples([
        {"source": "seed", "seed_id": seed["id"], "instruction": seed["instruction"], "input": seed["input"],
         "job_id": job_id, "unit_key": f"demo:{job_id}:seed:{seed['id']}"}
        for seed in store.seeds.list_seeds(ids=seed_ids)
    ])


def outcome_source(paths: list[dict], verdict: TaskVerdict) -> str:
    """What verified a passing task's outcome, read from the verdicts that verified its best path (the gate's
    `PathGate.decided_by` on its answer step): 'tests' (the code verifier ran the task's tests), 'reference_answer' (a
    final answer checked against the task's reference answer), 'majority' (the paths' self-consistency majority at
    the margin, a pseudo-reference) or 'a person' (a person's 'correct' on the answer step)."""
    settings = verdict.settings
    gate = path_gate(next(p for p in paths if p["id"] == verdict.best_path_id), settings)
    deciders = gate.decided_by.split(", ")
    counted = counted_verdicts(gate.step["scores"], settings) if gate.step else {}
    targets = {(counted[name].get("params") or {}).get("target_kind") for name in deciders if name in counted}
    if "code" in deciders:
        return "tests"
    if "arithmetic" in deciders or "reference" in targets:  # arithmetic checks an outcome against a reference only
        return "reference_answer"
    return "majority" if PSEUDO_REFERENCE in targets else "a person"


def review_by_gate(store: Store, tasks: list[dict]) -> dict:
    """Re-evaluate each task under the saved gate settings. Pending samples whose best path passes are approved,
    the other pending samples with paths are rejected with the gate's reason as the review note (samples a
    person reviewed, or a filter removed, are left as they are); both decisions are marked automatic.

    Returns tasks_verified (tasks with paths), passed_gate, passed_by ({reference_answer, tests, majority, and
    'a person' when one passed that way}: what verified each pass, `outcome_source`), approved and rejected (samples
    changed now), and the first SHOWN `passes` ({task, instruction, checked_against}) and `rejections` ({sample,
    instruction, status, reason})."""
    settings = verification_settings(store)
    counts: dict = {"tasks_verified": 0, "passed_gate": 0, "passed_by": dict.fromkeys(PASSED_BY, 0), "approved": 0,
                    "rejected": 0, "passes": [], "rejections": []}
    for task in tasks:
        verdict = refresh_task_metric(store, task["type"], task["id"], settings)
        if verdict.best_path_id is None:
            continue
        counts["tasks_verified"] += 1
        item = store.samples.get_sample(task["id"]) if task["type"] == "sample" else store.seeds.get_seed(task["id"])
        if verdict.passed:
            counts["passed_gate"] += 1
            paths = store.verify.reasoning_paths_nested(task["type"], task["id"])[(task["type"], task["id"])]
            source = outcome_source(paths, verdict)
            counts["passed_by"][source] = counts["passed_by"].get(source, 0) + 1
            if len(counts["passes"]) < SHOWN:
                counts["passes"].append({"task": f"{task['type']} {task['id']}", "instruction": item["instruction"][:120],
                                         "checked_against": source})
        if task["type"] != "sample" or item["status"] != "pending" or item["filter_reason"]:
            continue  # a seed, a sample a person (or a filter) has decided on already
        if verdict.passed:
            counts["approved"] += store.review.set_sample_status([task["id"]], "approved", DEMO_REVIEWER,
                                                          f"passed the gate: {verdict.reason}", automatic=True)
        else:
            counts["rejected"] += store.review.set_sample_status([task["id"]], "rejected", DEMO_REVIEWER,
                                                          f"gate {verdict.status}: {verdict.reason}", automatic=True)
            if len(counts["rejections"]) < SHOWN:
                counts["rejections"].append({"sample": task["id"], "instruction": item["instruction"][:120],
                                             "status": verdict.status, "reason": verdict.reason})
    return counts


def export_approved(store: Store, job_id: int) -> dict:
    """Export the approved samples (OpenAI chat format, with lineage) to demo-<job>.jsonl in the export folder.

    Returns {"exported": rows written, "export_path": ..., "blocked_for_pii": ...}; with nothing to export,
    {"exported": 0, "export_note": why}."""
    try:
        result = export(store, ExportOptions(fmt="openai", lineage=True, overwrite=True), f"demo-{job_id}.jsonl",
                        export_dir())
    except ExportError as exc:
        return {"exported": 0, "export_note": str(exc)}
    return {"exported": result.written, "export_path": str(result.path), "blocked_for_pii": result.blocked}


def export_preferences(store: Store, job_id: int) -> dict:
    """Export the preference pairs the gate made on the approved samples (TRL DPO, conversational, with lineage) to
    demo-<job>-pairs.jsonl in the export folder: each passing path against the failing ones, and Step-DPO pairs.

    Returns {"preference_pairs": rows written, "preference_path": ...}; with none, {"preference_pairs": 0,
    "preference_note": why}."""
    try:
        result = export(store, ExportOptions(fmt="dpo-conversational", lineage=True, overwrite=True),
                        f"demo-{job_id}-pairs.jsonl", export_dir())
    except ExportError as exc:
        return {"preference_pairs": 0, "preference_note": str(exc)}
    return {"preference_pairs": result.written, "preference_path": str(result.path)}


def passes_summary(result: dict) -> str:
    """The demo's outcome in one sentence (CLI and Home): how many tasks passed the gate and what checked them
    (`passed_by`), or plainly that nothing passed and why that is no stand-in."""
    if not result.get("tasks_verified"):
        return "No task was verified."
    if not result.get("passed_gate"):
        return (f"None of the {plural(result['tasks_verified'], 'task')} verified passed the gate: the teacher solved "
                "none of them, checked against a reference answer, tests or a majority vote (each rejection says why).")
    checked = ", ".join(f"{key.replace('_', ' ')} {n:,}" for key, n in (result.get("passed_by") or {}).items() if n)
    return (f"{plural(result['passed_gate'], 'task')} of {result['tasks_verified']:,} verified passed the gate, "
            f"checked against: {checked}.")


def student_figures(store: Store, stage: str, job_id: int | None, note: str | None = None) -> dict:
    """The demo's figures of a probe stage (STUDENT_KEYS): from its job's report, or the note saying why it did not
    run (no seed or approved task with a checkable answer)."""
    if job_id is None:
        return {f"{stage}_note": note}
    report = store.jobs.get_job(job_id)["result"] or {}
    if stage == "probe":
        return {"student": report.get("student"), "seeds_probed": report.get("probed"),
                "student_pass_at_1": report.get("pass_at_1"), "known_failures": len(report.get("known_failures", []))}
    return {"headroom": report.get("headroom"), "approved_probed": report.get("probed")}
