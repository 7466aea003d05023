"""Preference pairs from the gate: what DPO and Step-DPO learn from the paths that failed.

- Response pairs (DPO, Rafailov et al. 2023): for a task with at least one path that passes the gate and at least one
  that fails, (prompt, chosen = a passing path, rejected = a failing path). The pairing policy is a setting:
  'best_vs_each' (the best passing path against each failing one, worst first), 'best_vs_worst' (one pair: the best
  against the lowest-scored), or 'all_pairs' (every passing path against every failing one); at most
  `max_per_task` pairs per task. Each pair's lineage says why its rejected path failed: the gate's reason, and the
  first step found wrong and who found it (a verifier, or a person's label).
- Step pairs (Step-DPO, Lai et al. 2024, "Step-DPO: Step-wise Preference Optimization for Long-chain Reasoning of
  LLMs"): from a path whose first wrong step is known (a verifier's verdict or a person's label; a person's label
  overrules), the prompt is the problem and the correct steps before it, the rejected completion is the wrong step,
  and the chosen one a correct step after the same prefix: a person's corrected step (`human_completion`, PRM800K),
  else the next step of a passing path that shares the prefix, else the first step of a stored Monte-Carlo rollout
  from that prefix whose final answer is the reference answer (Math-Shepherd's rollouts; workbench.verify.verifiers.
  rollout). At most `max_per_task` step pairs per task too.

Pairs whose two sides read the same (spacing aside) are not made. The pairs are built at export time from what the
store holds, so they follow every later label and verdict.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from workbench.export.verified_answer import (
    checked_by,
    first_wrong_step,
    path_passes,
    path_text,
    task_verdict,
)
from workbench.verify.reasoning import VerificationSettings, aggregate, path_name, split_steps, step_score

POLICIES = ("best_vs_each", "best_vs_worst", "all_pairs")
POLICY_LABELS = {"best_vs_each": "the best passing path against each failing path",
                 "best_vs_worst": "the best passing path against the worst failing path",
                 "all_pairs": "every passing path against every failing path"}
SETTINGS_KEY = "preference_pairs"
DEFAULT_CAP = 4


@dataclass
class PairingSettings:
    """How pairs are made: the policy, the most pairs of each kind per task, and whether step pairs are made."""

    policy: str = "best_vs_each"
    max_per_task: int = DEFAULT_CAP
    step_pairs: bool = True

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"the pairing policy is one of {', '.join(POLICIES)}, not {self.policy!r}")
        if int(self.max_per_task) < 1:
            raise ValueError("the cap per task must be at least 1 pair")
        self.max_per_task = int(self.max_per_task)


def load_pairing(store) -> PairingSettings:
    """The saved pairing settings (the defaults when none are saved)."""
    saved = store.settings.get_setting(SETTINGS_KEY) or {}
    return PairingSettings(**{k: saved[k] for k in ("policy", "max_per_task", "step_pairs") if k in saved})


def save_pairing(store, settings: PairingSettings) -> None:
    store.settings.set_setting(SETTINGS_KEY, asdict(settings))


@dataclass
class GatePair:
    """One pair the gate made: `kind` 'response' or 'step'; for a step pair, `prefix` holds the shared correct steps
    and chosen / rejected are single steps."""

    kind: str
    chosen: str
    rejected: str
    prefix: list[str] = field(default_factory=list)
    lineage: dict = field(default_factory=dict)
    chosen_path: dict | None = None  # a response pair's paths, to write them as messages (reasoning traces)
    rejected_path: dict | None = None


@dataclass
class TaskEvidence:
    """What a task's step pairs may draw on besides its paths: people's corrected steps (path id -> {step index:
    text}), stored rollouts (step id -> [{k, text, final_answer}]) and the reference answer."""

    human_completions: dict[int, dict[int, str]] = field(default_factory=dict)
    rollouts: dict[int, list[dict]] = field(default_factory=dict)
    reference: str | None = None


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _failure(path: dict, settings: VerificationSettings) -> dict:
    """Why a path failed, for a pair's lineage: the gate's reason, and its first wrong step and who found it."""
    verdict = task_verdict([path], settings)
    wrong = first_wrong_step(path, settings)
    found = {"path_id": path["id"], "path": path_name(path), "failed": verdict.reason,
             "failure": verdict.failure.kind if verdict.failure else None}
    if wrong is not None:
        found.update(step=wrong[0] + 1, wrong_by=wrong[1], step_text=path["steps"][wrong[0]]["text"])
    return found


def _score(path: dict, settings: VerificationSettings) -> float:
    return aggregate([step_score(s["scores"], s["overrule"]) for s in path["steps"]], settings.aggregation)


def response_pairs(paths: list[dict], verification: VerificationSettings, pairing: PairingSettings,
                   skipped: Counter) -> list[GatePair]:
    """The task's response pairs under the policy (see the module docstring); `skipped` counts pairs not made."""
    usable = [p for p in paths if p["steps"]]
    passing = [p for p in usable if path_passes(p, verification)]
    failing = [p for p in usable if p not in passing]
    if not passing or not failing:
        return []
    best_id = task_verdict(passing, verification).best_path_id
    passing.sort(key=lambda p: (p["id"] != best_id, -_score(p, verification), p["path_index"], p["id"]))
    failing.sort(key=lambda p: (_score(p, verification), p["path_index"], p["id"]))
    if pairing.policy == "best_vs_each":
        combos = [(passing[0], f) for f in failing]
    elif pairing.policy == "best_vs_worst":
        combos = [(passing[0], failing[0])]
    else:
        combos = [(p, f) for p in passing for f in failing]
    pairs: list[GatePair] = []
    for chosen, rejected in combos:
        if _same(path_text(chosen), path_text(rejected)):
            skipped["chosen and rejected paths read the same"] += 1
            continue
        if len(pairs) == pairing.max_per_task:
            skipped[f"over the cap of {pairing.max_per_task} pairs per task"] += 1
            continue
        lineage = {"kind": "response", "policy": pairing.policy,
                   "chosen": {"path_id": chosen["id"], "path": path_name(chosen), "verifiers": checked_by(chosen)},
                   "rejected": _failure(rejected, verification)}
        pairs.append(GatePair("response", path_text(chosen), path_text(rejected), lineage=lineage, chosen_path=chosen,
                              rejected_path=rejected))
    return pairs


def _rollout_step(rollouts: list[dict], reference: str | None) -> tuple[str, dict] | None:
    """The first step of a stored rollout whose final answer is the reference answer (checked strictly)."""
    from workbench.verify.answer_equivalence import check_answer

    if not reference:
        return None
    for rollout in rollouts:
        if rollout.get("final_answer") and check_answer(reference, rollout["final_answer"]) is True:
            steps = split_steps(rollout["text"])
            if steps:
                return steps[0], {"source": "rollout", "rollout_k": rollout["k"]}
    return None


def _alternative(path: dict, index: int, passing: list[dict], evidence: TaskEvidence) -> tuple[str, dict] | None:
    """A correct step after the path's first `index` steps, and where it came from (see the module docstring)."""
    written = evidence.human_completions.get(path["id"], {}).get(index)
    if written:
        return written, {"source": "human_completion"}
    prefix = [" ".join(s["text"].split()) for s in path["steps"][:index]]
    for other in passing:
        if len(other["steps"]) > index and [" ".join(s["text"].split()) for s in other["steps"][:index]] == prefix:
            return other["steps"][index]["text"], {"source": "path", "path_id": other["id"], "path": path_name(other),
                                                   "verifiers": checked_by(other)}
    if index > 0:
        return _rollout_step(evidence.rollouts.get(path["steps"][index - 1]["id"], []), evidence.reference)
    return None


def step_pairs(paths: list[dict], verification: VerificationSettings, pairing: PairingSettings, evidence: TaskEvidence,
               skipped: Counter) -> list[GatePair]:
    """The task's Step-DPO pairs (see the module docstring); `skipped` counts the wrong steps with no pair."""
    passing = [p for p in paths if p["steps"] and path_passes(p, verification)]
    pairs: list[GatePair] = []
    seen: set[tuple] = set()
    for path in paths:
        wrong = first_wrong_step(path, verification)
        if wrong is None:
            continue
        index, wrong_by = wrong
        found = _alternative(path, index, passing, evidence)
        rejected = path["steps"][index]["text"]
        if found is None:
            skipped["a wrong step with no correct alternative after the same steps"] += 1
            continue
        chosen, source = found
        prefix = [s["text"] for s in path["steps"][:index]]
        key = (tuple(" ".join(s.split()) for s in prefix), " ".join(chosen.split()), " ".join(rejected.split()))
        if _same(chosen, rejected) or key in seen:
            skipped["the alternative step reads the same as the wrong one, or the pair was made already"] += 1
            continue
        if len(pairs) == pairing.max_per_task:
            skipped[f"over the cap of {pairing.max_per_task} step pairs per task"] += 1
            continue
        seen.add(key)
        lineage = {"kind": "step", "rejected": {"path_id": path["id"], "path": path_name(path),
                                                "step": index + 1, "wrong_by": wrong_by},
                   "chosen": source, "prefix_steps": index}
        pairs.append(GatePair("step", chosen, rejected, prefix, lineage))
    return pairs


def gate_pairs(paths: list[dict], verification: VerificationSettings, pairing: PairingSettings,
               evidence: TaskEvidence | None = None, skipped: Counter | None = None) -> list[GatePair]:
    """Every pair one task's paths make: its response pairs, then (when the settings ask) its step pairs."""
    skipped = Counter() if skipped is None else skipped
    pairs = response_pairs(paths, verification, pairing, skipped)
    if pairing.step_pairs:
        pairs += step_pairs(paths, verification, pairing, evidence or TaskEvidence(), skipped)
    return pairs
