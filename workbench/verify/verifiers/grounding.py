"""The grounding verifier: doubts about a path's process that its final answer does not dispel (offline, no model).

It runs the checks of workbench.verify.grounding (a quantity of the problem left unused, a quantity or a relation
of the problem restated otherwise, a step that corrects itself or doubts the question, an answer no step wrote, a
fractional count) and never judges a step: every verdict abstains (`unverifiable`, the neutral 0.5). A doubted
step's verdict carries the doubt in its params (`doubt`: the checks that raised it) and in its rationale, which
says that it is a heuristic; the answer step's verdict carries the path's loose ends (`hint`: a quantity of the
problem no step writes, an answer that restates one), which only weigh in the vote. The gate makes a path with a doubted step "unverified" where it would pass
(workbench.verify.reasoning), and the verifier-weighted vote weighs a doubted step at most 0.5
(workbench.verify.weighted_vote). A step nothing doubts abstains with "no doubt".
"""

from __future__ import annotations

from workbench.verify.grounding import Doubt, grounding_doubts, loose_ends
from workbench.verify.verifiers.base import StepScore, Task, unverifiable

DOUBT = "doubt"  # the params key of a doubted step's verdict: the kinds of the checks that raised it
HINT = "hint"  # the params key of the answer step's loose ends: one kind per hint (weaker than a doubt)


class GroundingVerifier:
    """Raises doubts on the steps whose quantities, relations or wording stray from the problem."""

    name = "grounding"

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return self.score_all(task, steps)

    def score_all(self, task: Task, steps: list[str]) -> list[StepScore]:
        """One abstention per step; a doubted one names the checks and says why, and the answer step lists its
        loose ends (`HINT`: one kind per hint, repeated for each)."""
        from workbench.verify.verifiers.consistency import stated_answer

        doubts = grounding_doubts(task.text, steps)
        hints = loose_ends(task.text, steps, stated_answer(steps)[0]) if steps else []
        return [self._verdict([d for d in doubts if d.step == index], [h for h in hints if h.step == index])
                for index in range(len(steps))]

    @staticmethod
    def _verdict(doubts: list[Doubt], hints: list[Doubt]) -> StepScore:
        params: dict = {}
        if doubts:
            params[DOUBT] = list(dict.fromkeys(d.kind for d in doubts))
        if hints:
            params[HINT] = [h.kind for h in hints]
        if not params:
            return unverifiable("no doubt: the grounding checks found nothing to question in this step")
        said = (["doubt, not a verdict: " + "; ".join(d.rationale for d in doubts)] if doubts else []) + [
            h.rationale for h in hints]
        return unverifiable("; ".join(said), params=params)
