"""Tool calls between layouts, without changing a byte of what the model wrote.

- OpenAI fine-tuning needs `tool_calls[].id` on the assistant turn and the same id as `tool_call_id` on each tool
  result; a source without ids (ShareGPT's `function_call` / `observation` turns) gets deterministic ones:
  `call_<turn>_<call>` by position in the conversation, so the same conversation always gets the same ids.
- Function-call arguments stay byte-identical: a ShareGPT `function_call` value's `arguments` object is cut out of
  the source text as it was written (key order and spacing kept), never parsed and dumped again.
- The conversation's functions (`tools`) are held in OpenAI's shape, `[{"type": "function", "function": {name,
  description, parameters}}]`; LLaMA-Factory's ShareGPT `tools` is a JSON string of the bare function descriptions.
"""

from __future__ import annotations

import json
import re

from workbench.core.conversation import calls_tool

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _object_members(text: str, start: int) -> tuple[dict[str, str], int]:
    """The raw text of each member of the JSON object at text[start] ('{'), and where the object ends."""
    members: dict[str, str] = {}
    at = _SPACE.match(text, start + 1).end()
    if text[at] == "}":
        return members, at + 1
    while True:
        key, at = _DECODER.raw_decode(text, at)
        at = _SPACE.match(text, at).end()
        if text[at] != ":":
            raise ValueError("expected ':' in a JSON object")
        value_start = _SPACE.match(text, at + 1).end()
        _, value_end = _DECODER.raw_decode(text, value_start)
        members[key] = text[value_start:value_end]
        at = _SPACE.match(text, value_end).end()
        if text[at] == ",":
            at = _SPACE.match(text, at + 1).end()
        elif text[at] == "}":
            return members, at + 1
        else:
            raise ValueError("expected ',' or '}' in a JSON object")


def raw_objects(text: str) -> list[dict[str, str]]:
    """The raw source text of each member of a JSON object, or of each object in a JSON array of objects, in order:
    '{"name": "f", "arguments": {"b": 1,"a": 2}}' -> [{"name": '"f"', "arguments": '{"b": 1,"a": 2}'}].
    Raises ValueError when the text is not such JSON."""
    try:
        at = _SPACE.match(text, 0).end()
        if text[at] == "{":
            return [_object_members(text, at)[0]]
        if text[at] != "[":
            raise ValueError("expected a JSON object or array")
        objects = []
        at = _SPACE.match(text, at + 1).end()
        while text[at] != "]":
            if text[at] != "{":
                raise ValueError("expected an object in the array")
            members, at = _object_members(text, at)
            objects.append(members)
            at = _SPACE.match(text, at).end()
            if text[at] == ",":
                at = _SPACE.match(text, at + 1).end()
        return objects
    except (IndexError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON object: {exc}") from exc


def read_calls(value: object) -> list[dict]:
    """A ShareGPT `function_call` value (a JSON object {name, arguments}, or a list of them) as OpenAI tool calls
    `{"type": "function", "function": {"name", "arguments"}}` with the arguments' source text kept byte for byte.
    Raises ValueError for a value that is not a JSON call."""
    if not isinstance(value, str):
        raise ValueError("a function_call value must be a JSON object {name, arguments} (or a list of them)")
    try:
        parsed = json.loads(value)
        raw = raw_objects(value)
    except ValueError:
        parsed, raw = None, []
    calls = parsed if isinstance(parsed, list) else [parsed]
    if not calls or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        raise ValueError("a function_call value must be a JSON object {name, arguments} (or a list of them)")
    read = []
    for call, source in zip(calls, raw, strict=True):
        arguments = call.get("arguments")
        text = arguments if isinstance(arguments, str) else source.get("arguments", "{}")
        read.append({"type": "function", "function": {"name": call["name"], "arguments": text}})
    return read


def _argument_json(arguments: object) -> str:
    """The arguments as they go inside a ShareGPT function_call value: a JSON text as it is, anything else as JSON."""
    if isinstance(arguments, str):
        try:
            json.loads(arguments)
        except json.JSONDecodeError:
            return json.dumps(arguments, ensure_ascii=False)
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)


def write_calls(turn: dict) -> str:
    """An assistant turn's tool calls as a ShareGPT function_call value, arguments written as the source had them."""
    calls = [c.get("function", c) for c in turn.get("tool_calls") or [turn.get("function_call")]]
    values = [f'{{"name": {json.dumps(c.get("name"), ensure_ascii=False)}, "arguments": {_argument_json(c.get("arguments"))}}}'
              for c in calls]
    return values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"


def with_call_ids(turns: list[dict]) -> list[dict]:
    """The turns with an id on every tool call and a `tool_call_id` on every tool result that lacks one: the k-th
    result after an assistant turn answers its k-th call (results past the last call answer the last one)."""
    written, pending, answered = [], [], 0
    for index, turn in enumerate(turns):
        if calls_tool(turn) and turn.get("tool_calls"):
            calls = [call if call.get("id") else {"id": f"call_{index}_{k}", **call}
                     for k, call in enumerate(turn["tool_calls"])]
            turn, pending, answered = {**turn, "tool_calls": calls}, [c["id"] for c in calls], 0
        elif turn.get("role") == "tool" and pending:
            if not turn.get("tool_call_id"):
                turn = {**turn, "tool_call_id": pending[min(answered, len(pending) - 1)]}
            answered += 1
        written.append(turn)
    return written


def read_tools(value: object) -> list:
    """A conversation's functions (an OpenAI `tools` list, or ShareGPT's JSON string of function descriptions) in
    OpenAI's shape. Raises ValueError for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be a JSON list of function descriptions ({exc.msg})") from exc
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ValueError("must be a list of function descriptions")
    return [t if "type" in t else {"type": "function", "function": t} for t in value]


def tools_text(tools: list) -> str:
    """The functions as ShareGPT's `tools` string (LLaMA-Factory): the bare descriptions, keys in their order."""
    return json.dumps([t.get("function", t) if t.get("type") == "function" else t for t in tools], ensure_ascii=False)
