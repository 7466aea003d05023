"""The `workbench` commands of the magpie stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli_common import add_bypass_cache_flag
from workbench.core.queries.jobs import DONE
from workbench.core.wording import plural
from workbench.store import Store


def cmd_magpie(args: argparse.Namespace, store: Store) -> int:
    """Queue a magpie job and, unless --no-wait, run it here and print what was kept and dropped."""
    from workbench.core.jobs.worker import run_worker
    from workbench.core.settings import teacher_config
    from workbench.magpie.engine import (
        TemplateError,
        all_templates,
        chat_only_error,
        detect_template,
        get_template,
        summarise_reasons,
    )
    from workbench.magpie.job import submit_magpie

    if args.list_templates:
        for name, template in all_templates(store).items():
            kind = "built-in" if template.builtin else "custom"
            print(f"{name:<12} {kind:<9} {template.description}  pre-query: {template.pre_query(add_bos=True)!r}")
        return 0
    overrides = {k: v for k, v in {"model": args.model, "api_base": args.api_base}.items() if v}
    config = teacher_config(store, overrides)
    if message := chat_only_error(config):
        print(f"Magpie needs raw text completion. {message}", file=sys.stderr)
        return 2
    name = args.template or detect_template(config.model)[0]
    if name is None:
        print(f"cannot tell the chat template of {config.model}; name one with --template "
              "(see --list-templates)", file=sys.stderr)
        return 2
    try:
        template = get_template(name, store)
    except TemplateError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    options = {
        "n": args.n, "turns": args.turns, "system": args.system, "query_temperature": args.query_temperature,
        "query_top_p": args.query_top_p, "answer_temperature": args.answer_temperature,
        "max_query_tokens": args.max_query_tokens, "max_answer_tokens": args.max_answer_tokens,
        "single_line": args.single_line, "add_bos": args.add_bos or None, "primer_examples": args.primer,
        "entropy_cut": args.entropy_cut, "bypass_cache": args.bypass_cache,
    }
    if args.language is not None:
        options["filters"] = {"language": None if args.language in ("", "any") else args.language}
    job_id = submit_magpie(store, config, template, options)
    print(f"queued magpie job {job_id}: {plural(args.n, 'sample')} from {config.model} with the {template.name} template")
    if args.no_wait:
        return 0
    if run_worker(args.db, exit_when_idle=True, log=lambda m: None) != 0:
        print("a worker already serves this store; it will run the job (see `workbench jobs list`)")
        return 0
    job = store.jobs.get_job(job_id)
    counts = store.samples.job_filter_counts(job_id)
    print(f"job {job_id} {job['status']}: {counts.get('kept', 0)} kept, "
          f"{sum(counts.values()) - counts.get('kept', 0)} filtered, {plural(job['failed_units'], 'failed unit')}")
    for reason, count in summarise_reasons(counts).items():
        print(f"  {count:>4}  {reason}")
    if job["error"]:
        print(job["error"].splitlines()[0], file=sys.stderr)
    return 0 if job["status"] == DONE else 1


def add_magpie_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("magpie", help="Magpie self-synthesis: the model writes its own queries, then answers them")
    p.add_argument("--n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument("--model", help="teacher model (default: the one in Settings); needs raw completion")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible /completions server")
    p.add_argument("--template", help="chat template name (default: detected from the model)")
    p.add_argument("--list-templates", action="store_true", help="list the templates and exit")
    p.add_argument("--system", default="", help="optional system prompt to steer the domain")
    p.add_argument("--turns", type=int, default=1, help="turns per conversation (default 1)")
    p.add_argument("--query-temperature", type=float, help="default 1.0")
    p.add_argument("--query-top-p", type=float, help="default 1.0")
    p.add_argument("--answer-temperature", type=float, help="default 0.2")
    p.add_argument("--max-query-tokens", type=int)
    p.add_argument("--max-answer-tokens", type=int)
    p.add_argument("--single-line", action=argparse.BooleanOptionalAction, default=None,
                   help="stop each query at its first newline (default: on for base models)")
    p.add_argument("--add-bos", action="store_true", help="write the BOS token into the prompt text")
    p.add_argument("--primer", type=int, help="example exchanges before the pre-query (default: 3 for base models)")
    p.add_argument("--entropy-cut", type=float, help="end a turn at a token drawn from a flatter distribution (bits)")
    p.add_argument("--language", help="target language code for the filter ('any' turns it off; default en)")
    p.add_argument("--no-wait", action="store_true", help="only queue the job")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_magpie)
