"""Human review: status decisions, tags and edits (all recorded with the reviewer's name), queue filters,
and what the focus view shows of one sample (its best path with step ratings, and its lineage)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workbench.ratings import step_rating
from workbench.settings import reviewer_name
from workbench.store import Store


@dataclass
class QueueFilter:
    """The review queue's filters; empty lists and None mean 'any'."""

    status: str | None = "pending"
    sources: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    depth_min: int | None = None
    depth_max: int | None = None
    score_min: float | None = None
    score_max: float | None = None
    novelty_min: float | None = None
    pii: str | None = None  # 'flagged' | 'clean' | 'unscanned'
    tags: list[str] = field(default_factory=list)
    ids: list[int] | None = None
    search: str = ""

    def kwargs(self) -> dict:
        return asdict(self)


def set_status(store: Store, ids: list[int], status: str, note: str | None = None) -> int:
    """Approve / reject / reset samples as the configured reviewer."""
    return store.set_sample_status(ids, status, reviewer_name(store), note)


def tag(store: Store, ids: list[int], tags: list[str]) -> int:
    return store.add_sample_tags(ids, tags, reviewer_name(store))


def untag(store: Store, ids: list[int], tags: list[str]) -> int:
    return store.remove_sample_tags(ids, tags, reviewer_name(store))


def edit(store: Store, sample_id: int, instruction: str, output: str, note: str | None = None) -> bool:
    """Edit a sample as the configured reviewer; the original text and a history row are kept."""
    return store.edit_sample(sample_id, {"instruction": instruction, "output": output}, reviewer_name(store), note)


def focus_details(store: Store, sample_id: int) -> dict | None:
    """One sample with everything the focus view shows: seed, evolution chain, best path, metrics, history."""
    sample = store.get_sample(sample_id)
    if sample is None:
        return None
    chain = store.evol_chains([sample["node_id"]]).get(sample["node_id"], []) if sample["node_id"] else []
    path = store.best_paths([sample_id]).get(sample_id)
    if path:
        for step in path["steps"]:
            step["rating"] = step_rating(step)
    return {
        "sample": sample,
        "seed": store.get_seed(sample["seed_id"]) if sample["seed_id"] else None,
        "chain": chain,
        "path": path,
        "metrics": store.get_metrics("sample", sample_id),
        "history": store.sample_reviews(sample_id),
    }
