"""Human review: status decisions, tags and edits (all recorded with the reviewer's name), queue filters,
and what the focus view shows of one sample (the decision on it and why, its best path as the Verifier page
numbers and attributes it, with step ratings, and its lineage)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workbench.core.conversation import calls_tool, first_exchange, is_plain_exchange, sample_turns
from workbench.core.settings import reviewer_name
from workbench.review.queries import ReviewQueries
from workbench.store import Store, StoreError
from workbench.verify.audit import path_label, step_rows
from workbench.verify.ratings import step_rating
from workbench.verify.reasoning import (
    VerificationSettings,
    counted_verdicts,
    evaluate_task,
    verification_settings,
)
from workbench.verify.verifiers.base import UNVERIFIABLE

NEEDS_HUMAN = ReviewQueries.NEEDS_HUMAN  # the queue's default: pending samples and automatic decisions


@dataclass
class QueueFilter:
    """The review queue's filters; empty lists and None mean 'any'. `status` is a review status, or NEEDS_HUMAN
    (the default): pending samples and those decided automatically, whose decision a person has not made yet."""

    status: str | None = NEEDS_HUMAN
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
    return store.review.set_sample_status(ids, status, reviewer_name(store), note)


def tag(store: Store, ids: list[int], tags: list[str]) -> int:
    return store.review.add_sample_tags(ids, tags, reviewer_name(store))


def untag(store: Store, ids: list[int], tags: list[str]) -> int:
    return store.review.remove_sample_tags(ids, tags, reviewer_name(store))


def edit(store: Store, sample_id: int, instruction: str, output: str, note: str | None = None) -> bool:
    """Edit a sample's instruction and answer as the configured reviewer; the original text and a history row
    are kept. A sample that stores its turns has them edited too (see edit_turns), so the two never disagree."""
    sample = store.samples.get_sample(sample_id)
    if sample is None or not sample.get("turns"):
        return store.review.edit_sample(sample_id, {"instruction": instruction, "output": output}, reviewer_name(store), note)
    turns = sample_turns(sample)
    user = next(i for i, t in enumerate(turns) if t["role"] == "user")
    reply = next((i for i, t in enumerate(turns) if i > user and t["role"] == "assistant" and not calls_tool(t)), None)
    contents = {user: instruction}
    if reply is not None:
        contents[reply] = output
    elif output.strip():
        raise StoreError(f"sample {sample_id} has no reply to edit; its conversation ends with the user")
    return edit_turns(store, sample_id, contents, note)


def edit_turns(store: Store, sample_id: int, contents: dict[int, str], note: str | None = None) -> bool:
    """Edit turns of a conversation (index into its turns, system first) as the configured reviewer.

    The history row holds each changed turn as `turn:<index>` before and after; instruction and output
    follow the first exchange. Raises StoreError for an unknown sample or turn, or an emptied message.
    """
    sample = store.samples.get_sample(sample_id)
    if sample is None:
        raise StoreError(f"no sample {sample_id}")
    turns = sample_turns(sample)
    before, after = {}, {}
    for index, content in contents.items():
        if not 0 <= index < len(turns):
            raise StoreError(f"sample {sample_id} has no turn {index + 1}")
        if content == turns[index].get("content"):
            continue
        if not content.strip() and not calls_tool(turns[index]):
            raise StoreError(f"sample {sample_id}: turn {index + 1} ({turns[index]['role']}) cannot be empty")
        before[f"turn:{index}"], after[f"turn:{index}"] = turns[index].get("content"), content
        turns[index] = {**turns[index], "content": content}
    if not after:
        return False
    instruction, output = first_exchange(turns)
    changes = {"turns": turns, "instruction": instruction, "output": output}
    return store.review.edit_sample(sample_id, changes, reviewer_name(store), note, history=(before, after))


def original_turns(turns: list[dict], history: list[dict]) -> list[dict] | None:
    """The conversation before any edit (from the history's per-turn `before`), or None if no turn was edited."""
    first_before: dict[int, str] = {}
    for entry in reversed(history):  # oldest first: the first `before` of a turn is its original
        for key, value in (entry["before"] or {}).items() if entry["action"] == "edit" else ():
            if key.startswith("turn:"):
                first_before.setdefault(int(key.removeprefix("turn:")), value)
    if not first_before:
        return None
    return [{**t, "content": first_before[i]} if i in first_before else dict(t) for i, t in enumerate(turns)]


def latest_decision(history: list[dict]) -> dict | None:
    """The latest status decision in a sample's review history (newest first, as `store.review.sample_reviews` gives it):
    {status, reviewer, created_at, note, automatic}, or None while nobody (and nothing) has decided."""
    entry = next((e for e in history if e["action"] == "status"), None)
    if entry is None:
        return None
    after = entry["after"] or {}
    return {"status": after.get("status"), "reviewer": entry["reviewer"], "created_at": entry["created_at"],
            "note": entry["note"], "automatic": bool(after.get("automatic"))}


def _effective_rating(step: dict, settings: VerificationSettings) -> int | None:
    """A step's PRM800K rating (-1/0/+1) from what decides its score: the overrule, else the strictest verdict the
    gate counts among the verifiers that did not abstain (None when every one abstained)."""
    if step["overrule"] is not None:
        return step_rating({"overrule": step["overrule"]})
    given = [v for v in counted_verdicts(step["scores"], settings).values() if v["label"] != UNVERIFIABLE]
    return step_rating(min(given, key=lambda v: v["score"])) if given else None


def gate_view(store: Store, sample_id: int) -> dict | None:
    """The sample's task as the gate sees it now (the Verifier page's numbering and attribution): {verdict (the
    gate's TaskVerdict), path (its best path), label ('★ path 2 · job 7'), steps (`audit.step_rows` of that path,
    each with its PRM800K `rating`)}; None for a sample without reasoning paths."""
    paths = store.verify.reasoning_paths_nested("sample", sample_id).get(("sample", sample_id), [])
    if not paths:
        return None
    settings = verification_settings(store)
    verdict = evaluate_task(paths, settings)
    best = next(p for p in paths if p["id"] == verdict.best_path_id)
    steps = [{**row, "rating": _effective_rating(step, settings)}
             for row, step in zip(step_rows(best, [], settings), best["steps"], strict=True)]
    return {"verdict": verdict, "path": best, "label": path_label(best, verdict), "steps": steps}


def focus_details(store: Store, sample_id: int) -> dict | None:
    """One sample with everything the focus view shows: seed, evolution chain, the latest decision, the gate's view
    (best path and verdict), metrics, history."""
    sample = store.samples.get_sample(sample_id)
    if sample is None:
        return None
    chain = store.evolve.evol_chains([sample["node_id"]]).get(sample["node_id"], []) if sample["node_id"] else []
    history = store.review.sample_reviews(sample_id)
    turns = sample_turns(sample)
    return {
        "sample": sample,
        "turns": turns,
        "conversation": not is_plain_exchange(turns),
        "original_turns": original_turns(turns, history),
        "seed": store.seeds.get_seed(sample["seed_id"]) if sample["seed_id"] else None,
        "chain": chain,
        "gate": gate_view(store, sample_id),
        "decision": latest_decision(history),
        "metrics": store.metrics.get_metrics("sample", sample_id),
        "history": history,
        "pairs": store.export.preference_pairs([sample_id]).get(sample_id, []),
    }
