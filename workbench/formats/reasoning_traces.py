"""Reasoning traces in an assistant message, the two ways trainers write them.

- R1-style (DeepSeek-R1 and the models distilled from it): the trace inside tags at the start of the message,
  `<think>\\n...\\n</think>\\n\\n<final answer>`. The tags are a setting of the export (`DEFAULT_TAGS`).
- Separate: the trace in its own `reasoning_content` field beside `content` (the OpenAI-compatible APIs of
  reasoning models, e.g. DeepSeek's, and chat templates such as Qwen3's read it there).

A verified path is written as a trace (its steps before the step that states the final answer) followed by the
final answer (that step and any after it). Import reads both styles back into steps; the message itself is kept
as it came, so a re-export in the same style is byte-identical. Import recognises the usual tag names
(TAG_NAMES) at the very start of an assistant message.
"""

from __future__ import annotations

import re

DEFAULT_TAGS = ("<think>", "</think>")
STYLES = ("r1", "separate")
TAG_NAMES = ("think", "thinking", "thought", "reasoning", "reason")
LEADING_TRACE = re.compile(rf"^\s*<({'|'.join(TAG_NAMES)})>\n?(.*?)\n?</\1>[ \t]*(?:\n\n?)?", re.DOTALL | re.IGNORECASE)
FIELD = "reasoning_content"


def split_trace(text: str | None) -> tuple[str | None, str | None]:
    """(trace, answer) of an R1-style message; (None, text) when it opens with no trace."""
    match = LEADING_TRACE.match(text or "")
    if match is None:
        return None, text
    return match.group(2), text[match.end() :]


def join_trace(trace: str, answer: str, tags: tuple[str, str] = DEFAULT_TAGS) -> str:
    """An R1-style message: the trace in its tags, a blank line, the final answer."""
    return f"{tags[0]}\n{trace}\n{tags[1]}\n\n{answer}"


def turn_trace(turn: dict) -> tuple[str | None, str | None]:
    """(trace, answer) of an assistant turn, whichever way it carries its trace."""
    if isinstance(turn.get(FIELD), str) and turn[FIELD].strip():
        return turn[FIELD], turn.get("content")
    return split_trace(turn.get("content"))


def check_tags(tags: tuple[str, str]) -> tuple[str, str]:
    """Tags as given, or ValueError: two different non-empty tags without line breaks."""
    opening, closing = (t.strip() for t in tags)
    if not opening or not closing or opening == closing or "\n" in opening + closing:
        raise ValueError("the reasoning tags must be two different, non-empty tags, e.g. <think> and </think>")
    return opening, closing


def styled(turn: dict, style: str | None, tags: tuple[str, str] = DEFAULT_TAGS) -> dict:
    """An assistant turn with its trace written in a style: 'r1' (in the message, in `tags`), 'separate'
    (`reasoning_content`), or None (as it is). A turn without a trace is returned as it is."""
    if style is None or turn.get("role") != "assistant":
        return turn
    trace, answer = turn_trace(turn)
    if trace is None:
        return turn
    rest = {k: v for k, v in turn.items() if k not in ("content", FIELD)}
    if style == "r1":
        return {**rest, "content": join_trace(trace, answer or "", tags)}
    if style == "separate":
        return {**rest, "content": answer, FIELD: trace}
    raise ValueError(f"the trace style is one of {', '.join(STYLES)}, not {style!r}")


def trace_steps(turns: list[dict]) -> list[str]:
    """The reasoning steps of a conversation's first assistant reply that carries a trace: its trace's steps, then
    its final answer's ([] when no reply carries one)."""
    from workbench.verify.reasoning import split_steps

    for turn in turns:
        if turn.get("role") != "assistant":
            continue
        trace, answer = turn_trace(turn)
        if trace is not None:
            return split_steps(trace) + split_steps(answer or "")
    return []
