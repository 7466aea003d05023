"""The failure probe's method: what can be probed, pass@k, known failures and the headroom.

The probe samples the student k times on every task whose answer can be verified (see `attempts`) and reports, per
task and over tasks (overall and per domain), pass@1 and pass@k with the unbiased estimator of Chen et al. (2021),
"Evaluating Large Language Models Trained on Code": with n attempts of which c are correct,
pass@k = 1 - C(n - c, k) / C(n, k), averaged over tasks. Computed exactly (integer binomials), then as a float.

On the gold seeds, a seed whose pass rate (c / n, which is pass@1) is at most the threshold setting is a *known failure
by probe* (default 0: it never passed). On the approved tasks (`workbench probe --on approved`), the share of probed
tasks the student fails by the same rule is the dataset's **headroom**: what the data can teach that the student does
not know yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from math import comb

from workbench.verify.verifiers.consistency import comparable_reference

TARGETS = ("seeds", "approved")
NO_DOMAIN = "(no domain)"
NO_REFERENCE = "no reference answer and no tests"
LONG_REFERENCE = ("the reference answer is not a short final answer (a worked solution, code or long text), so the "
                  "student's answer cannot be checked against it")
NO_VERIFIED_ANSWER = "no reference answer, no tests and no verified majority answer"
MAJORITY_FAILED_GATE = "its reasoning paths' majority answer did not pass the gate, so it is not a verified answer"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021)'s unbiased pass@k from n attempts of which c are correct: 1 - C(n-c, k) / C(n, k), the chance
    that at least one of k attempts drawn without replacement is correct. Exact (a ratio of integers) until the final
    float. Raises ValueError unless 1 <= k <= n and 0 <= c <= n."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n (got n={n}, c={c}, k={k})")
    return float(1 - Fraction(comb(n - c, k), comb(n, k)))


@dataclass(frozen=True)
class ProbeTask:
    """A task the probe samples: a seed or an approved sample, and what verifies an answer to it."""

    type: str  # "seed" | "sample"
    id: int
    against: str  # "reference" | "majority" | "tests"

    def to_dict(self) -> dict:
        return {"type": self.type, "id": self.id, "against": self.against}


def plan_seeds(seeds: list[dict]) -> tuple[list[ProbeTask], list[dict]]:
    """(the seeds that can be probed, [{"id", "reason"}] for the others): tests are run where a seed has them, else
    its reference answer is checked when it is a short final answer."""
    tasks: list[ProbeTask] = []
    not_probed: list[dict] = []
    for seed in seeds:
        if (seed.get("tests") or "").strip():
            tasks.append(ProbeTask("seed", seed["id"], "tests"))
        elif comparable_reference(seed.get("reference_answer")):
            tasks.append(ProbeTask("seed", seed["id"], "reference"))
        else:
            reason = LONG_REFERENCE if (seed.get("reference_answer") or "").strip() else NO_REFERENCE
            not_probed.append({"id": seed["id"], "reason": reason})
    return tasks, not_probed


def plan_approved(candidates: list[dict]) -> tuple[list[ProbeTask], list[dict]]:
    """(the approved samples whose answer is verified, [{"id", "reason"}] for the others), from
    `store.student.approved_probe_candidates`: tests, else a short reference answer, else the reasoning paths' majority answer
    when the sample passed the gate."""
    tasks: list[ProbeTask] = []
    not_probed: list[dict] = []
    for sample in candidates:
        if (sample.get("tests") or "").strip():
            tasks.append(ProbeTask("sample", sample["id"], "tests"))
        elif comparable_reference(sample.get("reference_answer")):
            tasks.append(ProbeTask("sample", sample["id"], "reference"))
        elif sample.get("majority_answer") and sample.get("passed_gate"):
            tasks.append(ProbeTask("sample", sample["id"], "majority"))
        elif sample.get("majority_answer"):
            not_probed.append({"id": sample["id"], "reason": MAJORITY_FAILED_GATE})
        else:
            not_probed.append({"id": sample["id"], "reason": NO_VERIFIED_ANSWER})
    return tasks, not_probed


@dataclass(frozen=True)
class TaskResult:
    """One probed task: its attempts, how many were correct, the k asked for, and its domain."""

    id: int
    attempts: int
    correct: int
    k: int
    domain: str | None = None

    @property
    def pass_at_1(self) -> float:
        """The pass rate: correct attempts / attempts (pass@1's unbiased estimate)."""
        return self.correct / self.attempts

    @property
    def pass_at_k(self) -> float | None:
        """pass@k, or None when fewer than k attempts were stored (some failed: see the job's failed units)."""
        return pass_at_k(self.attempts, self.correct, self.k) if self.attempts >= self.k else None

    def fails(self, threshold: float) -> bool:
        """A known failure (on seeds) or a failed task (headroom): the pass rate is at most the threshold."""
        return self.pass_at_1 <= threshold + 1e-12


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def aggregate(results: list[TaskResult], threshold: float) -> dict:
    """Over tasks: how many were probed, mean pass@1, mean pass@k (over tasks with k attempts) and how many fail."""
    return {"probed": len(results), "pass_at_1": _mean([r.pass_at_1 for r in results]),
            "pass_at_k": _mean([r.pass_at_k for r in results]), "failed": sum(r.fails(threshold) for r in results)}


def by_domain(results: list[TaskResult], threshold: float) -> list[dict]:
    """`aggregate` per domain (tasks without one under NO_DOMAIN), domains in alphabetical order."""
    groups: dict[str, list[TaskResult]] = defaultdict(list)
    for result in results:
        groups[result.domain or NO_DOMAIN].append(result)
    return [{"domain": domain, **aggregate(groups[domain], threshold)} for domain in sorted(groups)]


def probe_report(target: str, student: str, k: int, threshold: float, results: list[TaskResult],
                 not_probed: list[dict]) -> dict:
    """The JSON of `workbench probe --json` and the probe job's result.

    On seeds: {"student", "k", "probed", "not_probed": [{"id", "reason"}], "pass_at_1", "pass_at_k",
    "known_failures": [ids], "seeds": [{"id", "attempts", "correct", "pass_at_1", "pass_at_k", "known_failure"}]}
    plus "on", "threshold" and "by_domain". On approved tasks the list is "tasks" (each with "failed"), the failing
    ids are "failed", and "headroom" is the share of probed tasks the student fails (None when none was probed)."""
    overall = aggregate(results, threshold)
    failing = [r.id for r in results if r.fails(threshold)]
    flag = "known_failure" if target == "seeds" else "failed"
    rows = [{"id": r.id, "attempts": r.attempts, "correct": r.correct, "pass_at_1": r.pass_at_1,
             "pass_at_k": r.pass_at_k, flag: r.fails(threshold)} for r in results]
    report = {"student": student, "k": k, "on": target, "threshold": threshold, "probed": overall["probed"],
              "not_probed": not_probed, "pass_at_1": overall["pass_at_1"], "pass_at_k": overall["pass_at_k"]}
    if target == "seeds":
        report.update(known_failures=failing, seeds=rows)
    else:
        headroom = len(failing) / len(results) if results else None
        report.update(failed=failing, headroom=headroom, tasks=rows)
    report["by_domain"] = by_domain(results, threshold)
    return report
