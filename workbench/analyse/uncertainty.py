"""How unsure a model is about a seed, from k sampled attempts (Stage 1: uncertainty sampling).

Two measures, both in bits:
- token entropy: the mean, over the attempts that have one, of each attempt's mean per-token entropy; only where the
  provider gives log-probabilities (the bundled model gives the full next-token distribution);
- semantic disagreement: the Shannon entropy of the attempts' distribution over meaning clusters (the counting form of
  Kuhn et al. 2023, "Semantic Uncertainty"): 0 when all k agree, log2 k when all differ. Where the task has a short
  final answer (a short reference answer, or the math domain) the clusters are answer-equivalence classes of the
  stated final answers (`workbench.verify.verifiers.consistency.vote`, the project's answer checker; an attempt that
  states no final answer is a class of its own); otherwise they are embedding clusters of the whole answers (average
  linkage, mean cosine similarity >= the cluster threshold).

The model measured is the student (the default: where the model being trained is unsure is where data helps) or the
teacher (where the model writing the data is unsure), each under its own metric names (`metric_names`). A seed's
uncertainty is the mean percentile rank, among the seeds measured for that role, of its two measures (a measure the
model could not give is left out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench.core.metrics import cluster_labels, label_entropy, percentile_ranks
from workbench.store import Store
from workbench.verify.verifiers.base import Task
from workbench.verify.verifiers.consistency import comparable_reference, vote

ROLES = ("student", "teacher")
DEFAULT_CLUSTER_THRESHOLD = 0.85
ANSWER_CLUSTERS = "answer equivalence"
EMBEDDING_CLUSTERS = "embedding clusters"


def metric_names(role: str) -> dict[str, str]:
    """The metric names (item type 'seed') of one role's measures: token_entropy and disagreement (bits), uncertainty
    (a rank in (0, 1])."""
    if role not in ROLES:
        raise ValueError(f"the uncertainty of whom? one of {', '.join(ROLES)}, not {role!r}")
    return {"token_entropy": f"{role}_token_entropy", "disagreement": f"{role}_semantic_disagreement",
            "uncertainty": f"{role}_uncertainty"}


def clusters_by(task: Task) -> str:
    """How a task's answers are grouped: by answer equivalence when it has a short final answer, else by embedding."""
    if comparable_reference(task.reference_answer) or (task.domain or "").casefold() == "math":
        return ANSWER_CLUSTERS
    return EMBEDDING_CLUSTERS


def answer_cluster_labels(answers: list[str | None]) -> list[int]:
    """A cluster label per answer: equivalent final answers share one; an answer that is None is alone."""
    grouped = vote(answers)
    labels = list(range(len(grouped.clusters), len(grouped.clusters) + len(answers)))  # unstated: a label each
    for number, cluster in enumerate(grouped.clusters):
        for member in cluster.members:
            labels[member] = number
    return labels


def entropy_bits(labels: list[int] | np.ndarray) -> float:
    """Shannon entropy in bits of a list of cluster labels (core.metrics.label_entropy)."""
    return label_entropy(labels)


@dataclass(frozen=True)
class Uncertainty:
    """One model's measures on one seed: token entropy (bits; None: not available, `entropy_note` says why),
    semantic disagreement (bits) and how the answers were clustered."""

    token_entropy: float | None
    entropy_note: str
    disagreement: float
    clustered_by: str


def measure(task: Task, texts: list[str], answers: list[str | None], token_entropies: list[float | None],
            entropy_notes: list[str], embed: Callable[[list[str]], np.ndarray],
            threshold: float = DEFAULT_CLUSTER_THRESHOLD) -> Uncertainty:
    """The measures of k attempts at a task: their texts, stated final answers, mean token entropies (bits) and the
    note of each on where its entropy came from. `embed` gives L2-normalised vectors (used only for embedding
    clusters)."""
    known = [h for h in token_entropies if h is not None]
    how = clusters_by(task)
    if how == ANSWER_CLUSTERS:
        labels: list[int] | np.ndarray = answer_cluster_labels(answers)
    else:
        labels = cluster_labels(embed([t.strip() for t in texts]), threshold)
    note = next((n for h, n in zip(token_entropies, entropy_notes, strict=True) if h is not None),
                entropy_notes[0] if entropy_notes else "no attempts")
    return Uncertainty(sum(known) / len(known) if known else None, note, entropy_bits(labels), how)


def save_uncertainty(store: Store, role: str, seed_id: int, result: Uncertainty, k: int, model: str) -> None:
    """Write a seed's measures under the role's metric names, each with a note saying where it came from."""
    names = metric_names(role)
    store.metrics.set_metrics("seed", seed_id, {names["token_entropy"]: result.token_entropy},
                      note=f"bits; {result.entropy_note}")
    store.metrics.set_metrics("seed", seed_id, {names["disagreement"]: result.disagreement},
                      note=f"bits over {result.clustered_by} of {k} answers by {model}")


def rank_uncertainty(store: Store, role: str) -> int:
    """uncertainty = mean percentile rank (among the seeds measured for this role) of the seed's token entropy and
    semantic disagreement; a component the model could not give is left out. Returns how many seeds were ranked."""
    names = metric_names(role)
    components = [percentile_ranks(store.metrics.metric_values("seed", names[key])) for key in ("token_entropy", "disagreement")]
    seed_ids = set().union(*components)
    rows = [(i, {names["uncertainty"]: float(np.mean([c[i] for c in components if i in c]))}) for i in sorted(seed_ids)]
    store.metrics.set_metrics_bulk("seed", rows, note="mean percentile rank of token entropy and semantic disagreement")
    return len(rows)
