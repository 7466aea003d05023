"""Every sample layout we read and write: one reader and one writer per format, used by both import and
export so that the two cannot drift.

A row of any format becomes a `SampleRecord` (the conversation, the seed's input, reasoning steps with
their ratings, and what else the row carries); a writer turns a record back into a row. Layouts:

- `openai`: `{"messages": [{"role", "content"}, ...]}`, system first (OpenAI chat fine-tuning).
- `sharegpt`: `{"conversations": [{"from": "human"|"gpt"|"function_call"|"observation", "value"}], "system"}`
  (ShareGPT as LLaMA-Factory reads it; tool calls are `function_call` turns, tool results `observation`).
- `alpaca`: `{"instruction", "input", "output", "system", "history": [[user, assistant], ...]}` (Stanford
  Alpaca; `system` and `history` as LLaMA-Factory reads them). Also read: `prompt`/`question`/`query`/`problem`
  for the instruction, `response`/`answer`/`completion`/`solution` for the output (GSM8K, MATH, TRL's
  prompt-completion), `context` for the input, and `steps`.
- `trl-stepwise`: `{"prompt", "completions": [step, ...], "labels": [bool, ...]}` (TRL's stepwise supervision).
- `prm800k`: PRM800K's rows `{"question": {"problem", "ground_truth_answer"}, "label": {"steps": [{"completions":
  [{"text", "rating"}], "chosen_completion", "human_completion"}], "finish_reason"}}` (OpenAI, Lightman et al. 2023).
- `processbench`: `{"id", "problem", "steps", "label"}`, label = index of the earliest wrong step or -1
  (Zheng et al. 2024); read only.
- `workbench`: our own columns (Parquet export): source, instruction, input, output, messages, tags, steps,
  step_ratings, plus `lineage_*` and `metric_*` columns.

Step ratings are PRM800K's -1 / 0 / +1 (None: unrated). Read from a file they are human labels; TRL's
True/False read as +1/-1 and are written as rating >= 0. Any row may also carry our export's `lineage`
and `metrics` objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from workbench.core.conversation import (
    TOOL_ROLES,
    FieldProblem,
    calls_tool,
    check_turns,
    with_input,
)
from workbench.core.wording import plural
from workbench.review.sample_record import RowError, SampleRecord, Skip, SkipRow

MAX_STEPS = 200
STEP_SEPARATOR = "\n"  # steps joined into the answer text of a sample read from a stepwise format
SHAREGPT_FROM = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "model": "assistant", "bing": "assistant", "bard": "assistant", "system": "system",
    "observation": "tool", "tool": "tool", "function_call": "assistant",
}
SHAREGPT_ROLE = {"user": "human", "assistant": "gpt", "tool": "observation", "function": "observation"}
INSTRUCTION_KEYS = ("instruction", "prompt", "question", "query", "problem")
OUTPUT_KEYS = ("output", "response", "answer", "completion", "solution")
INPUT_KEYS = ("input", "context")
EXTRA_KEYS = ("lineage", "metrics")

# why a writer leaves a sample out (counted per reason in the export result)
NO_STEPS = "no reasoning steps"
UNRATED = "steps not all rated"
MULTI_TURN = "a multi-turn conversation (this format takes single-turn samples only)"
HAS_SYSTEM = "a system prompt (this format has no place for it)"
NO_REPLY = "no assistant reply"
HAS_TOOLS = "tool turns (this format has no place for them)"
TEXT_AND_CALL = "an assistant turn with both text and tool calls (ShareGPT holds one or the other)"


# ---------------------------------------------------------------- shared checks


def _text(row: dict, key: str, problems: list[FieldProblem], required: bool = True) -> str | None:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(FieldProblem(key, "missing" if value is None else "empty"))
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(FieldProblem(key, "must be text"))
        return None
    return str(value)


def _first_key(row: dict, keys: tuple[str, ...]) -> str:
    return next((k for k in keys if k in row), keys[0])


def _steps(value: object, key: str, problems: list[FieldProblem]) -> list[str]:
    if not isinstance(value, list):
        problems.append(FieldProblem(key, "must be a list of step texts"))
        return []
    if len(value) > MAX_STEPS:
        problems.append(FieldProblem(key, f"has {plural(len(value), 'step')}; the limit is {MAX_STEPS}"))
        return []
    steps = []
    for index, step in enumerate(value):
        text = step.get("text") if isinstance(step, dict) else step
        if not isinstance(text, str) or not text.strip():
            problems.append(FieldProblem(f"{key}[{index}]", "each step must be non-empty text"))
            continue
        steps.append(text)
    return steps


def _ratings(value: object, key: str, count: int, count_key: str, problems: list[FieldProblem]) -> list[int | None]:
    """-1/0/+1 ratings (None: unrated), one per step (`count` of them, called `count_key` in the message)."""
    """-1/0/+1 ratings (None: unrated), one per step."""
    if not isinstance(value, list):
        problems.append(FieldProblem(key, "must be a list with one rating per step"))
        return []
    if len(value) != count:
        problems.append(FieldProblem(key, f"{plural(len(value), 'rating')} for {plural(count, count_key)}; give one per step"))
        return []
    bad = [i for i, r in enumerate(value) if r is not None and (isinstance(r, bool) or r not in (-1, 0, 1))]
    if bad:
        problems.append(FieldProblem(f"{key}[{bad[0]}]", f"{value[bad[0]]!r} is not a rating (-1, 0, 1 or null)"))
        return []
    return [None if r is None else int(r) for r in value]


def _checked(turns: list[dict], key: str, problems: list[FieldProblem], role_key: str = "role",
             content_key: str = "content") -> list[dict]:
    problems += check_turns(turns, key, role_key, content_key)
    return turns


def _extras(row: dict, problems: list[FieldProblem]) -> dict:
    """Our export's `lineage` and `metrics` objects on a row of any format."""
    extras: dict = {}
    lineage, metrics = row.get("lineage"), row.get("metrics")
    if lineage is not None:
        if isinstance(lineage, dict):
            extras["lineage"] = lineage
        else:
            problems.append(FieldProblem("lineage", "must be an object"))
    if metrics is not None:
        if isinstance(metrics, dict) and all(v is None or isinstance(v, int | float) for v in metrics.values()):
            extras["metrics"] = {str(k): v for k, v in metrics.items()}
        else:
            problems.append(FieldProblem("metrics", "must be an object of numbers"))
    return extras


def _record(problems: list[FieldProblem], row: dict, **fields: object) -> SampleRecord:
    extras = _extras(row, problems)
    if problems:
        raise RowError(problems)
    lineage = extras.get("lineage")
    source = fields.pop("source", None) or (lineage or {}).get("origin") or (lineage or {}).get("source")
    return SampleRecord(**fields, source=source, lineage=lineage, metrics=extras.get("metrics"))


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- OpenAI messages


def read_openai(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RowError([FieldProblem("messages", "must be a non-empty list of {role, content} objects")])
    turns = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            problems.append(FieldProblem(f"messages[{index}]", "must be an object with 'role' and 'content'"))
            continue
        turns.append(dict(message))
    if not problems:
        _checked(turns, "messages", problems)
    return _record(problems, row, turns=turns)


def _ordered(turn: dict) -> dict:
    """A turn with OpenAI's key order: role, content, then the rest as they came."""
    return {"role": turn["role"], "content": turn.get("content"), **{k: v for k, v in turn.items() if k not in ("role", "content")}}


def write_openai(record: SampleRecord) -> dict:
    turns = [_ordered(t) for t in record.turns]
    if record.input:
        first_user = next(i for i, t in enumerate(turns) if t["role"] == "user")
        turns[first_user]["content"] = with_input(turns[first_user]["content"], record.input)
    return {"messages": turns}


# ---------------------------------------------------------------- ShareGPT


def _sharegpt_turn(entry: dict) -> dict:
    """A ShareGPT entry as an OpenAI turn; a function_call's JSON value becomes the turn's tool_calls.
    Raises ValueError for a function_call value that is not a JSON call."""
    sender = str(entry["from"]).lower()
    if sender != "function_call":
        return {"role": SHAREGPT_FROM[sender], "content": entry.get("value")}
    try:
        call = json.loads(entry.get("value"))
    except (TypeError, json.JSONDecodeError):
        call = None
    calls = call if isinstance(call, list) else [call]
    if not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        raise ValueError("a function_call value must be a JSON object {name, arguments} (or a list of them)")
    return {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c.get("arguments"), str)
                                          else _dumps(c.get("arguments", {}))}} for c in calls
    ]}


def read_sharegpt(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    entries = row.get("conversations")
    if not isinstance(entries, list) or not entries:
        raise RowError([FieldProblem("conversations", "must be a non-empty list of {from, value} objects")])
    turns = []
    for index, entry in enumerate(entries):
        where = f"conversations[{index}]"
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
    system = _text(row, "system", problems, required=False)
    if system is not None:
        if turns and turns[0]["role"] == "system":
            problems.append(FieldProblem("system", "a system prompt both in 'system' and in the conversation"))
        turns.insert(0, {"role": "system", "content": system})
    if not problems:
        offset = 1 if system is not None else 0
        for problem in check_turns(turns, "conversations", "from", "value"):
            problems.append(_shift(problem, offset) if offset else problem)
    return _record(problems, row, turns=turns)


def _shift(problem: FieldProblem, offset: int) -> FieldProblem:
    """A problem found after the `system` field was put first, named by its index in `conversations`."""
    head, _, tail = problem.field.partition("]")
    prefix, _, index = head.partition("[")
    return FieldProblem(f"{prefix}[{int(index) - offset}]{tail}", problem.message) if index.isdigit() else problem


def _sharegpt_entry(turn: dict) -> dict:
    if calls_tool(turn):
        if (turn.get("content") or "").strip():
            raise Skip(TEXT_AND_CALL)
        calls = [c.get("function", c) for c in turn.get("tool_calls") or [turn.get("function_call")]]
        values = [{"name": c.get("name"), "arguments": _parsed(c.get("arguments"))} for c in calls]
        return {"from": "function_call", "value": _dumps(values[0] if len(values) == 1 else values)}
    return {"from": SHAREGPT_ROLE[turn["role"]], "value": turn["content"]}


def _parsed(arguments: object) -> object:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments


def write_sharegpt(record: SampleRecord) -> dict:
    turns = write_openai(SampleRecord(turns=record.conversation, input=record.input))["messages"]
    row: dict = {"conversations": [_sharegpt_entry(t) for t in turns]}
    if record.system:
        row["system"] = record.system
    return row


# ---------------------------------------------------------------- Alpaca


def read_alpaca(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    instruction = _text(row, _first_key(row, INSTRUCTION_KEYS), problems)
    output = _text(row, _first_key(row, OUTPUT_KEYS), problems)
    input_text = _text(row, _first_key(row, INPUT_KEYS), problems, required=False)
    system = _text(row, "system", problems, required=False)
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
    steps = _steps(row["steps"], "steps", problems) if row.get("steps") is not None else []
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
    return _record(problems, row, turns=turns, input=None if history else input_text, steps=steps,
                   ratings=[None] * len(steps), source=source, tags=list(tags), metadata=dict(metadata))


def _pairs(record: SampleRecord) -> list[tuple[str, str]]:
    turns = write_openai(SampleRecord(turns=record.conversation, input=record.input))["messages"]
    if any(t["role"] in TOOL_ROLES or calls_tool(t) for t in turns):
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


# ---------------------------------------------------------------- TRL stepwise supervision


def read_trl_stepwise(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    prompt = _text(row, "prompt", problems)
    steps = _steps(row.get("completions"), "completions", problems)
    labels = row.get("labels")
    ratings: list[int | None] = []
    if not isinstance(labels, list):
        problems.append(FieldProblem("labels", "must be a list of true/false, one per completion"))
    elif steps and len(labels) != len(steps):
        problems.append(FieldProblem("labels", f"{plural(len(labels), 'label')} for {plural(len(steps), 'completion')}; "
                                     "give one per step"))
    elif not all(isinstance(label, bool) for label in labels):
        bad = next(i for i, label in enumerate(labels) if not isinstance(label, bool))
        problems.append(FieldProblem(f"labels[{bad}]", f"{labels[bad]!r} is not true or false"))
    else:
        ratings = [1 if label else -1 for label in labels]
    if not steps and not problems:
        problems.append(FieldProblem("completions", "no steps"))
    turns = [{"role": "user", "content": prompt}, {"role": "assistant", "content": STEP_SEPARATOR.join(steps)}]
    return _record(problems, row, turns=turns, steps=steps, ratings=ratings)


def _single_turn_steps(record: SampleRecord) -> list[int]:
    """The ratings of a single-turn sample whose every step is rated; Skip otherwise."""
    if record.system:
        raise Skip(HAS_SYSTEM)
    if len(record.conversation) > 2:
        raise Skip(MULTI_TURN)
    if not record.steps:
        raise Skip(NO_STEPS)
    if any(r is None for r in record.ratings):
        raise Skip(UNRATED)
    return list(record.ratings)


def write_trl_stepwise(record: SampleRecord) -> dict:
    """A step is labelled True unless it was rated -1 (neutral 0 counts as not wrong)."""
    ratings = _single_turn_steps(record)
    return {"prompt": with_input(record.instruction, record.input), "completions": list(record.steps),
            "labels": [r >= 0 for r in ratings]}


# ---------------------------------------------------------------- PRM800K


def _epoch(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _prm800k_step(step: object, index: int, problems: list[FieldProblem]) -> tuple[str, int | None, list, str | None] | None:
    """(text, rating, alternatives not taken, human completion beside it) of one PRM800K step: its chosen
    completion (with the human completion written for it, if any), else its human completion (a person's
    replacement step: rated +1 unless it says otherwise), else its only completion."""
    where = f"label.steps[{index}]"
    if not isinstance(step, dict) or not isinstance(step.get("completions"), list):
        problems.append(FieldProblem(where, "must be an object with a 'completions' list"))
        return None
    completions, chosen, human = step["completions"], step.get("chosen_completion"), step.get("human_completion")
    beside = None
    if chosen is not None:
        if not isinstance(chosen, int) or not 0 <= chosen < len(completions):
            problems.append(FieldProblem(f"{where}.chosen_completion", f"{chosen!r} is not an index of its completions"))
            return None
        taken, rest = completions[chosen], completions[:chosen] + completions[chosen + 1 :]
        beside = human.get("text") if isinstance(human, dict) else None
        if beside is not None and (not isinstance(beside, str) or not beside.strip()):
            problems.append(FieldProblem(f"{where}.human_completion.text", "must be non-empty text"))
            return None
    elif isinstance(human, dict):
        taken, rest = {**human, "rating": 1 if human.get("rating") is None else human["rating"]}, completions
    elif completions:
        taken, rest = completions[0], completions[1:]
    else:
        problems.append(FieldProblem(where, "no completion"))
        return None
    text, rating = taken.get("text") if isinstance(taken, dict) else None, taken.get("rating") if isinstance(taken, dict) else None
    if not isinstance(text, str) or not text.strip():
        problems.append(FieldProblem(f"{where}.completions", "the step's text is missing or empty"))
        return None
    if rating is not None and (isinstance(rating, bool) or rating not in (-1, 0, 1)):
        problems.append(FieldProblem(f"{where}.completions.rating", f"{rating!r} is not -1, 0, 1 or null"))
        return None
    return text, rating, rest, beside


def read_prm800k(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    question, label = row.get("question"), row.get("label")
    if not isinstance(question, dict):
        raise RowError([FieldProblem("question", "must be an object with 'problem'")])
    if not isinstance(label, dict) or not isinstance(label.get("steps"), list):
        raise RowError([FieldProblem("label.steps", "must be a list of rated steps")])
    ended = next((i for i, s in enumerate(label["steps"]) if isinstance(s, dict) and not s.get("completions")
                  and not s.get("human_completion")), None)
    if ended is not None:  # the labeller stopped at a step nobody wrote: the solution ends before it
        label = {**label, "steps": label["steps"][:ended]}
    if not label["steps"]:
        raise SkipRow(f"PRM800K row without steps (finish_reason {label.get('finish_reason')!r})")
    problem = _text(question, "problem", problems)
    if problems:
        problems = [FieldProblem(f"question.{p.field}", p.message) for p in problems]
    answer = question.get("ground_truth_answer")
    if answer is not None and not isinstance(answer, str):
        problems.append(FieldProblem("question.ground_truth_answer", "must be text"))
    read = [_prm800k_step(step, i, problems) for i, step in enumerate(label["steps"])]
    if len(read) > MAX_STEPS:
        problems.append(FieldProblem("label.steps", f"has {plural(len(read), 'step')}; the limit is {MAX_STEPS}"))
    steps = [r[0] for r in read if r]
    extra = {k: v for k, v in row.items() if k not in ("question", "label", *EXTRA_KEYS)}
    extra.update({k: v for k, v in label.items() if k != "steps"})
    extra.update({f"question.{k}": v for k, v in question.items() if k not in ("problem", "ground_truth_answer")})
    alternatives = {str(i): r[2] for i, r in enumerate(read) if r and r[2]}
    if alternatives:
        extra["alternatives"] = alternatives
    turns = [{"role": "user", "content": problem},
             {"role": "assistant", "content": answer if answer else STEP_SEPARATOR.join(steps)}]
    kept = [r for r in read if r]
    return _record(problems, row, turns=turns, steps=steps, ratings=[r[1] for r in kept],
                   metadata={"prm800k": extra} if extra else {}, labeller=row.get("labeler") or None,
                   labelled_at=_epoch(row.get("timestamp")),
                   human_completions={i: r[3] for i, r in enumerate(kept) if r[3] is not None})


def ground_truth_answer(record: SampleRecord) -> str | None:
    """The final answer a PRM800K row names as its ground truth: the task's reference answer, else the answer the
    sample's output states ('#### 18', '\\boxed{18}', 'The answer is 18'), else the output itself when it is one
    short line (a bare answer such as '18'); None when there is none (a worked text that states no answer)."""
    from workbench.seeds.answer_extraction import extract_final_answer
    from workbench.verify.verifiers.consistency import comparable_reference

    if record.reference_answer and record.reference_answer.strip():
        return record.reference_answer.strip()
    output = record.output or ""
    stated = extract_final_answer(output)
    if stated:
        return stated
    return output.strip() if comparable_reference(output) else None


def _human_completion(text: str | None) -> dict | None:
    return None if text is None else {"text": text, "rating": None, "source": "human", "flagged": False,
                                      "corrected_rating": None}


def write_prm800k(record: SampleRecord) -> dict:
    """PRM800K's layout: the question with its final answer as ground truth, then one rated completion per step
    (the step the path took, chosen) with the corrected step a labeller wrote for it as `human_completion`;
    finish_reason found_error at a -1."""
    ratings = _single_turn_steps(record)
    return {
        "question": {"problem": with_input(record.instruction, record.input),
                     "ground_truth_answer": ground_truth_answer(record)},
        "label": {
            "steps": [
                {"completions": [{"text": text, "rating": rating, "flagged": False}],
                 "human_completion": _human_completion(record.human_completions.get(index)), "chosen_completion": 0}
                for index, (text, rating) in enumerate(zip(record.steps, ratings, strict=True))
            ],
            "finish_reason": "found_error" if -1 in ratings else "solution",
        },
    }


# ---------------------------------------------------------------- ProcessBench (read only)


def read_processbench(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    problem = _text(row, "problem", problems)
    steps = _steps(row.get("steps"), "steps", problems)
    label = row.get("label")
    ratings: list[int | None] = []
    if not steps and not problems:
        problems.append(FieldProblem("steps", "no steps"))
    elif isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < max(len(steps), 1):
        problems.append(FieldProblem("label", f"{label!r} is not -1 (no wrong step) or a step index (0..{len(steps) - 1})"))
    else:  # steps before the earliest error are right, it is wrong, the ones after it were not judged
        ratings = [1] * len(steps) if label == -1 else [1] * label + [-1] + [None] * (len(steps) - label - 1)
    extra = {k: v for k, v in row.items() if k not in ("problem", "steps", "label", *EXTRA_KEYS)}
    turns = [{"role": "user", "content": problem}, {"role": "assistant", "content": STEP_SEPARATOR.join(steps)}]
    return _record(problems, row, turns=turns, steps=steps, ratings=ratings,
                   metadata={"processbench": extra} if extra else {})


# ---------------------------------------------------------------- our own columns (Parquet)


def read_workbench(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    messages = row.get("messages")
    if messages:
        turns = []
        for index, message in enumerate(messages if isinstance(messages, list) else []):
            extra = message.get("extra") if isinstance(message, dict) else None
            try:
                turns.append({"role": message.get("role"), "content": message.get("content"),
                              **(json.loads(extra) if extra else {})})
            except (AttributeError, json.JSONDecodeError):
                problems.append(FieldProblem(f"messages[{index}]", "must be {role, content, extra (JSON or null)}"))
        if not isinstance(messages, list):
            problems.append(FieldProblem("messages", "must be a list"))
        elif not problems:
            _checked(turns, "messages", problems)
    else:
        instruction = _text(row, "instruction", problems)
        output = _text(row, "output", problems, required=False)
        turns = [{"role": "user", "content": instruction}] + ([{"role": "assistant", "content": output}] if output else [])
    steps = _steps(row.get("steps") or [], "steps", problems)
    ratings = _ratings(row.get("step_ratings") if row.get("step_ratings") is not None else [None] * len(steps),
                       "step_ratings", len(steps), "step", problems)
    tags = row.get("tags") or []
    lineage = {k.removeprefix("lineage_"): v for k, v in row.items() if k.startswith("lineage_")}
    if isinstance(lineage.get("teacher_params"), str):
        lineage["teacher_params"] = json.loads(lineage["teacher_params"])
    metrics = {k.removeprefix("metric_"): v for k, v in row.items() if k.startswith("metric_") and v is not None}
    record = _record(problems, {"lineage": lineage or None, "metrics": metrics or None}, turns=turns,
                     input=row.get("input") or None, steps=steps, ratings=ratings, source=row.get("source"), tags=list(tags))
    return record


def write_workbench(record: SampleRecord) -> dict:
    messages = [{"role": t["role"], "content": t.get("content"),
                 "extra": _dumps({k: v for k, v in t.items() if k not in ("role", "content")}) if set(t) - {"role", "content"}
                 else None} for t in record.turns]
    return {"source": record.source, "instruction": record.instruction, "input": record.input,
            "output": record.output, "messages": messages, "tags": list(record.tags), "steps": list(record.steps),
            "step_ratings": list(record.ratings)}


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class SampleFormat:
    """A layout: its name, a label for people, how a row of it is recognised, its reader and writer.

    `matches` looks only for the layout's telling key, so a row missing another field is read by its
    format's reader and the message names that field. `known`: the fields the reader takes (None: it keeps
    every other field itself); import keeps the rest in the sample's metadata. `needs_reply`: the writer
    drops a trailing user turn (counted by the export); `stepwise`: it holds rated reasoning steps, so
    natural rows cannot be mixed in."""

    name: str
    label: str
    matches: Callable[[dict], bool]
    read: Callable[[dict], SampleRecord]
    write: Callable[[SampleRecord], dict] | None
    known: frozenset[str] | None
    needs_reply: bool = False
    stepwise: bool = False

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


FORMATS: dict[str, SampleFormat] = {  # in the order detection tries them
    f.name: f
    for f in (
        SampleFormat("workbench", "Entropy Workbench columns (instruction, messages, steps, step_ratings)",
                     lambda row: "step_ratings" in row, read_workbench, write_workbench,
                     frozenset({"source", "instruction", "input", "output", "messages", "tags", "steps", "step_ratings"})),
        SampleFormat("openai", "OpenAI chat (messages)", lambda row: "messages" in row, read_openai, write_openai,
                     frozenset({"messages", *EXTRA_KEYS})),
        SampleFormat("sharegpt", "ShareGPT (conversations)", lambda row: "conversations" in row, read_sharegpt,
                     write_sharegpt, frozenset({"conversations", "system", *EXTRA_KEYS}), needs_reply=True),
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
            "`labels` (TRL stepwise), `question`+`label` objects (PRM800K) or `problem`+`steps`+`label` (ProcessBench)")
