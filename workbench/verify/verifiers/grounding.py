"""The grounding verifier: doubts about a path's process that its final answer does not dispel (offline, no model).

It runs the checks of workbench.verify.grounding (a quantity of the problem left unused, a quantity or a relation
of the problem restated otherwise, a step that corrects itself or doubts the question, an answer no step wrote, a
fractional count) and never judges a step: every verdict abstains (`unverifiable`, the neutral 0.5). A doubted
step's verdict carries the doubt in its params (`doubt`: the checks that raised it) and in its rationale, which
says that it is a heuristic. The gate makes a path with a doubted step "unverified" where it would pass
(workbench.verify.reasoning), and the verifier-weighted vote weighs a doubted step at most 0.5
(workbench.verify.weighted_vote). A step nothing doubts abstains with "no doubt".
"""

from __future__ import annotations

from workbench.verify.grounding import grounding_doubts
from workbench.verify.verifiers.base import StepScore, Task, unverifiable

DOUBT = "doubt"  # the params key of a doubted step's verdict: the kinds of the checks that raised it


class GroundingVerifier:
    """Raises doubts on the steps whose quantities, relations or wording stray from the problem."""

    name = "grounding"

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return self.score_all(task, steps)

    def score_all(self, task: Task, steps: list[str]) -> list[StepScore]:
        """One abstention per step; a doubted one names the checks and says why."""
        doubts = grounding_doubts(task.text, steps)
        scores = []
        for index in range(len(steps)):
            mine = [d for d in doubts if d.step == index]
            if not mine:
                scores.append(unverifiable("no doubt: the grounding checks found nothing to question in this step"))
                continue
            kinds = list(dict.fromkeys(d.kind for d in mine))
            scores.append(unverifiable("doubt, not a verdict: " + "; ".join(d.rationale for d in mine),
                                       params={DOUBT: kinds}))
        return scores
