"""The dataset card: Markdown with the Hugging Face YAML header, describing how an export was made.

One card per export, named after its file (workbench.export.engine.card_path: `approved.jsonl` ->
`approved.README.md`); its header's `configs.data_files` names the file it describes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import yaml

from workbench.core.wording import plural

SIZE_BOUNDS = [
    (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
]
FORMAT_NAMES = {
    "openai": "OpenAI chat JSONL (`messages`)",
    "sharegpt": "ShareGPT JSONL (`conversations` with `from`/`value`)",
    "alpaca": "Alpaca JSONL (`instruction`/`input`/`output`)",
    "trl-stepwise": "TRL stepwise supervision JSONL (`prompt`/`completions`/`labels`)",
    "prm800k": "PRM800K-style step ratings JSONL (-1/0/+1 per step)",
    "parquet": "Parquet",
    "dpo": "TRL DPO preference JSONL, standard (`prompt`/`chosen`/`rejected` as text)",
    "dpo-conversational": "TRL DPO preference JSONL, conversational (`prompt`/`chosen`/`rejected` as messages)",
    "kto": "TRL KTO unpaired preference JSONL, standard (`prompt`/`completion`/`label`)",
    "kto-conversational": "TRL KTO unpaired preference JSONL, conversational (`prompt`/`completion` as messages, `label`)",
    "sharegpt-preference": "LLaMA-Factory ShareGPT preference JSONL (`conversations`, `chosen`, `rejected`)",
    "openai-preference": "OpenAI preference fine-tuning JSONL (`input.messages`, `preferred_output`, `non_preferred_output`)",
}
PREFERENCE_FORMATS = ("dpo", "dpo-conversational", "kto", "kto-conversational", "sharegpt-preference", "openai-preference")
PAIR_NAMES = {"response": "response pairs (a path that passed the gate against one that failed)",
              "step": "Step-DPO step pairs (a correct step against the first wrong one, after the same correct steps)",
              "unpaired": "unpaired rows (a completion labelled desirable or not)"}
POLICY_NAMES = {"best_vs_each": "the best passing path against each failing path",
                "best_vs_worst": "the best passing path against the worst failing path",
                "all_pairs": "every passing path against every failing path"}
STEPWISE_FORMATS = ("trl-stepwise", "prm800k")
DEMONSTRATION_TAGS = ["demonstration-data", "not-for-training"]
SOURCE_NAMES = {
    "seed": "hand-curated gold seeds asked as samples (the question is the seed's; the answer the teacher's verified path)",
    "evol": "Evol-Instruct evolutions of the seeds (depth and breadth operators, with elimination)",
    "magpie": "Magpie self-synthesis (the model writes the user turn from a pre-query template)",
    "import": "samples imported from other generators and audited here",
}


@dataclass
class CardInfo:
    """What the export itself contributes to the card."""

    fmt: str
    file_name: str
    written: int
    synthetic: int
    natural: int = 0
    natural_file: str | None = None
    mix_seed: int | None = None
    synthetic_ratio: float | None = None
    status: str | None = "approved"
    pii: str = "block"
    blocked: int = 0
    redacted: int = 0
    license: str = "other"
    pii_entities: list[str] = field(default_factory=list)  # what the PII scan looked for
    calculator_annotations_stripped: bool = False
    decontamination: dict | None = None  # workbench.export.contamination.card_facts; None: no benchmark registered
    answer: str | None = None  # what a chat row's assistant message is (workbench.export.verified_answer); None: not a chat layout
    verified: int | None = None  # rows whose answer passed the gate (None: not known yet, in a preview)
    unverified: dict = field(default_factory=dict)  # why -> rows shipped marked unverified
    left_unverified: dict = field(default_factory=dict)  # why -> samples left out as unverified
    pairs: dict = field(default_factory=dict)  # pair kind -> preference rows
    pairing: dict | None = None  # the pairing settings of a preference export
    trace: str | None = None  # reasoning trace style: None, 'r1' or 'separate'
    trace_tags: tuple[str, str] = ("<think>", "</think>")
    pii_policy: str = ""  # the PII policy in words (workbench.safety.pii.PiiPolicy.describe)
    language: list[str] = field(default_factory=lambda: ["en"])
    pretty_name: str = "Entropy Workbench synthetic dataset"


def people_annotated(facts: dict) -> bool:
    """Whether people labelled a step or decided a sample's status (an automatic decision is the machine's)."""
    return bool(facts["decisions"]["people"]) or bool((facts.get("human_labels") or {}).get("steps"))


def size_category(n: int) -> str:
    return next((label for bound, label in SIZE_BOUNDS if n < bound), "n>1T")


def header(facts: dict, info: CardInfo) -> dict:
    sources = set(facts["by_source"])
    tags = ["synthetic", "entropy-workbench"]
    tags += [tag for source, tag in (("evol", "evol-instruct"), ("magpie", "magpie")) if source in sources]
    if info.fmt in STEPWISE_FORMATS:
        tags.append("process-supervision")
    if info.fmt in PREFERENCE_FORMATS:
        tags += ["preference", "dpo"] if not info.fmt.startswith("kto") else ["preference", "kto"]
    annotators = ["machine-generated"] + (["expert-generated"] if people_annotated(facts) else [])
    pretty_name = info.pretty_name
    if facts.get("demonstration"):
        tags += DEMONSTRATION_TAGS
        pretty_name += " (demonstration data, not for training)"
    return {
        "pretty_name": pretty_name,
        "license": info.license,
        "language": info.language,
        "tags": tags,
        "task_categories": ["text-generation", "question-answering"],
        "size_categories": [size_category(info.written)],
        "annotations_creators": annotators,
        "language_creators": ["machine-generated"] + (["found"] if info.natural else []),
        "configs": [{"config_name": "default", "data_files": info.file_name}],
    }


def _table(rows: list[list], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("—" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def human_label_lines(labels: dict | None, fmt: str) -> list[str]:
    """The card's lines on people's step labels (workbench.verify.calibration.human_label_summary): how many steps, by
    whom, and how far the labellers agree."""
    if labels is None:
        return []
    if not labels["steps"]:
        return ["- Step labels: no reasoning step was labelled by a person; every step rating comes from the "
                "verifiers."] if fmt in STEPWISE_FORMATS else []
    who = ", ".join(f"{row['name']} ({row['steps']:,})" for row in labels["labellers"])
    lines = [f"- Step labels by people: {labels['steps']:,} reasoning steps labelled (PRM800K ratings -1/0/+1) by "
             f"{who}; a person's label comes before the verifiers' in every step rating."]
    shared = labels["agreement"]
    if shared["kappa"] is not None:
        method = "Cohen's" if shared["method"] == "cohen" else "Fleiss'"
        lines.append(f"- Agreement between labellers: {method} kappa {shared['kappa']:.3f} on {shared['n_steps']:,} "
                     "steps labelled by more than one person.")
    else:
        lines.append(f"- Agreement between labellers: not measured ({shared['note']}).")
    return lines


MAX_LISTED_HITS = 100


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def decontamination_section(facts: dict | None) -> list[str]:
    """The card's 'Benchmark decontamination' lines: the test sets, the last scan's settings, and every flagged
    sample left out (or, when let through, exported) with the benchmark item it matches."""
    if facts is None:
        return []
    lines = ["", "## Benchmark decontamination", ""]
    names = ", ".join(f"{b['name']} ({b['n_items']:,} items, field `{b['field']}` of `{b['file']}`)" for b in facts["benchmarks"])
    scan = facts["last_scan"]
    if scan is None:
        lines.append(f"Registered benchmarks: {names or 'none'}. **The samples were never scanned against them.**")
        return lines
    settings = scan["settings"]
    when = datetime.fromtimestamp(scan["at"], tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    rule = f"{settings['ngram']}-gram word overlap >= {settings['min_overlap']:g} of a benchmark item's n-grams"
    rule += f" or embedding cosine similarity >= {settings['min_similarity']:g}" if scan["similarity"] else " (no embedding check)"
    lines.append(f"- Benchmarks: {names or 'none'}.")
    lines.append(f"- Last scan {when} of every seed and sample against {', '.join(scan['benchmarks']) or 'no benchmark'}: "
                 f"flagged at {rule} (the GPT-3 and Llama 2 recipes use 13-grams).")
    hits = facts["hits"]
    samples = len({h["item_id"] for h in hits})
    if facts["policy"] == "block":
        lines.append(f"- {plural(samples, 'flagged sample')} {_was(samples)} left out of this export" + (":" if hits else "."))
    else:
        lines.append(f"- Flagged samples were let through on request: {samples:,} of the exported samples match a "
                     "benchmark item" + (":" if hits else "."))
    if hits:
        rows = [[h["item_id"], h["benchmark"], h["item_index"] + 1, f"{h['ngram_overlap']:.2f}",
                 _number(h["similarity"]), h["match"][:120].replace("|", "\\|").replace("\n", " ")]
                for h in hits[:MAX_LISTED_HITS]]
        lines += ["", _table(rows, ["sample", "benchmark", "item", "n-gram overlap", "cosine", "benchmark item"])]
        if len(hits) > MAX_LISTED_HITS:
            lines.append(f"\n... and {len(hits) - MAX_LISTED_HITS:,} more matches.")
    if facts["unchecked"]:
        unchecked = facts["unchecked"]
        lines.append(f"\n**{plural(unchecked, 'exported sample')} {_was(unchecked)} created or edited after the last scan "
                     f"and {_was(unchecked)} not checked.**")
    return lines


def answer_lines(info: CardInfo) -> list[str]:
    """The card's lines on what the rows teach: whose text each assistant message is and whether it was verified,
    the preference pairs and how they were made, and how reasoning traces are written."""
    lines = []
    if info.answer is not None:
        own = info.answer == "original"
        lines.append("- Assistant messages: " + (
            "each sample's own answer; it counts as verified only when it is the text of a reasoning path that passed "
            "the gate" if own else "the reasoning path that passed the gate (its steps and final answer) where one "
            "did; otherwise the sample's own answer, marked unverified") + ".")
        if info.verified is not None:
            shipped = sum(info.unverified.values())
            lines.append(f"- Verified: {plural(info.verified, 'row')} carry an answer that passed the gate; "
                         f"{plural(shipped, 'row')} carry an unverified answer (lineage `verified: false`)"
                         + (": " + ", ".join(f"{why} ({n:,})" for why, n in info.unverified.items()) if shipped else "")
                         + ".")
        if info.left_unverified:
            lines.append("- Left out as unverified: " + ", ".join(f"{why} ({n:,})" for why, n in info.left_unverified.items())
                         + ".")
    if info.fmt in PREFERENCE_FORMATS and info.pairing:
        lines.append(f"- Preference pairs from the gate: {POLICY_NAMES[info.pairing['policy']]}, at most "
                     f"{info.pairing['max_per_task']:,} per task and kind"
                     + ("; Step-DPO step pairs from each path's first wrong step" if info.pairing["step_pairs"] else "")
                     + "; pairs imported from files are written as they came.")
        if info.pairs:
            lines.append("- Rows: " + ", ".join(f"{n:,} {PAIR_NAMES[kind]}" for kind, n in sorted(info.pairs.items())) + ".")
    if info.trace == "r1":
        lines.append(f"- Reasoning traces: R1-style, between `{info.trace_tags[0]}` and `{info.trace_tags[1]}` at the start "
                     "of the assistant message, followed by the final answer.")
    elif info.trace == "separate":
        lines.append("- Reasoning traces: in each assistant message's `reasoning_content` field; `content` holds the "
                     "final answer.")
    return lines


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def student_section(student: dict | None) -> list[str]:
    """The card's 'The student' lines (workbench.student.report.student_summary): the model the data is for, the
    seeds probed and its pass@1 on them, and the headroom on the approved tasks, overall and per domain."""
    if student is None:
        return []
    lines = ["", "## The student", ""]
    if student["student"] is None:
        lines.append(f"The student (`{student['configured']}`, the model this data is for) was not probed: what it "
                     "fails at, and the headroom of this data, were not measured.")
        return lines
    same = " It is also the teacher that wrote the data." if student["same_as_teacher"] else ""
    seeds, headroom = student["seeds"], student["headroom"]
    lines.append(f"- Student: `{student['student']}`, the model this data is for.{same}")
    lines.append(f"- Gold seeds probed: {seeds['probed']:,}; the student's pass@1 on them: {_share(seeds['pass_at_1'])} "
                 f"(pass@k by Chen et al. 2021's unbiased estimator: {_share(seeds['pass_at_k'])}); "
                 f"{seeds['failed']:,} it fails (a pass rate of at most {student['threshold']:g}).")
    if headroom["probed"]:
        lines.append(f"- Headroom: the student fails {headroom['failed']:,} of the {headroom['probed']:,} approved "
                     f"tasks probed whose answer is verified ({_share(headroom['headroom'])}): what this data can "
                     "teach it that it does not know yet.")
    else:
        lines.append("- Headroom: not measured (no approved task with a verified answer was probed).")
    rows = [[row["domain"], f"{row['seeds_probed']:,}", _share(row["seeds_pass_at_1"]), f"{row['approved_probed']:,}",
             _share(row["headroom"])] for row in student["by_domain"]]
    if rows:
        lines += ["", _table(rows, ["domain", "seeds probed", "student pass@1", "approved tasks probed", "headroom"])]
    return lines


def _names(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} ({n:,})" for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def review_line(decisions: dict) -> str:
    """Who decided the samples' status (store.review.status_deciders): people by name, apart from the automatic decisions
    no person confirmed and the samples with no recorded decision."""
    people, automatic = sum(decisions["people"].values()), sum(decisions["automatic"].values())
    parts = [f"{plural(people, 'sample')} decided by people" + (f" ({_names(decisions['people'])})" if people else "")]
    if automatic:
        parts.append(f"{plural(automatic, 'sample')} decided automatically, not by a person "
                     f"({_names(decisions['automatic'])}), and not confirmed by one")
    if decisions["undecided"]:
        parts.append(f"{plural(decisions['undecided'], 'sample')} with no recorded decision")
    return "- Human review: " + "; ".join(parts) + "."


def teacher_lines(models: list[dict]) -> list[str]:
    """Each teacher model named with what it wrote of these samples (store.export.dataset_facts' `models`)."""
    if not models:
        return ["No model wrote these samples (imported or hand-written only)."]
    lines = []
    for row in models:
        wrote = [f"{plural(row['samples'], 'sample')} (their text)"] if row["samples"] else []
        wrote += [f"the reasoning paths of {plural(row['path_samples'], 'sample')}"] if row["path_samples"] else []
        lines.append(f"- Teacher `{row['model']}` wrote {' and '.join(wrote)}.")
    return lines


def demonstration_lines(models: list[str]) -> list[str]:
    """The card's warning when the bundled demo model wrote any of the data (`models`: those bundled models)."""
    if not models:
        return []
    return ["", f"**Demonstration data, not training data.** Text in this dataset was written by the bundled demo model "
                f"{', '.join(f'`{m}`' for m in models)} (Gemma 3 270M, a small base model run offline): it shows the "
                "pipeline working end to end, not data fit to train a model on. Set a real teacher model for training "
                "data."]


def render(facts: dict, info: CardInfo) -> str:
    """The card's full text. `facts` is store.export.dataset_facts of the samples it describes, with `human_labels`,
    `student` and `demonstration` (the bundled demo models among the teachers) added by the export."""
    body = [f"# {info.pretty_name}", ""]
    body.append(
        f"{plural(info.written, 'row')} in {FORMAT_NAMES.get(info.fmt, info.fmt)}, file `{info.file_name}`, made with Entropy "
        f"Workbench: {plural(info.synthetic, 'synthetic sample')}"
        + (f" mixed with {plural(info.natural, 'natural row')} from `{info.natural_file}`" if info.natural else "")
        + "."
    )
    body += demonstration_lines(facts.get("demonstration") or [])
    body += ["", "## Pipeline", ""]
    body += [f"- **{source}** ({plural(n, 'sample')}): {SOURCE_NAMES.get(source, source)}" for source, n in sorted(facts["by_source"].items())]
    if facts["operators"]:
        body.append("- Last evolution operator of each sample: " + ", ".join(f"{op} ({n:,})" for op, n in facts["operators"].items()))
    if facts["verifiers"]:
        body.append("- Reasoning steps scored by: " + ", ".join(f"`{v}`" for v in facts["verifiers"]))
    body.append(review_line(facts["decisions"]))
    body.append(f"- Exported status: {info.status or 'all'} ("
                + ", ".join(f"{s} {n:,}" for s, n in sorted(facts["by_status"].items())) + ").")
    body += human_label_lines(facts.get("human_labels"), info.fmt)
    pii = (
        f"flagged samples were left out ({info.blocked:,})" if info.pii == "block"
        else f"detected PII was replaced by typed placeholders such as `<EMAIL>` in {plural(info.redacted, 'sample')}"
    )
    looked_for = f" for {', '.join(info.pii_entities)}" if info.pii_entities else ""
    body.append(f"- PII: every sample was scanned with presidio{looked_for}; {pii}.")
    if info.pii_policy:
        body.append(f"- PII policy: {info.pii_policy}")
    body += answer_lines(info)
    if info.calculator_annotations_stripped:
        body.append("- GSM8K calculator annotations (`<<48/2=24>>`) were removed from every text.")
    if info.natural:
        body.append(
            f"- Mix: {info.synthetic_ratio:.0%} synthetic ({info.synthetic:,}) and {plural(info.natural, 'natural row')}, "
            f"shuffled with seed {info.mix_seed}."
        )
    body += decontamination_section(info.decontamination)
    body += student_section(facts.get("student"))
    body += ["", "## Teacher models and parameters", ""]
    body += teacher_lines(facts["models"])
    if facts["teachers"]:
        body.append("")
        body.append(
            _table([[f"`{t['model']}`", f"`{json.dumps(t['params'], sort_keys=True)}`", f"{t['n']:,}"] for t in facts["teachers"]],
                   ["model", "parameters", "samples"])
        )
    body += ["", "## Metric distributions", ""]
    if facts["metrics"]:
        body.append(
            _table([[m["name"], f"{m['n']:,}", _number(m["mean"]), _number(m["min"]), _number(m["max"])] for m in facts["metrics"]],
                   ["metric", "count", "mean", "min", "max"])
        )
        body.append("\nEvery entropy is in bits (token entropy from the teacher's next-token distributions, lexical "
                    "entropy from word frequencies); see the Entropy Workbench docs for each metric.")
    else:
        body.append("No metrics were computed for these samples.")
    front = yaml.safe_dump(header(facts, info), sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n" + "\n".join(body) + "\n"
