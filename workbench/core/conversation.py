"""Conversations as samples hold them: an optional system prompt, then user / assistant turns (tool turns
kept as such), in OpenAI's message shape.

A turn is `{"role", "content", ...}`: extra keys of the source (an assistant's `tool_calls`, a tool
turn's `tool_call_id`, `name`, OpenAI's `weight`) are kept as they came. `samples.turns` holds the
whole conversation, system first, or NULL for a plain single exchange (user, assistant) without a
system prompt, whose text lives in `instruction` / `output` alone. `instruction` and `output` always
mirror the first user turn and the first assistant reply after it.

Order rules (`check_turns`): system (or OpenAI's `developer`) only at the start; then a user turn;
user and assistant alternate; tool turns follow an assistant turn that called a tool, and an
assistant turn follows them. A conversation may end on a user turn (a prompt awaiting its reply).
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_ROLES = ("system", "developer")
TOOL_ROLES = ("tool", "function")
ROLES = (*SYSTEM_ROLES, "user", "assistant", *TOOL_ROLES)
INPUT_SEPARATOR = "\n\n"  # Alpaca's instruction and input joined into one user turn


@dataclass
class FieldProblem:
    """One thing wrong with a field of a row: where it is (`messages[2].role`) and what is wrong."""

    field: str
    message: str


def calls_tool(turn: dict) -> bool:
    return turn.get("role") == "assistant" and bool(turn.get("tool_calls") or turn.get("function_call"))


def _expected(previous: str | None, previous_calls_tool: bool) -> tuple[str, ...]:
    """The roles that may follow a turn of role `previous` (None: the first turn after the system prompt)."""
    if previous is None:
        return ("user",)
    if previous == "user":
        return ("assistant",)
    if previous == "assistant":
        return ("user", *TOOL_ROLES) if previous_calls_tool else ("user",)
    return (*TOOL_ROLES, "assistant")  # after a tool turn


def check_turns(turns: list[dict], field: str, role_key: str = "role", content_key: str = "content") -> list[FieldProblem]:
    """Every problem of a conversation's roles, order and contents; [] when it is well formed.

    `field` names the list in the source (`messages`, `conversations`), so a problem reads
    `messages[2].role: 'user' cannot follow 'user'`. Roles must already be OpenAI's (see ROLES).
    """
    problems: list[FieldProblem] = []
    previous: str | None = None
    previous_calls_tool = False
    started = False
    for index, turn in enumerate(turns):
        where = f"{field}[{index}]"
        role = turn.get("role")
        if role not in ROLES:
            problems.append(FieldProblem(f"{where}.{role_key}", f"unknown role {role!r}"))
            return problems
        content = turn.get("content")
        if content is not None and not isinstance(content, str):
            problems.append(FieldProblem(f"{where}.{content_key}", "must be text"))
        elif not (content or "").strip() and not calls_tool(turn) and not turn.get("content_parts"):  # an image alone
            problems.append(FieldProblem(f"{where}.{content_key}", "empty message"))
        if role in SYSTEM_ROLES:
            if started:
                problems.append(FieldProblem(f"{where}.{role_key}", f"a {role} message can only open the conversation"))
            continue
        started = True
        allowed = _expected(previous, previous_calls_tool)
        if role not in allowed:
            after = f"cannot follow {previous!r}" if previous else "cannot open the conversation"
            problems.append(FieldProblem(f"{where}.{role_key}", f"{role!r} {after}; expected {' or '.join(map(repr, allowed))}"))
            return problems
        previous, previous_calls_tool = role, calls_tool(turn)
    if not started:
        problems.append(FieldProblem(field, "no user turn"))
    return problems


def split_system(turns: list[dict]) -> tuple[str | None, list[dict]]:
    """(the system prompt or None, the other turns)."""
    if turns and turns[0].get("role") in SYSTEM_ROLES:
        return turns[0].get("content"), list(turns[1:])
    return None, list(turns)


def first_exchange(turns: list[dict]) -> tuple[str, str | None]:
    """(first user turn, first assistant reply after it or None): what `instruction` / `output` mirror."""
    _, rest = split_system(turns)
    user = next(i for i, t in enumerate(rest) if t["role"] == "user")
    reply = next((t for t in rest[user + 1 :] if t["role"] == "assistant" and (t.get("content") or "").strip()), None)
    return rest[user]["content"], reply["content"] if reply else None


def is_plain_exchange(turns: list[dict]) -> bool:
    """A single user turn with at most one assistant reply, no system prompt and no extra keys."""
    shapes = [(t.get("role"), set(t)) for t in turns]
    return shapes in ([("user", {"role", "content"})], [("user", {"role", "content"}), ("assistant", {"role", "content"})])


def stored_turns(turns: list[dict]) -> list[dict] | None:
    """What `samples.turns` holds for a conversation: None for a plain exchange, else every turn."""
    return None if is_plain_exchange(turns) else turns


def sample_turns(sample: dict) -> list[dict]:
    """A stored sample's whole conversation (system first): its `turns`, or its instruction and output."""
    turns = sample.get("turns")
    if isinstance(turns, list) and turns:
        return [dict(t) for t in turns]
    exchange = [{"role": "user", "content": sample["instruction"]}]
    if sample.get("output"):
        exchange.append({"role": "assistant", "content": sample["output"]})
    return exchange


def with_input(text: str, input_text: str | None) -> str:
    """An instruction with its input (Alpaca's context) joined the way chat formats carry it."""
    return f"{text}{INPUT_SEPARATOR}{input_text}" if input_text else text
