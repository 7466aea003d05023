"""Every sample layout we read and write: one reader and one writer per format, used by both import and export so
that the two cannot drift.

A row of any format becomes a `SampleRecord` (the conversation, the seed's input, reasoning steps with their
ratings, a preference pair, and what else the row carries); a writer turns a record back into a row. The layouts
live in one module per family, each documenting its fields:

- chat (workbench.formats.chat_formats): `openai`, `sharegpt`, `alpaca`;
- stepwise (workbench.formats.step_formats): `trl-stepwise`, `prm800k`, `processbench` (read only) and `workbench`
  (our own Parquet columns);
- preference (workbench.formats.preference_formats): `dpo`, `dpo-conversational`, `kto`, `kto-conversational`,
  `sharegpt-preference`, `openai-preference` and `messages-preference` (read only).

Any row may also carry our export's `lineage` and `metrics` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench.formats.chat_formats import (
    HAS_TOOLS,
    INPUT_KEYS,
    INSTRUCTION_KEYS,
    NO_REPLY,
    NON_TEXT,
    OUTPUT_KEYS,
    read_alpaca,
    read_openai,
    read_sharegpt,
    write_alpaca,
    write_openai,
    write_sharegpt,
)
from workbench.formats.preference_formats import (
    NO_PAIR,
    STANDARD_KEYS,
    read_dpo,
    read_kto,
    read_messages_preference,
    read_openai_preference,
    read_sharegpt_preference,
    write_dpo,
    write_dpo_conversational,
    write_kto,
    write_kto_conversational,
    write_openai_preference,
    write_sharegpt_preference,
)
from workbench.formats.row_fields import EXTRA_KEYS, STEP_SEPARATOR
from workbench.formats.sample_record import PreferencePair, RowError, SampleRecord, Skip, SkipRow
from workbench.formats.step_formats import (
    HAS_SYSTEM,
    MULTI_TURN,
    NO_STEPS,
    UNRATED,
    ground_truth_answer,
    read_prm800k,
    read_processbench,
    read_trl_stepwise,
    read_workbench,
    write_prm800k,
    write_trl_stepwise,
    write_workbench,
)

__all__ = [
    "FORMATS", "HAS_SYSTEM", "HAS_TOOLS", "MULTI_TURN", "NON_TEXT", "NO_PAIR", "NO_REPLY", "NO_STEPS", "STEP_SEPARATOR",
    "UNRATED", "PreferencePair", "RowError", "SampleFormat", "SampleRecord", "Skip", "SkipRow", "detect",
    "expected_layouts", "ground_truth_answer", "without_trailing_user",
]


@dataclass(frozen=True)
class SampleFormat:
    """A layout: its name, a label for people, how a row of it is recognised, its reader and writer.

    `matches` looks only for the layout's telling keys, so a row missing another field is read by its format's
    reader and the message names that field. `known`: the fields the reader takes (None: it keeps every other field
    itself); import keeps the rest in the sample's metadata. `needs_reply`: the writer drops a trailing user turn
    (counted by the export); `stepwise`: it holds rated reasoning steps; `preference`: its rows are preference
    pairs (one sample may give several rows). Natural rows can be mixed into neither of the last two."""

    name: str
    label: str
    matches: Callable[[dict], bool]
    read: Callable[[dict], SampleRecord]
    write: Callable[[SampleRecord], dict] | None
    known: frozenset[str] | None
    needs_reply: bool = False
    stepwise: bool = False
    preference: bool = False

    def other_fields(self, row: dict) -> dict:
        """The fields of a row its reader does not take (our export's lineage_* and metric_* columns are taken)."""
        if self.known is None:
            return {}
        return {k: v for k, v in row.items() if k not in self.known and not k.startswith(("lineage_", "metric_"))}

    def write_row(self, record: SampleRecord) -> tuple[dict, bool]:
        """(the row, whether a trailing user turn was dropped to write it). Raises Skip."""
        dropped = False
        if self.needs_reply:
            record, dropped = without_trailing_user(record)
        return self.write(record), dropped


def without_trailing_user(record: SampleRecord) -> tuple[SampleRecord, bool]:
    """The record without a last user turn that awaits its reply (and whether one was dropped); Skip(NO_REPLY)
    when no assistant turn is left."""
    turns = list(record.turns)
    dropped = bool(turns) and turns[-1]["role"] == "user"
    if dropped:
        turns.pop()
    if not any(t["role"] == "assistant" for t in turns):
        raise Skip(NO_REPLY)
    return (SampleRecord(**{**record.__dict__, "turns": turns}) if dropped else record), dropped


def _listed(row: dict, *keys: str) -> bool:
    return any(isinstance(row.get(k), list) for k in keys)


def _unpaired(row: dict) -> bool:
    return ("completion" in row and "label" in row and not isinstance(row.get("label"), dict)) or "kto_tag" in row


FORMATS: dict[str, SampleFormat] = {  # in the order detection tries them
    f.name: f
    for f in (
        SampleFormat("workbench", "Entropy Workbench columns (instruction, messages, steps, step_ratings)",
                     lambda row: "step_ratings" in row, read_workbench, write_workbench,
                     frozenset({"source", "instruction", "input", "output", "messages", "tags", "steps", "step_ratings",
                                "tools"})),
        SampleFormat("openai-preference", "OpenAI preference fine-tuning (input, preferred_output, non_preferred_output)",
                     lambda row: "preferred_output" in row or "non_preferred_output" in row, read_openai_preference,
                     write_openai_preference, frozenset({"input", "preferred_output", "non_preferred_output", *EXTRA_KEYS}),
                     preference=True),
        SampleFormat("messages-preference", "Preference conversations (chosen_messages, rejected_messages)",
                     lambda row: "chosen_messages" in row or "rejected_messages" in row, read_messages_preference, None,
                     frozenset({"chosen_messages", "rejected_messages", "tools", *EXTRA_KEYS}), preference=True),
        SampleFormat("sharegpt-preference", "LLaMA-Factory ShareGPT preference (conversations, chosen, rejected)",
                     lambda row: "conversations" in row and ("chosen" in row or "rejected" in row),
                     read_sharegpt_preference, write_sharegpt_preference,
                     frozenset({"conversations", "chosen", "rejected", "system", "tools", *EXTRA_KEYS}), preference=True),
        SampleFormat("dpo-conversational", "TRL DPO, conversational (prompt, chosen, rejected as messages)",
                     lambda row: "chosen" in row and "rejected" in row and _listed(row, "prompt", "chosen", "rejected"),
                     read_dpo, write_dpo_conversational, STANDARD_KEYS, preference=True),
        SampleFormat("dpo", "TRL DPO, standard (prompt, chosen, rejected as text)",
                     lambda row: "chosen" in row and "rejected" in row, read_dpo, write_dpo, STANDARD_KEYS, preference=True),
        SampleFormat("kto-conversational", "TRL KTO, conversational (prompt, completion as messages, label)",
                     lambda row: _unpaired(row) and _listed(row, "prompt", "completion"), read_kto, write_kto_conversational,
                     frozenset({"prompt", "completion", "label", "tools", *EXTRA_KEYS}), preference=True),
        SampleFormat("kto", "TRL KTO, standard (prompt, completion, label)", _unpaired, read_kto, write_kto,
                     frozenset({"prompt", "completion", "label", "instruction", "output", "kto_tag", "tools", *EXTRA_KEYS}),
                     preference=True),
        SampleFormat("openai", "OpenAI chat (messages)", lambda row: "messages" in row, read_openai, write_openai,
                     frozenset({"messages", "tools", *EXTRA_KEYS})),
        SampleFormat("sharegpt", "ShareGPT (conversations)", lambda row: "conversations" in row, read_sharegpt,
                     write_sharegpt, frozenset({"conversations", "system", "tools", *EXTRA_KEYS}), needs_reply=True),
        SampleFormat("trl-stepwise", "TRL stepwise supervision (prompt, completions, labels)",
                     lambda row: "completions" in row, read_trl_stepwise, write_trl_stepwise,
                     frozenset({"prompt", "completions", "labels", *EXTRA_KEYS}), stepwise=True),
        SampleFormat("prm800k", "PRM800K step ratings (question, label.steps)",
                     lambda row: isinstance(row.get("question"), dict) or isinstance(row.get("label"), dict),
                     read_prm800k, write_prm800k, None, stepwise=True),
        SampleFormat("processbench", "ProcessBench (problem, steps, label)",
                     lambda row: "problem" in row and "steps" in row, read_processbench, None, None),
        SampleFormat("alpaca", "Alpaca (instruction, input, output)",
                     lambda row: any(k in row for k in (*INSTRUCTION_KEYS, *OUTPUT_KEYS)), read_alpaca, write_alpaca,
                     frozenset({*INSTRUCTION_KEYS, *OUTPUT_KEYS, *INPUT_KEYS, "system", "history", "steps", "tags",
                                "metadata", "source", *EXTRA_KEYS}), needs_reply=True),
    )
}


def detect(row: dict) -> SampleFormat | None:
    """The format a row is in, by its telling key; None if no layout fits."""
    return next((fmt for fmt in FORMATS.values() if fmt.matches(row)), None)


def expected_layouts() -> str:
    """What a row must look like, for the message when none fits."""
    return ("`messages` (OpenAI), `conversations` (ShareGPT), `instruction`+`output` (Alpaca), `prompt`+`completions`+"
            "`labels` (TRL stepwise), `question`+`label` objects (PRM800K), `problem`+`steps`+`label` (ProcessBench), "
            "`prompt`+`chosen`+`rejected` (TRL DPO), `prompt`+`completion`+`label` (TRL KTO), `conversations`+`chosen`+"
            "`rejected` (LLaMA-Factory preference), `input`+`preferred_output`+`non_preferred_output` (OpenAI preference) "
            "or `chosen_messages`+`rejected_messages`")
