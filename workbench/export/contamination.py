"""What an export does with samples the decontamination scan flagged (workbench.safety.job): leave them out
(the default) or let them through, and what the dataset card says about it (the benchmarks, the last scan, and
every flagged sample left out or exported, with the benchmark item it matches)."""

from __future__ import annotations

from array import array
from typing import Any

from workbench.store import Store

LAST_SCAN_KEY = "decontamination_last_scan"  # written by workbench.safety.job when a scan finishes
POLICIES = ("block", "allow")


def without_contaminated(store: Store, ids: array) -> tuple[array, list[int]]:
    """The ids with every flagged sample taken out, and the flagged ids taken out (in id order)."""
    flagged = store.safety.contaminated_sample_ids()
    if not flagged:
        return ids, []
    kept = array("q", (i for i in ids if i not in flagged))
    return kept, [i for i in ids if i in flagged]


def unchecked(store: Store, ids: array | list[int]) -> int:
    """How many of these samples were never checked against the registered benchmarks: all of them when
    benchmarks are registered but never scanned, else those created or edited after the last scan; 0 when no
    benchmark is registered."""
    if not ids or not store.safety.list_benchmarks():
        return 0
    scan = store.settings.get_setting(LAST_SCAN_KEY)
    return len(ids) if scan is None else store.review.samples_changed_since(scan["at"], list(ids))


def card_facts(store: Store, policy: str, blocked_ids: list[int], exported_ids: list[int] | array) -> dict[str, Any] | None:
    """The card's decontamination facts, or None when no benchmark is registered and none was ever scanned:
    {"policy", "benchmarks": [{name, n_items, field, file}], "last_scan": {...} | None,
    "hits": [store.safety.contamination_hits rows of the samples left out (block) or exported (allow)],
    "unchecked": exported samples created or edited after the last scan}."""
    benchmarks = store.safety.list_benchmarks()
    scan = store.settings.get_setting(LAST_SCAN_KEY)
    if not benchmarks and scan is None:
        return None
    listed = blocked_ids if policy == "block" else list(exported_ids)
    hits = store.safety.contamination_hits("sample", listed) if listed else []
    return {
        "policy": policy,
        "benchmarks": [{k: b[k] for k in ("name", "n_items", "field", "file")} for b in benchmarks],
        "last_scan": scan,
        "hits": hits,
        "unchecked": store.review.samples_changed_since(scan["at"], list(exported_ids)) if scan else len(exported_ids),
    }
