"""The preference layouts' readers and writers (listed in workbench.formats.sample_formats).

- `dpo` / `dpo-conversational`: TRL's preference type, standard (`{"prompt": text, "chosen": text, "rejected":
  text}`) or conversational (`{"prompt": [messages], "chosen": [assistant message], "rejected": [...]}`). Also read:
  an implicit prompt (`chosen` / `rejected` as whole conversations, as UltraFeedback-binarized writes them beside
  its `prompt` text) and LLaMA-Factory's Alpaca preference rows (`instruction`, `input`, `chosen`, `rejected`).
- `kto` / `kto-conversational`: TRL's unpaired preference type, `{"prompt", "completion", "label": bool}`
  (LLaMA-Factory's `kto_tag` is read as the label).
- `sharegpt-preference`: LLaMA-Factory's ShareGPT preference rows, `{"conversations": [... ending on the human
  turn], "chosen": {"from": "gpt", "value"}, "rejected": {...}, "system", "tools"}`.
- `openai-preference`: OpenAI's preference fine-tuning (DPO) rows, `{"input": {"messages", "tools"},
  "preferred_output": [assistant message], "non_preferred_output": [assistant message]}`.
- `messages-preference` (read only): `{"chosen_messages": [whole conversation], "rejected_messages": [...], "tools"}`.

A row becomes a sample (its prompt and chosen completion, which review, PII scanning and the chat exports see) with
a `PreferencePair` (its rejected completion). A Step-DPO pair (Lai et al. 2024) is written in the standard layout as
the prompt text followed by the shared correct steps, then the one step chosen or rejected; in the message layouts
its completions are the shared steps and the step, which gives DPO the same loss (the shared steps' log-probabilities
cancel between chosen and rejected).

Bad rows: a pair whose chosen equals its rejected is skipped and reported by line; a pair whose two conversations
have different prompts is refused, naming the field and turn.
"""

from __future__ import annotations

from workbench.core.conversation import TOOL_ROLES, FieldProblem, calls_tool
from workbench.formats.chat_formats import (
    HAS_TOOLS,
    INPUT_KEYS,
    NO_REPLY,
    message_turns,
    read_messages,
    read_sharegpt_turns,
    read_tools_field,
    sharegpt_entry,
    sharegpt_fields,
    text_only,
    with_system_field,
)
from workbench.formats.row_fields import EXTRA_KEYS, STEP_SEPARATOR, checked, make_record, text_field
from workbench.formats.sample_record import PreferencePair, RowError, SampleRecord, Skip, SkipRow

SAME_TEXT = "chosen equals rejected (the pair teaches nothing)"
# why a writer leaves a sample out (counted per reason in the export result)
NO_PAIR = "no preference pair (no task with both a passing and a failing path, and no imported pair)"
NOT_PAIRED = "an unpaired (KTO) row: this layout needs both a chosen and a rejected completion"
PROMPT_TURNS = "a system prompt or earlier turns (the standard layout's prompt is one text: use the conversational one)"
ONE_MESSAGE = "a completion of several messages (this layout takes one assistant message)"
STANDARD_KEYS = frozenset({"prompt", "chosen", "rejected", "instruction", "input", "context", "system", "tools", *EXTRA_KEYS})


# ---------------------------------------------------------------- reading


def _completion(value: object, key: str, problems: list[FieldProblem], notes: list[str]) -> list[dict] | None:
    """A chosen / rejected / completion value (text, one message, a ShareGPT entry or a list of messages) as turns."""
    if isinstance(value, str):
        if not value.strip():
            problems.append(FieldProblem(key, "empty"))
            return None
        return [{"role": "assistant", "content": value}]
    if isinstance(value, dict) and "from" in value:
        return read_sharegpt_turns([value], key, problems)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.append(FieldProblem(key, "must be text, a message or a list of messages"))
        return None
    return read_messages(value, key, problems, notes)


def _prompt(value: object, key: str, problems: list[FieldProblem], notes: list[str]) -> list[dict] | None:
    """A prompt given as text (one user turn) or as messages."""
    if isinstance(value, str) and value.strip():
        return [{"role": "user", "content": value}]
    if isinstance(value, list) and value:
        return read_messages(value, key, problems, notes)
    problems.append(FieldProblem(key, "missing" if value is None else "must be text or a non-empty list of messages"))
    return None


def _reply_start(turns: list[dict]) -> int:
    """Where the reply begins: after the last user turn (0 when there is none)."""
    users = [i for i, t in enumerate(turns) if t.get("role") == "user"]
    return users[-1] + 1 if users else 0


def _split_conversations(chosen: list[dict], rejected: list[dict], keys: tuple[str, str],
                         problems: list[FieldProblem]) -> tuple[list[dict], list[dict], list[dict]]:
    """(prompt, chosen reply, rejected reply) of two whole conversations; their prompts must be the same."""
    start_c, start_r = _reply_start(chosen), _reply_start(rejected)
    prompt_c, prompt_r = chosen[:start_c], rejected[:start_r]
    if not prompt_c:
        problems.append(FieldProblem(keys[0], "no user turn: the prompt is the conversation up to its last user turn"))
    elif prompt_c != prompt_r:
        turn = next((i for i, (a, b) in enumerate(zip(prompt_c, prompt_r, strict=False)) if a != b),
                    min(len(prompt_c), len(prompt_r)))
        problems.append(FieldProblem(f"{keys[1]}[{turn}]", f"the prompt differs from the prompt of {keys[0]} at turn "
                                     f"{turn + 1}; a pair's chosen and rejected answer the same prompt"))
    return prompt_c, chosen[start_c:], rejected[start_r:]


def _check_reply(turns: list[dict] | None, key: str, problems: list[FieldProblem]) -> None:
    if turns is not None and (not turns or turns[0].get("role") != "assistant"
                              or any(t.get("role") not in ("assistant", *TOOL_ROLES) for t in turns)):
        problems.append(FieldProblem(key, "must be the assistant's reply (assistant and tool turns only)"))


def _same(chosen: list[dict], rejected: list[dict]) -> bool:
    return [(t.get("content"), t.get("tool_calls")) for t in chosen] == [(t.get("content"), t.get("tool_calls")) for t in rejected]


def pair_record(problems: list[FieldProblem], row: dict, prompt: list[dict] | None, chosen: list[dict] | None,
                rejected: list[dict] | None, keys: tuple[str, str], kind: str = "response", notes: list[str] | None = None,
                tools: list | None = None, input_text: str | None = None) -> SampleRecord:
    """The sample of a preference row (its prompt and chosen reply) with its pair; RowError when anything is wrong,
    SkipRow when chosen and rejected are the same."""
    _check_reply(chosen, keys[0], problems)
    _check_reply(rejected, keys[1], problems)
    if problems or prompt is None:
        raise RowError(problems or [FieldProblem("prompt", "missing")])
    turns = prompt + (chosen or [])
    if prompt[-1].get("role") != "user":
        problems.append(FieldProblem("prompt", "must end with a user turn (a prompt that continues an assistant "
                                     "message is not read: join that message into the completions)"))
    else:
        checked(turns, "prompt", problems)
    if chosen and rejected and _same(chosen, rejected):
        raise SkipRow(SAME_TEXT)
    found = make_record(problems, row, turns=turns, tools=tools, input=input_text)
    found.pair = PreferencePair(rejected, chosen is not None, kind)
    found.notes = notes or []
    return found


def read_dpo(row: dict) -> SampleRecord:
    """TRL DPO rows, standard or conversational, explicit or implicit prompt; LLaMA-Factory's Alpaca preference rows."""
    problems: list[FieldProblem] = []
    notes: list[str] = []
    keys = ("chosen", "rejected")
    chosen = _completion(row.get("chosen"), "chosen", problems, notes)
    rejected = _completion(row.get("rejected"), "rejected", problems, notes)
    input_text = None
    whole = chosen and chosen[0].get("role") in ("system", "developer", "user")
    if whole and rejected:  # implicit prompt: both are whole conversations
        prompt, chosen, rejected = _split_conversations(chosen, rejected, keys, problems)
        stated = row.get("prompt")
        if isinstance(stated, str) and prompt and prompt[-1].get("content") != stated:
            problems.append(FieldProblem("prompt", "differs from the last user turn of chosen and rejected"))
    elif "prompt" in row or "instruction" not in row:
        prompt = _prompt(row.get("prompt"), "prompt", problems, notes)
    else:  # LLaMA-Factory's Alpaca preference layout
        instruction = text_field(row, "instruction", problems)
        input_text = text_field(row, next((k for k in INPUT_KEYS if k in row), "input"), problems, required=False)
        prompt = [{"role": "user", "content": instruction}] if instruction else None
    if prompt and isinstance(row.get("system"), str) and row["system"].strip():
        prompt = [{"role": "system", "content": row["system"]}, *prompt]
    tools = read_tools_field(row, "tools", problems)
    return pair_record(problems, row, prompt, chosen, rejected, keys, notes=notes, tools=tools, input_text=input_text)


def read_kto(row: dict) -> SampleRecord:
    """TRL KTO rows: a prompt, one completion and whether it is desirable (`label`, or LLaMA-Factory's `kto_tag`)."""
    problems: list[FieldProblem] = []
    notes: list[str] = []
    label_key = "label" if "label" in row else "kto_tag"
    label = row.get(label_key)
    if not isinstance(label, bool):
        problems.append(FieldProblem(label_key, f"{label!r} is not true or false"))
    prompt_key = "prompt" if "prompt" in row else "instruction"
    prompt = _prompt(row.get(prompt_key), prompt_key, problems, notes)
    completion_key = "completion" if "completion" in row else "output"
    completion = _completion(row.get(completion_key), completion_key, problems, notes)
    tools = read_tools_field(row, "tools", problems)
    chosen, rejected = (completion, None) if label else (None, completion)
    return pair_record(problems, row, prompt, chosen, rejected, (completion_key, completion_key), "unpaired", notes, tools)


def read_sharegpt_preference(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    prompt = with_system_field(row, read_sharegpt_turns(row.get("conversations"), "conversations", problems),
                               "conversations", problems)
    chosen = _completion(row.get("chosen"), "chosen", problems, [])
    rejected = _completion(row.get("rejected"), "rejected", problems, [])
    tools = read_tools_field(row, "tools", problems)
    return pair_record(problems, row, prompt, chosen, rejected, ("chosen", "rejected"), tools=tools)


def read_openai_preference(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    notes: list[str] = []
    given = row.get("input")
    if not isinstance(given, dict):
        raise RowError([FieldProblem("input", "must be an object with 'messages'")])
    prompt = read_messages(given.get("messages"), "input.messages", problems, notes)
    chosen = _completion(row.get("preferred_output"), "preferred_output", problems, notes)
    rejected = _completion(row.get("non_preferred_output"), "non_preferred_output", problems, notes)
    tools = read_tools_field(given, "tools", problems)
    return pair_record(problems, row, prompt, chosen, rejected, ("preferred_output", "non_preferred_output"),
                       notes=notes, tools=tools)


def read_messages_preference(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    notes: list[str] = []
    keys = ("chosen_messages", "rejected_messages")
    chosen = read_messages(row.get(keys[0]), keys[0], problems, notes)
    rejected = read_messages(row.get(keys[1]), keys[1], problems, notes)
    prompt, chosen_reply, rejected_reply = _split_conversations(chosen, rejected, keys, problems)
    tools = read_tools_field(row, "tools", problems)
    return pair_record(problems, row, prompt or None, chosen_reply, rejected_reply, keys, notes=notes, tools=tools)


# ---------------------------------------------------------------- writing


def _pair(record: SampleRecord, paired: bool = True) -> PreferencePair:
    if record.pair is None:
        raise Skip(NO_PAIR)
    if paired and (not record.pair.chosen or record.pair.rejected is None):
        raise Skip(NOT_PAIRED)
    return record.pair


def _with_prefix(turns: list[dict], prefix: list[str]) -> list[dict]:
    """A Step-DPO completion as whole messages: the shared correct steps, then the step."""
    if not prefix:
        return turns
    return [{**turns[0], "content": STEP_SEPARATOR.join([*prefix, turns[0].get("content") or ""])}, *turns[1:]]


def completions(record: SampleRecord) -> tuple[list[dict] | None, list[dict] | None]:
    """(chosen, rejected) as whole assistant messages (None for the missing side of an unpaired row)."""
    pair = _pair(record, paired=False)
    chosen = _with_prefix(record.reply_turns, pair.prefix) if pair.chosen else None
    rejected = _with_prefix(pair.rejected, pair.prefix) if pair.rejected is not None else None
    if chosen is not None and not chosen:
        raise Skip(NO_REPLY)
    return chosen, rejected


def _prompt_text(record: SampleRecord) -> str:
    """The standard layout's prompt: the one user turn (with its input), then a Step-DPO pair's shared steps."""
    prompt = message_turns(text_only(record.prompt_turns), record.input)
    if len(prompt) != 1:
        raise Skip(PROMPT_TURNS)
    if record.tools:
        raise Skip(HAS_TOOLS)
    prefix = record.pair.prefix if record.pair else []
    return prompt[0]["content"] + (f"\n\n{STEP_SEPARATOR.join(prefix)}\n" if prefix else "")


def _text(turns: list[dict]) -> str:
    """One assistant message's text (the standard layouts)."""
    written = message_turns(text_only(turns))
    if len(written) != 1:
        raise Skip(ONE_MESSAGE)
    if calls_tool(written[0]):
        raise Skip(HAS_TOOLS)
    return written[0]["content"]


def _one_message(turns: list[dict]) -> list[dict]:
    if len(turns) != 1:
        raise Skip(ONE_MESSAGE)
    return turns


def write_dpo(record: SampleRecord) -> dict:
    pair = _pair(record)
    return {"prompt": _prompt_text(record), "chosen": _text(record.reply_turns), "rejected": _text(pair.rejected)}


def _messages_row(record: SampleRecord, row: dict) -> dict:
    if record.tools:
        row["tools"] = record.tools
    return row


def write_dpo_conversational(record: SampleRecord) -> dict:
    _pair(record)
    chosen, rejected = completions(record)
    return _messages_row(record, {"prompt": message_turns(record.prompt_turns, record.input),
                                  "chosen": message_turns(chosen), "rejected": message_turns(rejected)})


def write_kto(record: SampleRecord) -> dict:
    pair = _pair(record, paired=False)
    if pair.chosen and pair.rejected is not None:
        raise Skip("a paired row (the export unpairs pairs before writing KTO)")
    return {"prompt": _prompt_text(record), "completion": _text(record.reply_turns if pair.chosen else pair.rejected),
            "label": pair.chosen}


def write_kto_conversational(record: SampleRecord) -> dict:
    chosen, rejected = completions(record)
    if chosen is not None and rejected is not None:
        raise Skip("a paired row (the export unpairs pairs before writing KTO)")
    return _messages_row(record, {"prompt": message_turns(record.prompt_turns, record.input),
                                  "completion": message_turns(chosen if chosen is not None else rejected),
                                  "label": chosen is not None})


def write_sharegpt_preference(record: SampleRecord) -> dict:
    _pair(record)
    chosen, rejected = completions(record)
    prompt = message_turns(text_only(record.prompt_turns[1:] if record.system else record.prompt_turns), record.input)
    row = {"conversations": [sharegpt_entry(t) for t in prompt],
           "chosen": sharegpt_entry(message_turns(text_only(_one_message(chosen)))[0]),
           "rejected": sharegpt_entry(message_turns(text_only(_one_message(rejected)))[0])}
    return sharegpt_fields(record, row)


def write_openai_preference(record: SampleRecord) -> dict:
    _pair(record)
    chosen, rejected = completions(record)
    given: dict = {"messages": message_turns(record.prompt_turns, record.input)}
    if record.tools:
        given["tools"] = record.tools
    return {"input": given, "preferred_output": message_turns(_one_message(chosen)),
            "non_preferred_output": message_turns(_one_message(rejected))}


def unpaired(record: SampleRecord) -> list[SampleRecord]:
    """A pair as TRL's unpaired rows (TRL's `unpair_preference_dataset`): its chosen completion labelled desirable
    and its rejected one undesirable; an unpaired row as it is."""
    pair = _pair(record, paired=False)
    if pair.kind == "unpaired" or not (pair.chosen and pair.rejected is not None):
        return [record]
    base = {**record.__dict__, "pair": None}
    return [SampleRecord(**{**base, "pair": PreferencePair(None, True, "unpaired", list(pair.prefix))}),
            SampleRecord(**{**base, "turns": list(record.prompt_turns),
                            "pair": PreferencePair(pair.rejected, False, "unpaired", list(pair.prefix))})]

