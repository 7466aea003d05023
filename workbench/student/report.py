"""The student at a glance, for the Overview, `overview --json`, Home and the dataset card.

Everything is read from the latest finished probe jobs of one student (the student of the most recent finished
probe): per seed, its latest probe's attempts; per approved task, likewise. Known failures and the headroom use the
current threshold setting (`StudentSettings.threshold`).
"""

from __future__ import annotations

from workbench.core.settings import teacher_config
from workbench.store import Store
from workbench.student.probe import NO_DOMAIN, TaskResult, aggregate, plan_seeds
from workbench.student.settings import student_settings


def latest_results(store: Store, student: str, task_type: str) -> list[TaskResult]:
    """Per task (`seed` or `sample`) probed by a finished probe job of `student`: its latest such job's attempts."""
    return [TaskResult(row["task_id"], row["attempts"], row["correct"], int(row["k"] or row["attempts"]), row["domain"])
            for row in store.student.latest_attempt_counts(student, task_type)]


def student_summary(store: Store) -> dict:
    """What is known of the student, as plain data:

    {"student": model or None (no finished probe yet), "configured": the student in Settings, "teacher",
     "same_as_teacher", "threshold",
     "seeds": {"probed", "pass_at_1", "pass_at_k", "failed"} of the seeds probed, "seeds_not_probeable",
     "known_failures": {"probe", "manual"},
     "headroom": {"probed", "pass_at_1", "pass_at_k", "failed", "headroom"} of the approved tasks probed (headroom =
     failed / probed, None when none was probed),
     "by_domain": [{"domain", "seeds_probed", "seeds_pass_at_1", "approved_probed", "headroom"}]}."""
    settings = student_settings(store)
    latest = store.student.latest_probe_student()
    student = latest["student"] if latest else None
    seeds = latest_results(store, student, "seed") if student else []
    approved = latest_results(store, student, "sample") if student else []
    threshold = settings.threshold
    headroom = aggregate(approved, threshold)
    headroom["headroom"] = headroom["failed"] / headroom["probed"] if headroom["probed"] else None
    teacher = teacher_config(store).model
    return {
        "student": student,
        "configured": settings.model,
        "teacher": teacher,
        "same_as_teacher": (student or settings.model) == teacher,
        "threshold": threshold,
        "seeds": aggregate(seeds, threshold),
        "seeds_not_probeable": len(plan_seeds(store.seeds.list_seeds())[1]),
        "known_failures": store.seeds.known_failure_counts(),
        "headroom": headroom,
        "by_domain": _by_domain(seeds, approved, threshold),
    }


def _by_domain(seeds: list[TaskResult], approved: list[TaskResult], threshold: float) -> list[dict]:
    rows = []
    for domain in sorted({r.domain or NO_DOMAIN for r in [*seeds, *approved]}):
        on_seeds = aggregate([r for r in seeds if (r.domain or NO_DOMAIN) == domain], threshold)
        on_approved = aggregate([r for r in approved if (r.domain or NO_DOMAIN) == domain], threshold)
        rows.append({"domain": domain, "seeds_probed": on_seeds["probed"], "seeds_pass_at_1": on_seeds["pass_at_1"],
                     "approved_probed": on_approved["probed"],
                     "headroom": on_approved["failed"] / on_approved["probed"] if on_approved["probed"] else None})
    return rows
