"""Verifier-weighted voting: the selection rule `vote` beside min, product, last and mean.

DIVERSE (Li et al. 2023, "Making Language Models Better Reasoners with Step-Aware Verifier"): each sampled path
votes for its final answer with a weight from a verifier, and the answer with the most weight wins; with every
weight equal it is self-consistency's majority vote (Wang et al. 2022). Here a path's weight comes from its step
scores: the product of the effective scores of the steps some verifier (or a person) judged, a step nobody judged
counting 1 (it tells nothing), a step a check doubts counting at most 0.5 (a coin flip:
workbench.verify.verifiers.grounding) and each loose end of the path 0.9 more (reasoning.HINT_WEIGHT). The product is the chance that every judged step is right when the scores are
independent probabilities, so one step found wrong (score 0) takes the path's whole weight, and a doubtful one
(0.25) most of it.

Where every path that states an answer weighs 0 (each has a step found wrong), the vote falls back to the plain
majority. Final answers are grouped by equivalence, as self-consistency groups them (`consistency.vote`: "$1,250"
and "1250" are one answer). A path's vote score is the share of all the weight that its answer gathers (0 for a
path that states no answer); the best path is the heaviest path of the winning answer. Where answers gather equal
weight, or paths of one answer weigh alike, the path with more verified steps ranks first (`verified_steps`: steps
a check held on), then they tie.

The tie-break follows complexity-based consistency (Fu et al. 2023, "Complexity-Based Prompting for Multi-Step
Reasoning": among sampled chains, those with more reasoning steps are more often right), counting only the steps a
verifier checked and found to hold, so that padding a path with unchecked prose wins nothing. Measured on 133 GSM8K
problems with four GPT-3 solutions each (openai/grade-school-math `example_model_solutions.jsonl`; split by id
parity before any design, the even half used for design), selection accuracy of the combined offline verifiers
under `vote`: development half 0.502 -> 0.520, check half 0.569 -> 0.576, all 0.536 -> 0.548 (majority vote
0.487, oracle 0.669). With arithmetic alone: 0.423 -> 0.495, 0.562 -> 0.571, 0.492 -> 0.533.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workbench.verify.verifiers.base import NEUTRAL_SCORE


def path_weight(step_scores: Sequence[float | None]) -> float:
    """A path's voting weight in [0, 1]: the product of its judged steps' scores (None: nobody judged the step)."""
    return math.prod(score for score in step_scores if score is not None)


def verified_steps(step_scores: Sequence[float | None]) -> int:
    """How many of a path's steps a check held on: judged (not None) with a score above the neutral 0.5. A doubted
    step (at most 0.5) or one found wrong does not count; a step with a loose end (1.0 x 0.9 per hint) does."""
    return sum(1 for score in step_scores if score is not None and score > NEUTRAL_SCORE)


def vote_tiebreak(step_scores: Sequence[float | None]) -> tuple[float, int]:
    """A path's rank among paths whose answers gather equal vote shares, higher first: its weight
    (`path_weight`), then its verified step count (`verified_steps`)."""
    return path_weight(step_scores), verified_steps(step_scores)


def vote_shares(answers: Sequence[str | None], weights: Sequence[float]) -> list[float]:
    """For each path, the share of all paths' weight that its final answer gathers (every path counting 1 where
    the answers stated all weigh 0); 0 for a path with no final answer (None). Shares of the answers stated sum
    to 1. Raises ValueError when the two sequences differ in length."""
    from workbench.verify.verifiers.consistency import vote

    if len(answers) != len(weights):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    counted = [max(0.0, weight) for weight in weights]
    if not any(w for w, answer in zip(counted, answers, strict=True) if answer is not None):
        counted = [1.0] * len(weights)
    total = sum(w for w, answer in zip(counted, answers, strict=True) if answer is not None)
    shares = [0.0] * len(answers)
    for cluster in vote(answers).clusters:
        share = sum(counted[i] for i in cluster.members) / total
        for i in cluster.members:
            shares[i] = share
    return shares
