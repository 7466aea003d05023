"""The selection made on the Maps page: stored for the Review page's "selected on the map" filter, the
plan of a bulk action on it, which says what it leaves out and why, and how the map marks removed samples.

A bulk action acts on the selected samples that are in the review queue. It leaves out samples a filter
removed from the queue (the similarity gate, near-duplicate or Magpie filters: their reason is counted),
samples already in the target status, samples deleted since they were selected, and seeds (not samples).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from workbench.core.wording import plural

_REASON_PLACE = re.compile(r"^\w+ \d+: ")  # where in the item it was found: 'turn 2: '
_REASON_DETAIL = re.compile(r"[\s:(]*(\(|\d|:).*$", re.DOTALL)
# the filter reasons of a sample removed for being (nearly) the same as another text: the similarity gate
# ('similar to seed 3 (cosine 0.951 > 0.90)') and Magpie's duplicate filters ('turn 2: near duplicate of sample 4 (96%
# similar)', 'duplicate of seed 2')
_NEAR_DUPLICATE = re.compile(r"\b(?:similar to seed|near[- ]duplicate|duplicate of)\b", re.IGNORECASE)
NEAR_DUPLICATE_MARK = "removed as a near-duplicate"
FILTERED_MARK = "removed by another filter"


def reason_kind(filter_reason: str) -> str:
    """A filter reason without its particulars, to count alike reasons together:
    'similar to seed 3 (cosine 0.951 > 0.90)' -> 'similar to seed'; 'turn 2: too short (...)' -> 'too short'."""
    kind = _REASON_DETAIL.sub("", _REASON_PLACE.sub("", filter_reason)).strip()
    return kind or filter_reason.strip()


def removal_mark(filter_reason: str | None) -> str | None:
    """How the map marks a sample a filter removed from the queue: NEAR_DUPLICATE_MARK when it was (nearly) the same
    as a seed or another sample, FILTERED_MARK for any other filter, None for a kept sample."""
    if not filter_reason:
        return None
    return NEAR_DUPLICATE_MARK if _NEAR_DUPLICATE.search(filter_reason) else FILTERED_MARK


@dataclass
class BulkPlan:
    """Which selected samples a bulk action changes (targets) and what it leaves out: filtered (reason kind ->
    count), unchanged (already in the target status), missing (deleted since), seeds (not samples)."""

    targets: list[int] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    missing: int = 0
    seeds: int = 0

    def skipped(self) -> list[str]:
        """What the action leaves out, one phrase per cause (empty when it leaves nothing out)."""
        phrases = [f"{n:,} filtered out of the review queue ({reason})" for reason, n in self.filtered.items()]
        if self.unchanged:
            phrases.append(f"{self.unchanged:,} already {'in that state' if self.unchanged > 1 else 'so'}")
        if self.missing:
            phrases.append(f"{self.missing:,} deleted since they were selected")
        if self.seeds:
            phrases.append(f"{plural(self.seeds, 'seed')} (not samples: edit seeds on the Seeds page)")
        return phrases


def plan_bulk(states: list[dict], selected: int, status: str | None = None, seeds: int = 0) -> BulkPlan:
    """The plan of a bulk action on `selected` sample ids, whose review states (`store.samples.sample_review_states`:
    the ones that still exist) are given: set `status`, or (status None) tag them."""
    plan = BulkPlan(missing=selected - len(states), seeds=seeds)
    filtered: Counter[str] = Counter()
    for state in states:
        if state["filter_reason"]:
            filtered[reason_kind(state["filter_reason"])] += 1
        elif status is not None and state["status"] == status:
            plan.unchanged += 1
        else:
            plan.targets.append(state["id"])
    plan.filtered = dict(filtered.most_common())
    return plan


def outcome(changed: int, action: str, plan: BulkPlan) -> str:
    """The message after a bulk action: what changed and everything it left out."""
    message = f"{plural(changed, 'sample')} {action}."
    if skipped := plan.skipped():
        message += " Left out: " + "; ".join(skipped) + "."
    return message
