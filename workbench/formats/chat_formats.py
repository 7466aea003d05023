"""The chat layouts' readers and writers: OpenAI messages, ShareGPT and Alpaca (listed in
workbench.formats.sample_formats).

- `openai`: `{"messages": [{"role", "content"}, ...], "tools"}`, system first (OpenAI chat fine-tuning). A `content`
  given as a list of parts (`[{"type": "text", "text"}, {"type": "image_url", ...}]`, as the API and newer trainers
  write it) is read as its text parts joined by a line break; every part is kept with the turn (`content_parts`) and
  written back as it came. Non-text parts (image_url, input_audio, file, refusal) and unknown part types are kept
  and reported, never dropped. Tool calls are written valid for OpenAI fine-tuning: every call has an `id`, every
  tool result its `tool_call_id` (workbench.formats.tool_calls), and the conversation's `tools` list is written.
- `sharegpt`: `{"conversations": [{"from": "human"|"gpt"|"function_call"|"observation", "value"}], "system",
  "tools"}` (ShareGPT as LLaMA-Factory reads it; tool calls are `function_call` turns whose arguments keep their
  source bytes, tool results `observation`, `tools` a JSON string of the function descriptions).
- `alpaca`: `{"instruction", "input", "output", "system", "history": [[user, assistant], ...]}` (Stanford Alpaca;
  `system` and `history` as LLaMA-Factory reads them). Also read: `prompt`/`question`/`query`/`problem` for the
  instruction, `response`/`answer`/`completion`/`solution` for the output (GSM8K, MATH, TRL's prompt-completion),
  `context` for the input, and `steps`.

ShareGPT and Alpaca hold text only: a sample with non-text content parts is skipped with the reason, and a
reasoning trace kept apart (`reasoning_content`) is written R1-style into the message (workbench.formats.reasoning_traces).
"""

from __future__ import annotations

from workbench.core.conversation import TOOL_ROLES, FieldProblem, calls_tool, check_turns, with_input
from workbench.formats.reasoning_traces import DEFAULT_TAGS, FIELD, join_trace
from workbench.formats.row_fields import checked, first_key, make_record, steps_field, text_field
from workbench.formats.sample_record import RowError, SampleRecord, Skip
from workbench.formats.tool_calls import read_calls, read_tools, tools_text, with_call_ids, write_calls

SHAREGPT_FROM = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "model": "assistant", "bing": "assistant", "bard": "assistant", "system": "system",
    "observation": "tool", "tool": "tool", "function_call": "assistant",
}
SHAREGPT_ROLE = {"user": "human", "assistant": "gpt", "tool": "observation", "function": "observation"}
INSTRUCTION_KEYS = ("instruction", "prompt", "question", "query", "problem")
OUTPUT_KEYS = ("output", "response", "answer", "completion", "solution")
INPUT_KEYS = ("input", "context")
TEXT_PARTS = ("text", "input_text", "output_text")
KNOWN_PARTS = (*TEXT_PARTS, "image_url", "input_image", "input_audio", "file", "input_file", "refusal")
PARTS_KEY = "content_parts"  # a turn's content as the source's list of parts, kept to be written back
PART_SEPARATOR = "\n"

# why a writer leaves a sample out (counted per reason in the export result)
NO_REPLY = "no assistant reply"
HAS_TOOLS = "tool turns or functions (this format has no place for them)"
TEXT_AND_CALL = "an assistant turn with both text and tool calls (ShareGPT holds one or the other)"
NON_TEXT = "non-text content parts such as images (this format holds text only)"


# ---------------------------------------------------------------- content parts


def _read_parts(turn: dict, where: str, problems: list[FieldProblem], notes: list[str]) -> dict:
    """A turn whose content is a list of parts: its text parts joined as the content, every part kept."""
    parts = turn["content"]
    texts = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str):
            problems.append(FieldProblem(f"{where}.content[{index}]", "a content part must be an object with a 'type'"))
        elif kind in TEXT_PARTS:
            if not isinstance(part.get("text"), str):
                problems.append(FieldProblem(f"{where}.content[{index}].text", "must be text"))
            else:
                texts.append(part["text"])
        elif kind in KNOWN_PARTS:
            notes.append(f"content part '{kind}' kept with its turn")
        else:
            notes.append(f"unknown content part type '{kind}' kept with its turn as it came")
    return {**turn, "content": PART_SEPARATOR.join(texts) if texts else None, PARTS_KEY: parts}


def _written_parts(turn: dict) -> dict:
    """A turn with its kept parts as its content again: as they came when its text is unchanged, else with the
    (edited or redacted) text as the first text part and the other text parts dropped."""
    parts = turn[PARTS_KEY]
    rest = {k: v for k, v in turn.items() if k != PARTS_KEY}
    texts = [p["text"] for p in parts if p.get("type") in TEXT_PARTS]
    if (PART_SEPARATOR.join(texts) if texts else None) == turn.get("content"):
        return {**rest, "content": parts}
    first = next((i for i, p in enumerate(parts) if p.get("type") in TEXT_PARTS), None)
    written = [p for i, p in enumerate(parts) if p.get("type") not in TEXT_PARTS or i == first]
    if first is None:
        written.insert(0, {"type": "text", "text": turn.get("content") or ""})
    else:
        written = [{**p, "text": turn.get("content") or ""} if p is parts[first] else p for p in written]
    return {**rest, "content": written}


def text_only(turns: list[dict]) -> list[dict]:
    """Turns for a layout that holds text alone: Skip(NON_TEXT) when a turn has non-text parts; a trace kept apart
    is written R1-style into its message."""
    written = []
    for turn in turns:
        if any(p.get("type") not in TEXT_PARTS for p in turn.get(PARTS_KEY) or []):
            raise Skip(NON_TEXT)
        turn = {k: v for k, v in turn.items() if k != PARTS_KEY}
        if isinstance(turn.get(FIELD), str) and turn[FIELD].strip():
            trace = turn.pop(FIELD)
            turn["content"] = join_trace(trace, turn.get("content") or "", DEFAULT_TAGS)
        written.append(turn)
    return written


# ---------------------------------------------------------------- OpenAI messages


def read_messages(messages: object, key: str, problems: list[FieldProblem], notes: list[str]) -> list[dict]:
    """A list of OpenAI messages as turns (content parts read as text, every part kept); problems name `key`."""
    if not isinstance(messages, list) or not messages:
        raise RowError([FieldProblem(key, "must be a non-empty list of {role, content} objects")])
    turns = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            problems.append(FieldProblem(f"{key}[{index}]", "must be an object with 'role' and 'content'"))
            continue
        turn = dict(message)
        if isinstance(turn.get("content"), list):
            turn = _read_parts(turn, f"{key}[{index}]", problems, notes)
        turns.append(turn)
    return turns


def read_tools_field(row: dict, key: str, problems: list[FieldProblem]) -> list | None:
    """The row's functions (OpenAI's `tools` list or ShareGPT's JSON string) in OpenAI's shape; None when absent."""
    if row.get(key) in (None, "", []):
        return None
    try:
        return read_tools(row[key])
    except ValueError as exc:
        problems.append(FieldProblem(key, str(exc)))
        return None


def read_openai(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    notes: list[str] = []
    turns = read_messages(row.get("messages"), "messages", problems, notes)
    tools = read_tools_field(row, "tools", problems)
    if not problems:
        checked(turns, "messages", problems)
    found = make_record(problems, row, turns=turns, tools=tools)
    found.notes = notes
    return found


def _ordered(turn: dict) -> dict:
    """A turn with OpenAI's key order: role, content, then the rest as they came."""
    return {"role": turn["role"], "content": turn.get("content"), **{k: v for k, v in turn.items() if k not in ("role", "content")}}


def message_turns(turns: list[dict], input_text: str | None = None) -> list[dict]:
    """Turns as OpenAI messages: the input joined into the first user turn, kept content parts written back, an id
    on every tool call and its result."""
    written = [_ordered(t) for t in turns]
    if input_text:
        first_user = next(i for i, t in enumerate(written) if t["role"] == "user")
        written[first_user]["content"] = with_input(written[first_user]["content"], input_text)
    return with_call_ids([_written_parts(t) if PARTS_KEY in t else t for t in written])


def write_openai(record: SampleRecord) -> dict:
    row: dict = {"messages": message_turns(record.turns, record.input)}
    if record.tools:
        row["tools"] = record.tools
    return row


# ---------------------------------------------------------------- ShareGPT


def _sharegpt_turn(entry: dict) -> dict:
    """A ShareGPT entry as an OpenAI turn; a function_call's JSON value becomes the turn's tool_calls.
    Raises ValueError for a function_call value that is not a JSON call."""
    sender = str(entry["from"]).lower()
    if sender != "function_call":
        return {"role": SHAREGPT_FROM[sender], "content": entry.get("value")}
    return {"role": "assistant", "content": None, "tool_calls": read_calls(entry.get("value"))}


def read_sharegpt_turns(entries: object, key: str, problems: list[FieldProblem]) -> list[dict]:
    """ShareGPT entries ({from, value}; OpenAI's {role, content} too) as turns; problems name `key`."""
    if not isinstance(entries, list) or not entries:
        raise RowError([FieldProblem(key, "must be a non-empty list of {from, value} objects")])
    turns = []
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        if isinstance(entry, dict) and "role" in entry and "from" not in entry:  # some files use OpenAI's keys
            entry = {"from": entry["role"], "value": entry.get("content")}
        if not isinstance(entry, dict) or "from" not in entry:
            problems.append(FieldProblem(where, "must be an object with 'from' and 'value'"))
            continue
        if str(entry["from"]).lower() not in SHAREGPT_FROM:
            problems.append(FieldProblem(f"{where}.from", f"unknown role {entry['from']!r}; ShareGPT uses human, gpt, "
                                         "system, function_call and observation"))
            continue
        try:
            turns.append(_sharegpt_turn(entry))
        except ValueError as exc:
            problems.append(FieldProblem(f"{where}.value", str(exc)))
    return turns


def with_system_field(row: dict, turns: list[dict], key: str, problems: list[FieldProblem]) -> list[dict]:
    """The turns with the row's `system` field first, after checking the whole conversation (problems are named by
    their index in `key`, as the file has them)."""
    system = text_field(row, "system", problems, required=False)
    if system is not None:
        if turns and turns[0]["role"] == "system":
            problems.append(FieldProblem("system", "a system prompt both in 'system' and in the conversation"))
        turns = [{"role": "system", "content": system}, *turns]
    if not problems:
        offset = 1 if system is not None else 0
        for problem in check_turns(turns, key, "from", "value"):
            problems.append(_shift(problem, offset) if offset else problem)
    return turns


def read_sharegpt(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    turns = read_sharegpt_turns(row.get("conversations"), "conversations", problems)
    turns = with_system_field(row, turns, "conversations", problems)
    tools = read_tools_field(row, "tools", problems)
    return make_record(problems, row, turns=turns, tools=tools)


def _shift(problem: FieldProblem, offset: int) -> FieldProblem:
    """A problem found after the `system` field was put first, named by its index in `conversations`."""
    head, _, tail = problem.field.partition("]")
    prefix, _, index = head.partition("[")
    return FieldProblem(f"{prefix}[{int(index) - offset}]{tail}", problem.message) if index.isdigit() else problem


def sharegpt_entry(turn: dict) -> dict:
    if calls_tool(turn):
        if (turn.get("content") or "").strip():
            raise Skip(TEXT_AND_CALL)
        return {"from": "function_call", "value": write_calls(turn)}
    return {"from": SHAREGPT_ROLE[turn["role"]], "value": turn["content"]}


def sharegpt_fields(record: SampleRecord, row: dict) -> dict:
    """The row with the record's `system` and `tools` fields, when it has them."""
    if record.system:
        row["system"] = record.system
    if record.tools:
        row["tools"] = tools_text(record.tools)
    return row


def write_sharegpt(record: SampleRecord) -> dict:
    turns = message_turns(text_only(record.conversation), record.input)
    return sharegpt_fields(record, {"conversations": [sharegpt_entry(t) for t in turns]})


# ---------------------------------------------------------------- Alpaca


def read_alpaca(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    instruction = text_field(row, first_key(row, INSTRUCTION_KEYS), problems)
    output = text_field(row, first_key(row, OUTPUT_KEYS), problems)
    input_text = text_field(row, first_key(row, INPUT_KEYS), problems, required=False)
    system = text_field(row, "system", problems, required=False)
    history = row.get("history") or []
    turns = [{"role": "system", "content": system}] if system else []
    if not isinstance(history, list):
        problems.append(FieldProblem("history", "must be a list of [instruction, response] pairs"))
        history = []
    for index, pair in enumerate(history):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) and t.strip() for t in pair)):
            problems.append(FieldProblem(f"history[{index}]", "must be a pair [instruction, response] of non-empty texts"))
            continue
        turns += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    steps = steps_field(row["steps"], "steps", problems) if row.get("steps") is not None else []
    tags = row.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(FieldProblem("tags", "must be a list of texts"))
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        problems.append(FieldProblem("metadata", "must be an object"))
    source = row.get("source")
    if source is not None and not isinstance(source, str):
        problems.append(FieldProblem("source", "must be text"))
    if instruction is not None and output is not None:
        last = with_input(instruction, input_text) if history else instruction  # Alpaca's input goes with its instruction
        turns += [{"role": "user", "content": last}, {"role": "assistant", "content": output}]
    return make_record(problems, row, turns=turns, input=None if history else input_text, steps=steps,
                  ratings=[None] * len(steps), source=source, tags=list(tags), metadata=dict(metadata))


def _pairs(record: SampleRecord) -> list[tuple[str, str]]:
    turns = message_turns(text_only(record.conversation), record.input)
    if record.tools or any(t["role"] in TOOL_ROLES or calls_tool(t) for t in turns):
        raise Skip(HAS_TOOLS)
    if len(turns) < 2:
        raise Skip(NO_REPLY)
    return [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns) - 1, 2)]


def write_alpaca(record: SampleRecord) -> dict:
    pairs = _pairs(record)
    if len(pairs) == 1:
        row = {"instruction": record.instruction, "input": record.input or "", "output": pairs[0][1]}
    else:
        row = {"instruction": pairs[-1][0], "input": "", "output": pairs[-1][1]}
    if record.system:
        row["system"] = record.system
    if len(pairs) > 1:
        row["history"] = [list(pair) for pair in pairs[:-1]]
    return row
