"""PRM800K-style step ratings (-1 / 0 / +1) from verifier scores and human overrules."""

from __future__ import annotations

POSITIVE_LABELS = {"correct", "positive", "good", "+", "1", "yes", "true"}
NEGATIVE_LABELS = {"incorrect", "negative", "bad", "-", "-1", "no", "false", "wrong"}
NEUTRAL_LABELS = {"neutral", "0", "ok", "unsure"}
OVERRULE_RATINGS = {"correct": 1, "neutral": 0, "incorrect": -1}


def step_rating(step: dict, threshold: float = 0.5) -> int | None:
    """PRM800K-style rating of one step: the latest human overrule wins, else the verifier's label, else
    its score against the threshold (+1 at or above, -1 below). None when the step was never judged."""
    if step.get("overrule"):
        return OVERRULE_RATINGS[step["overrule"]["label"]]
    label = str(step.get("label") or "").strip().lower()
    if label in POSITIVE_LABELS:
        return 1
    if label in NEGATIVE_LABELS:
        return -1
    if label in NEUTRAL_LABELS:
        return 0
    if step.get("score") is None:
        return None
    return 1 if step["score"] >= threshold else -1
