"""What ships is what was verified (issue 23, section 0): the assistant message an export writes for a sample.

A sample's reasoning paths are checked step by step and the gate (workbench.verify.reasoning.evaluate_task) passes
the task when its best path passes. The sample's own answer (its `output`, written by the model that made the
sample) is a different text, which no verifier read. So, by default ('verified'), a sample whose best path passed
the gate ships that path: its steps and its final answer, as the reply to its one question. Otherwise the sample
ships its own answer, marked unverified with the reason: it has no reasoning paths, none passed the gate, or it is a
conversation of several exchanges (a path answers the first question only). The user may ship the sample's own
answer instead ('original'): it counts as verified only when it is itself the text of a path that passed the gate.

The lineage names a path and its verifiers only when that path's text is what ships (`ShippedAnswer.path`); the
verifiers named are the ones that gave a verdict on one of its steps (an abstention is not a check).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.conversation import TOOL_ROLES, calls_tool, split_system
from workbench.formats.reasoning_traces import styled
from workbench.formats.row_fields import STEP_SEPARATOR
from workbench.verify.reasoning import (
    TaskVerdict,
    VerificationSettings,
    effective_score,
    evaluate_task,
    path_name,
    split_steps,
    step_decided_by,
)
from workbench.verify.verifiers.base import UNVERIFIABLE
from workbench.verify.verifiers.consistency import stated_answer

ANSWERS = ("verified", "original")
DEFAULT_ANSWER = "verified"
WRONG_BELOW = 0.5  # an effective step score under this is a step found wrong
UNVERIFIED = ("no reasoning paths", "no path passed the gate", "a conversation of several exchanges",
              "its own answer, not the verified path")


@dataclass
class ShippedAnswer:
    """The conversation as it ships, the path whose text it carries (None: the sample's own text), whether that text
    was verified and why (or why not), in words for the lineage and the dataset card."""

    turns: list[dict]
    path: dict | None
    source: str  # 'verified path' | 'original'
    verified: bool
    reason: str
    category: str = ""  # why it is unverified, in a few words that group alike samples ('' when verified)


def path_text(path: dict) -> str:
    """A path's text as it was checked: its steps, one per line (the last states the final answer)."""
    return STEP_SEPARATOR.join(step["text"] for step in path["steps"])


def checked_by(path: dict) -> list[str]:
    """The verifiers that gave a verdict on at least one of the path's steps (abstentions are not checks)."""
    return sorted({name for step in path["steps"] for name, verdict in step["scores"].items()
                   if verdict["label"] != UNVERIFIABLE})


def task_verdict(paths: list[dict], settings: VerificationSettings) -> TaskVerdict | None:
    """The gate's verdict on a task's paths (None without paths): the one call this stage makes to the gate, whose
    `passed` and `best_path_id` it reads."""
    return evaluate_task(paths, settings) if paths else None


def path_passes(path: dict, settings: VerificationSettings) -> bool:
    """Whether one path, judged alone by the gate, passes."""
    return task_verdict([path], settings).passed


def first_wrong_step(path: dict, settings: VerificationSettings) -> tuple[int, str] | None:
    """(index, who decided it) of the path's first step found wrong (an effective score under WRONG_BELOW) by a
    verifier or a person's label, with verdicts counted as the gate counts them (a majority under the margin, or a
    consensus dispute, is set aside) and attributed as the Verifier page attributes them (`step_decided_by`); None
    when no step was found wrong."""
    for index, step in enumerate(path["steps"]):
        if effective_score(step, settings) < WRONG_BELOW:
            return index, step_decided_by(step, settings)
    return None


def path_turn(path: dict, style: str | None = None, tags: tuple[str, str] | None = None) -> dict:
    """A path as an assistant message: its steps; with a trace style, the steps before the one stating the final
    answer as the trace and the rest as the answer (workbench.formats.reasoning_traces)."""
    texts = [step["text"] for step in path["steps"]]
    index, answer = stated_answer(texts) if style is not None else (0, None)
    if answer is None or index == 0:
        return {"role": "assistant", "content": STEP_SEPARATOR.join(texts)}
    turn = {"role": "assistant", "content": STEP_SEPARATOR.join(texts[index:]),
            "reasoning_content": STEP_SEPARATOR.join(texts[:index])}
    return styled(turn, style, *([tags] if tags else []))


def _single_question(turns: list[dict]) -> bool:
    """One user turn and at most one plain assistant reply (a system prompt allowed): what a path answers."""
    rest = split_system(turns)[1]
    roles = [t["role"] for t in rest]
    plain = not any(t["role"] in TOOL_ROLES or calls_tool(t) for t in rest)
    return plain and roles in (["user"], ["user", "assistant"])


def _normal(text: str) -> list[str]:
    return [" ".join(step.split()) for step in split_steps(text)]


def _matching_path(reply: str | None, passing: list[dict]) -> dict | None:
    """The passing path whose text the reply is (step by step, spacing aside)."""
    if not reply or not reply.strip():
        return None
    steps = _normal(reply)
    return next((p for p in passing if steps in (_normal(path_text(p)), [" ".join(s["text"].split()) for s in p["steps"]])), None)


def shipped_answer(turns: list[dict], paths: list[dict], verdict: TaskVerdict | None, settings: VerificationSettings,
                   mode: str = DEFAULT_ANSWER, style: str | None = None, tags: tuple[str, str] | None = None) -> ShippedAnswer:
    """What a sample ships (see the module docstring). `paths` are its reasoning paths as nested by
    store.verify.reasoning_paths_nested, `verdict` the gate's on them (None: no paths); `style` writes reasoning traces."""
    if mode not in ANSWERS:
        raise ValueError(f"the answer to ship is one of {', '.join(ANSWERS)}, not {mode!r}")
    best = next((p for p in paths if verdict and p["id"] == verdict.best_path_id), None)
    single = _single_question(turns)
    if mode == "verified" and best is not None and verdict.passed and single:
        shipped = [t for t in turns if t["role"] != "assistant"] + [path_turn(best, style, tags)]
        return ShippedAnswer(shipped, best, "verified path", True, f"the gate passed it: {verdict.reason}")
    own = [styled(t, style, *([tags] if tags else [])) for t in turns]
    reply = next((t.get("content") for t in split_system(turns)[1] if t["role"] == "assistant"), None)
    passing = [p for p in paths if path_passes(p, settings)] if verdict and verdict.passed and single and reply else []
    match = _matching_path(reply, passing)
    if match is not None:
        return ShippedAnswer(own, match, "original", True,
                             f"the sample's own answer is the text of {path_name(match)}, which passed the gate")
    if not paths:
        category, why = UNVERIFIED[0], "never verified: the sample has no reasoning paths"
    elif not verdict.passed:
        category, why = UNVERIFIED[1], f"no reasoning path passed the gate ({verdict.reason})"
    elif not single:
        category, why = UNVERIFIED[2], ("a conversation of several exchanges: its reasoning paths answer the first "
                                        "question only, so the conversation ships as written")
    else:
        category, why = UNVERIFIED[3], (f"the sample's own answer is not the verified path ({path_name(best)} "
                                        "passed the gate; its text differs)")
    return ShippedAnswer(own, None, "original", False, why, category)
