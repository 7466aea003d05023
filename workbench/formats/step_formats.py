"""The stepwise layouts' readers and writers: TRL stepwise supervision, PRM800K, ProcessBench (read only) and our
own columns (listed in workbench.formats.sample_formats).

- `trl-stepwise`: `{"prompt", "completions": [step, ...], "labels": [bool, ...]}` (TRL's stepwise supervision).
- `prm800k`: PRM800K's rows `{"question": {"problem", "ground_truth_answer"}, "label": {"steps": [{"completions":
  [{"text", "rating"}], "chosen_completion", "human_completion"}], "finish_reason"}}` (OpenAI, Lightman et al. 2023).
- `processbench`: `{"id", "problem", "steps", "label"}`, label = index of the earliest wrong step or -1
  (Zheng et al. 2024); read only.
- `workbench`: our own columns (Parquet export): source, instruction, input, output, messages, tags, steps,
  step_ratings, plus `lineage_*` and `metric_*` columns.

Step ratings are PRM800K's -1 / 0 / +1 (None: unrated). Read from a file they are human labels; TRL's
True/False read as +1/-1 and are written as rating >= 0.
"""

from __future__ import annotations

import json
from datetime import datetime

from workbench.core.conversation import FieldProblem, with_input
from workbench.core.wording import plural
from workbench.formats.chat_formats import HAS_TOOLS, text_only
from workbench.formats.row_fields import (
    EXTRA_KEYS,
    MAX_STEPS,
    STEP_SEPARATOR,
    checked,
    dumps,
    make_record,
    ratings_field,
    steps_field,
    text_field,
)
from workbench.formats.sample_record import RowError, SampleRecord, Skip, SkipRow

# why a writer leaves a sample out (counted per reason in the export result)
NO_STEPS = "no reasoning steps"
UNRATED = "steps not all rated"
MULTI_TURN = "a multi-turn conversation (this format takes single-turn samples only)"
HAS_SYSTEM = "a system prompt (this format has no place for it)"


# ---------------------------------------------------------------- TRL stepwise supervision


def read_trl_stepwise(row: dict) -> SampleRecord:
    problems: list[FieldProblem] = []
    prompt = text_field(row, "prompt", problems)
    steps = steps_field(row.get("completions"), "completions", problems)
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
    return make_record(problems, row, turns=turns, steps=steps, ratings=ratings)


def _single_turn_steps(record: SampleRecord) -> list[int]:
    """The ratings of a single-turn sample whose every step is rated; Skip otherwise."""
    text_only(record.turns)  # Skip(NON_TEXT) for an image in the question: this layout holds text only
    if record.system:
        raise Skip(HAS_SYSTEM)
    if record.tools:
        raise Skip(HAS_TOOLS)
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
    problem = text_field(question, "problem", problems)
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
    return make_record(problems, row, turns=turns, steps=steps, ratings=[r[1] for r in kept],
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
    problem = text_field(row, "problem", problems)
    steps = steps_field(row.get("steps"), "steps", problems)
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
    return make_record(problems, row, turns=turns, steps=steps, ratings=ratings,
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
            checked(turns, "messages", problems)
    else:
        instruction = text_field(row, "instruction", problems)
        output = text_field(row, "output", problems, required=False)
        turns = [{"role": "user", "content": instruction}] + ([{"role": "assistant", "content": output}] if output else [])
    steps = steps_field(row.get("steps") or [], "steps", problems)
    ratings = ratings_field(row.get("step_ratings") if row.get("step_ratings") is not None else [None] * len(steps),
                       "step_ratings", len(steps), "step", problems)
    tags = row.get("tags") or []
    lineage = {k.removeprefix("lineage_"): v for k, v in row.items() if k.startswith("lineage_")}
    if isinstance(lineage.get("teacher_params"), str):
        lineage["teacher_params"] = json.loads(lineage["teacher_params"])
    metrics = {k.removeprefix("metric_"): v for k, v in row.items() if k.startswith("metric_") and v is not None}
    tools = json.loads(row["tools"]) if isinstance(row.get("tools"), str) else None
    return make_record(problems, {"lineage": lineage or None, "metrics": metrics or None}, turns=turns,
                       input=row.get("input") or None, steps=steps, ratings=ratings, source=row.get("source"),
                       tags=list(tags), tools=tools)


def write_workbench(record: SampleRecord) -> dict:
    messages = [{"role": t["role"], "content": t.get("content"),
                 "extra": dumps({k: v for k, v in t.items() if k not in ("role", "content")}) if set(t) - {"role", "content"}
                 else None} for t in record.turns]
    return {"source": record.source, "instruction": record.instruction, "input": record.input,
            "output": record.output, "messages": messages, "tags": list(record.tags), "steps": list(record.steps),
            "step_ratings": list(record.ratings), "tools": json.dumps(record.tools, ensure_ascii=False) if record.tools else None}
