"""The frontier: where the student stands on each seed (its pass rate against its uncertainty), and the seeds evolution
should start from by default once a probe exists: the known failures plus the seeds the student is most unsure about
(the seed article's §9 and Stage 1)."""

from __future__ import annotations

from workbench.store import Store
from workbench.student.probe import plan_seeds
from workbench.student.report import latest_results

DEFAULT_MOST_UNCERTAIN = 10
NOT_PROBED = "not probed yet"
NO_UNCERTAINTY = "probed, but no uncertainty measured"


def frontier_points(store: Store) -> tuple[str | None, list[dict], list[dict]]:
    """(the student, one point per seed it was probed on, the other seeds with why they are not on the plot).

    A point: id, instruction, domain, pass_rate (correct / attempts of its latest probe), attempts, correct,
    uncertainty (the student's, a rank in (0, 1]), token_entropy and semantic_disagreement (bits), known_failure and
    known_failure_source."""
    latest = store.student.latest_probe_student("seed")
    student = latest["student"] if latest else None
    results = {r.id: r for r in latest_results(store, student, "seed")} if student else {}
    seeds = store.seeds.list_seeds()
    metrics = store.student.seed_uncertainty_components([s["id"] for s in seeds])
    unprobeable = {row["id"]: row["reason"] for row in plan_seeds(seeds)[1]}
    points, unplaced = [], []
    for seed in seeds:
        result, values = results.get(seed["id"]), metrics.get(seed["id"], {})
        if result is None:
            unplaced.append({"id": seed["id"], "reason": unprobeable.get(seed["id"], NOT_PROBED)})
        elif values.get("student_uncertainty") is None:
            unplaced.append({"id": seed["id"], "reason": NO_UNCERTAINTY})
        else:
            points.append({"id": seed["id"], "instruction": seed["instruction"], "domain": seed["domain"],
                           "pass_rate": result.pass_at_1, "attempts": result.attempts, "correct": result.correct,
                           "uncertainty": values["student_uncertainty"],
                           "token_entropy": values.get("student_token_entropy"),
                           "semantic_disagreement": values.get("student_semantic_disagreement"),
                           "known_failure": seed["known_failure"], "known_failure_source": seed["known_failure_source"]})
    return student, points, unplaced


def has_probe(store: Store) -> bool:
    """Whether a finished probe of the gold seeds exists (evolution then starts from the frontier by default)."""
    return store.student.latest_probe_student("seed") is not None


def frontier_choice(store: Store, most_uncertain: int = DEFAULT_MOST_UNCERTAIN) -> dict:
    """The frontier as a seed choice, recorded on the evolve job: {"choice": "frontier", "student", "failures": the
    known failures (by probe or by hand), "most_uncertain": the `most_uncertain` other seeds ranked most uncertain for
    the student, "seeds": both, failures first}. Raises ValueError when it is empty, saying why."""
    if most_uncertain < 0:
        raise ValueError(f"the number of most uncertain seeds cannot be negative ({most_uncertain})")
    latest = store.student.latest_probe_student("seed")
    failures = [s["id"] for s in store.seeds.list_seeds(known_failure=True)]
    failing = set(failures)
    uncertain = [i for i in store.analyse.top_uncertain_seed_ids(len(failures) + most_uncertain) if i not in failing]
    uncertain = uncertain[:most_uncertain]
    if not failures and not uncertain:
        raise ValueError("The frontier is empty: no seed is a known failure and none has an uncertainty score for the "
                         "student. Probe the student (Seeds page, `workbench probe`) or choose seeds another way.")
    return {"choice": "frontier", "student": latest["student"] if latest else None, "failures": failures,
            "most_uncertain": uncertain, "seeds": [*failures, *uncertain]}
