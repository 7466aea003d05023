"""Counts in words: one helper (workbench.core.wording.plural) and the messages that use it say "1 sample", never
"1 samples" or "1 sample(s)"."""

from __future__ import annotations

import re
from pathlib import Path

from workbench.analyse.maps import too_few_message
from workbench.analyse.selection import outcome, plan_bulk
from workbench.core.wording import plural
from workbench.evolve.engine import EliminationRules, no_information_gain

ROOT = Path(__file__).resolve().parents[2]


def test_plural_puts_the_noun_in_the_counts_number():
    assert [plural(n, "sample") for n in (0, 1, 2, 1234)] == ["0 samples", "1 sample", "2 samples", "1,234 samples"]
    assert plural(1, "query", "queries") == "1 query" and plural(3, "query", "queries") == "3 queries"


def test_messages_say_one_in_the_singular():
    assert outcome(1, "approved", plan_bulk([{"id": 1, "status": "pending", "filter_reason": None}], 1, "approved",
                                           seeds=1)) == "1 sample approved. Left out: 1 seed (not samples: edit seeds on the Seeds page)."
    assert too_few_message(1, 1).startswith("too few points to map: 1 seed or sample with 1 distinct text;")
    assert "only 1 new word over the parent" in no_information_gain(
        "Add two numbers.", "Add two numbers quickly.", EliminationRules(min_new_words=3))


def test_no_hand_made_plural_is_left():
    """The twins this helper replaced: "'s' * (n != 1)", "'s' if n != 1 else ''", "'' if n == 1 else 's'" and "(s)"."""
    twin = re.compile(r"""(?<![A-Za-z])['"]s['"] \* \(|(?<![A-Za-z])['"]s['"] if |else ['"]s['"]|\(s\)\b""")
    found = [f"{path.relative_to(ROOT)}:{number}" for folder in ("workbench", "views") for path in (ROOT / folder).rglob("*.py")
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if twin.search(line)]
    assert found == []
