"""The `workbench` command: the same pipeline as the app, headless.

Each subcommand is registered by a `add_*_commands(subparsers)` function so that every part of the
pipeline keeps its command-line surface next to its own arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from workbench.env import default_db_path
from workbench.store import Store, StoreError, open_store
from workbench.wording import plural

Command = Callable[[argparse.Namespace, Store], int]


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def cmd_seeds_import(args: argparse.Namespace, store: Store) -> int:
    from workbench.seeds import SeedImportError, import_seed_file

    try:
        result = import_seed_file(store, args.file)
    except SeedImportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        _print_json(result.to_dict())
    else:
        print("\n".join(result.lines()))
    return 0


def cmd_seeds_list(args: argparse.Namespace, store: Store) -> int:
    seeds = store.list_seeds(search=args.search or "", domain=args.domain)
    if args.json:
        _print_json(seeds)
    else:
        for seed in seeds:
            flag = " [known failure]" if seed["known_failure"] else ""
            given = " [input]" if seed["input"] else ""
            print(f"{seed['id']:>5}  {seed['domain'] or '-':<14} {seed['instruction'][:90]}{given}{flag}")
    return 0


def cmd_seeds_load_samples(args: argparse.Namespace, store: Store) -> int:
    from workbench.seeds import load_sample_seeds

    ids = load_sample_seeds(store)
    print(f"loaded {len(ids)} sample seeds")
    return 0


def cmd_worker(args: argparse.Namespace, store: Store) -> int:
    from workbench.jobs import run_worker

    store.close()
    return run_worker(args.db, exit_when_idle=args.exit_when_idle, log=lambda m: print(m, flush=True),
                      stop_with_parent=args.stop_with_parent)


def cmd_jobs_list(args: argparse.Namespace, store: Store) -> int:
    jobs = store.list_jobs(limit=args.limit)
    if args.json:
        _print_json(jobs)
        return 0
    for job in jobs:
        print(
            f"{job['id']:>5}  {job['kind']:<10} {job['status']:<10} "
            f"{job['done_units']}/{plural(job['total_units'], 'unit')} done, {job['failed_units']} failed; "
            f"{plural(job['model_calls'], 'model call')}, {job['cache_hits']} from the cache"
        )
    return 0


def cmd_jobs_rerun(args: argparse.Namespace, store: Store) -> int:
    from workbench.jobs import rerun

    try:
        job_id = rerun(store, args.job_id, bypass_cache=args.bypass_cache)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    source = "every call to the model" if args.bypass_cache else "repeated calls from the response cache"
    print(f"job {job_id}: queued again from job {args.job_id} ({source}); the worker runs it")
    return 0


def cmd_cache(args: argparse.Namespace, store: Store) -> int:
    if args.clear:
        print(f"forgot {store.clear_response_cache(args.model)} cached responses")
        return 0
    rows = store.response_cache_stats()
    if args.json:
        _print_json(rows)
    elif not rows:
        print("the response cache is empty")
    for row in rows if not args.json else []:
        print(f"{row['entries']:>8} responses  {row['bytes'] / 1e6:8.1f} MB  {row['model']}")
    return 0


def add_bypass_cache_flag(parser: argparse.ArgumentParser) -> None:
    """`--bypass-cache` for a command that queues model calls (see workbench/response_cache.py)."""
    parser.add_argument("--bypass-cache", action="store_true",
                        help="send every call to the model; none is answered from the response cache")


def _job_action(status: str) -> Command:
    def action(args: argparse.Namespace, store: Store) -> int:
        if store.get_job(args.job_id) is None:
            print(f"no job {args.job_id}", file=sys.stderr)
            return 2
        if status == "queued":
            store.clear_failed_units(args.job_id)
        if not store.request_job_status(args.job_id, status):
            print(f"job {args.job_id} is {store.job_status(args.job_id)}; cannot set it to {status}", file=sys.stderr)
            return 2
        print(f"job {args.job_id}: {status}")
        return 0

    return action


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Entropy Workbench, headless.")
    parser.add_argument("--db", type=Path, default=None, help="store path (default: $WORKBENCH_DB or the user data dir)")
    sub = parser.add_subparsers(dest="command", required=True)

    seeds = sub.add_parser("seeds", help="gold seeds").add_subparsers(dest="seeds_command", required=True)
    p = seeds.add_parser(
        "import",
        help="import seeds from CSV, JSONL, JSON, TXT or Parquet: Self-Instruct, Alpaca, Dolly, GSM8K, MATH or plain "
             "fields (malformed rows refuse the file; duplicates are skipped and reported)",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print the import result as JSON")
    p.set_defaults(func=cmd_seeds_import)
    p = seeds.add_parser("list", help="list seeds")
    p.add_argument("--json", action="store_true")
    p.add_argument("--search")
    p.add_argument("--domain")
    p.set_defaults(func=cmd_seeds_list)
    p = seeds.add_parser("load-samples", help="load the sample seeds that ship with the app")
    p.set_defaults(func=cmd_seeds_load_samples)

    p = sub.add_parser("worker", help="run the job worker for this store")
    p.add_argument("--exit-when-idle", action="store_true", help="exit once the queue is empty")
    p.add_argument("--stop-with-parent", action="store_true",
                   help="stop (at a safe point, requeueing a running job) when the process that started this worker "
                        "ends; the app starts its worker this way")
    p.set_defaults(func=cmd_worker)

    jobs = sub.add_parser("jobs", help="background jobs").add_subparsers(dest="jobs_command", required=True)
    p = jobs.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_jobs_list)
    for name, status in (("pause", "paused"), ("cancel", "cancelled"), ("resume", "queued")):
        p = jobs.add_parser(name)
        p.add_argument("job_id", type=int)
        p.set_defaults(func=_job_action(status))
    p = jobs.add_parser("rerun", help="queue a finished job again with the same parameters")
    p.add_argument("job_id", type=int)
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_jobs_rerun)

    p = sub.add_parser("cache", help="the response cache: what it holds, or --clear")
    p.add_argument("--clear", action="store_true", help="forget cached responses")
    p.add_argument("--model", help="with --clear: only this model's")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cache)

    for register in _command_registrars():
        register(sub)
    return parser


# ---------------------------------------------------------------- evolution


def _seed_choice(text: str) -> str | list[int]:
    if text in ("all", "known-failures") or text.startswith("most-uncertain:"):
        return text
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds takes all, known-failures, most-uncertain:N or ids like 1,2,3 (got {text!r})"
        ) from None


def _follow_job(store: Store, job_id: int, db_path: Path) -> str:
    """Print a job's progress until it stops; runs a worker in this process when none serves the store."""
    import threading

    from workbench.jobs import eta_seconds, run_worker, worker_alive

    thread = None
    if not worker_alive(db_path):
        thread = threading.Thread(target=run_worker, args=(db_path, True, lambda m: None), daemon=True)
        thread.start()
    last = None
    try:
        while True:
            job = store.get_job(job_id)
            nodes = store.evol_job_seed_summary(job_id)
            line = (
                f"job {job_id} {job['status']}: {job['done_units']}/{plural(job['total_units'], 'unit')}, "
                f"{job['failed_units']} failed; {plural(sum(n['nodes'] for n in nodes), 'node')}, "
                f"{sum(n['survived'] for n in nodes)} survived"
            )
            if line != last:
                eta = eta_seconds(job)
                print(line + (f", ETA {eta:.0f}s" if eta is not None and job["status"] == "running" else ""), flush=True)
                last = line
            if job["status"] in ("done", "failed", "cancelled", "paused"):
                return job["status"]
            if thread is not None and not thread.is_alive() and job["status"] == "queued":
                return "queued"
            time.sleep(0.5)
    except KeyboardInterrupt:
        store.request_job_status(job_id, "paused")
        print(f"\npausing job {job_id}; resume it with `workbench jobs resume {job_id}`", file=sys.stderr)
        if thread is not None:
            thread.join()
        return "paused"
    finally:
        if thread is not None:
            thread.join()


def cmd_evolve(args: argparse.Namespace, store: Store) -> int:
    from workbench.evolve_job import EvolveParams, resolve_seeds, submit_evolve

    teacher = {"model": args.model, "api_base": args.api_base, "concurrency": args.concurrency}
    try:
        params = EvolveParams(
            seeds=resolve_seeds(store, args.seeds),
            operators=args.operators.split(",") if args.operators else list(_operator_names(store)),
            depth=args.depth,
            branching=args.branching,
            schedule=args.schedule,
            max_tries=args.max_tries,
            concurrency=args.concurrency or 8,
            teacher={k: v for k, v in teacher.items() if v is not None},
            bypass_cache=args.bypass_cache,
        )
        job_id = submit_evolve(store, params)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"job {job_id}: evolving {plural(len(params.seeds), 'seed')}, depth {params.depth}, branching {params.branching}")
    status = _follow_job(store, job_id, args.db)
    job = store.get_job(job_id)
    cost = "unknown" if job["cost"] is None else f"${job['cost']:.4f}"
    print(
        f"job {job_id} {status}: {job['prompt_tokens']} prompt + {job['completion_tokens']} completion tokens, "
        f"cost {cost}, {job['elapsed_s']:.1f}s"
    )
    for error in store.unit_errors(job_id)[:10]:
        print(f"  failed {error['unit_key']}: {error['error']}", file=sys.stderr)
    return 0 if status == "done" and not job["failed_units"] else 1


def _operator_names(store: Store) -> list[str]:
    from workbench.evol import load_operators

    return list(load_operators(store))


def cmd_operators_list(args: argparse.Namespace, store: Store) -> int:
    from workbench.evol import load_operators

    for op in load_operators(store).values():
        origin = "built-in" if op.builtin else "custom"
        print(f"{op.name:<24} {op.kind:<12} {origin:<9} {op.description[:70]}")
    return 0


def cmd_operators_reset(args: argparse.Namespace, store: Store) -> int:
    from workbench.evol import reset_builtin_operators

    reset_builtin_operators(store)
    print("built-in operators reset to their shipped templates")
    return 0


def add_evolution_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.evol import SCHEDULES

    p = sub.add_parser("evolve", help="evolve seeds with Evol-Instruct (prints progress; exits 0 when done with no failed unit)")
    p.add_argument("--seeds", type=_seed_choice, default="all", help="all, known-failures, most-uncertain:N, or ids like 1,2,3")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--branching", type=int, default=1)
    p.add_argument("--operators", help="comma-separated operator names (default: all)")
    p.add_argument("--schedule", choices=SCHEDULES, default="round-robin")
    p.add_argument("--max-tries", type=int, default=3, help="attempts per tree position, each with another operator")
    p.add_argument("--model", help="teacher model (default: the saved teacher)")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    p.add_argument("--concurrency", type=int, help="concurrent calls and units")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_evolve)
    ops = sub.add_parser("operators", help="evolution operators").add_subparsers(dest="operators_command", required=True)
    ops.add_parser("list").set_defaults(func=cmd_operators_list)
    ops.add_parser("reset", help="reset built-in operators").set_defaults(func=cmd_operators_reset)


# ---------------------------------------------------------------- magpie


def cmd_magpie(args: argparse.Namespace, store: Store) -> int:
    """Queue a magpie job and, unless --no-wait, run it here and print what was kept and dropped."""
    from workbench.jobs import run_worker
    from workbench.magpie import (
        TemplateError,
        all_templates,
        chat_only_error,
        detect_template,
        get_template,
        summarise_reasons,
    )
    from workbench.magpie_job import submit_magpie
    from workbench.settings import teacher_config

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
    job = store.get_job(job_id)
    counts = store.job_filter_counts(job_id)
    print(f"job {job_id} {job['status']}: {counts.get('kept', 0)} kept, "
          f"{sum(counts.values()) - counts.get('kept', 0)} filtered, {plural(job['failed_units'], 'failed unit')}")
    for reason, count in summarise_reasons(counts).items():
        print(f"  {count:>4}  {reason}")
    if job["error"]:
        print(job["error"].splitlines()[0], file=sys.stderr)
    return 0 if job["status"] == "done" else 1


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
    p.add_argument("--entropy-cut", type=float, help="end a turn at a token drawn from a flatter distribution (nats)")
    p.add_argument("--language", help="target language code for the filter ('any' turns it off; default en)")
    p.add_argument("--no-wait", action="store_true", help="only queue the job")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_magpie)


# ---------------------------------------------------------------- reasoning and verification


def parse_task_specs(specs: list[str], store: Store) -> list[dict]:
    """'seed:1,2' 'sample:7' 'seed:all' 'sample:all' 'domain:math' -> [{"type", "id"}]; bad specs raise ValueError."""
    tasks: list[dict] = []
    for spec in specs:
        kind, _, rest = spec.partition(":")
        if kind == "domain" and rest:
            ids = [s["id"] for s in store.list_seeds(domain=rest)]
            if not ids:
                raise ValueError(f"no seeds in domain {rest!r}")
            tasks += [{"type": "seed", "id": i} for i in ids]
        elif kind in ("seed", "sample") and rest == "all":
            rows = store.list_seeds() if kind == "seed" else store.list_samples()
            tasks += [{"type": kind, "id": r["id"]} for r in rows]
        elif kind in ("seed", "sample") and rest and all(p.strip().isdigit() for p in rest.split(",")):
            ids = [int(p) for p in rest.split(",")]
            found = {s["id"] for s in (store.list_seeds(ids=ids) if kind == "seed" else store.list_samples(ids=ids, include_filtered=True))}
            missing = [i for i in ids if i not in found]
            if missing:
                raise ValueError(f"no {kind} with id {', '.join(map(str, missing))}")
            tasks += [{"type": kind, "id": i} for i in ids]
        else:
            raise ValueError(f"bad task spec {spec!r}: use seed:1,2  sample:7  seed:all  sample:all  domain:math")
    return list({(t["type"], t["id"]): t for t in tasks}.values())


def _verifier_params(args: argparse.Namespace) -> dict:
    """The verifier options shared by `reason` and `verify-eval`, as job params (None: the verifier's default)."""
    params = {
        "judge_model": args.judge_model, "prm_path": args.prm_path, "prm_style": args.prm_style,
        "consistency_mode": args.consistency_mode, "rollout_k": args.rollout_k,
        "rollout_max_steps": args.rollout_max_steps, "rollout_max_tokens": args.rollout_max_tokens,
        "rollout_label": args.rollout_label, "rollout_skip_wrong_paths": args.rollout_skip_wrong_paths or None,
    }
    return {k: v for k, v in params.items() if v is not None}


def _add_verifier_options(p: argparse.ArgumentParser) -> None:
    from workbench.verifiers.consistency import MODES
    from workbench.verifiers.prm import STYLES
    from workbench.verifiers.rollout import DEFAULT_K, DEFAULT_MAX_STEPS, DEFAULT_MAX_TOKENS, LABELS

    p.add_argument("--judge-model", help="model for the judge verifier (default: the teacher)")
    p.add_argument("--prm-path", help="local directory of a PRM (prm verifier)")
    p.add_argument("--prm-style", choices=STYLES, default="qwen")
    p.add_argument("--consistency-mode", choices=MODES, help="consistency: a final answer scores the share of paths "
                   "agreeing with it (share, default) or 1/0 against the majority")
    p.add_argument("--rollout-k", type=int, help=f"rollout: continuations per step (default {DEFAULT_K})")
    p.add_argument("--rollout-max-steps", type=int, help=f"rollout: most steps rolled out per path (default {DEFAULT_MAX_STEPS})")
    p.add_argument("--rollout-max-tokens", type=int, help=f"rollout: most tokens per continuation (default {DEFAULT_MAX_TOKENS})")
    p.add_argument("--rollout-label", choices=LABELS, help="rollout: soft (share reaching the answer, default), "
                   "any or most (hard 1/0)")
    p.add_argument("--rollout-skip-wrong-paths", action="store_true",
                   help="rollout: no rollouts for a path whose own final answer already misses")


def cmd_reason(args: argparse.Namespace, store: Store) -> int:
    import os

    from workbench.jobs import run_job, submit, worker_alive
    from workbench.reason_job import build_verifiers
    from workbench.reasoning import refresh_task_metric, verification_settings
    from workbench.settings import teacher_config
    from workbench.teacher import Teacher
    from workbench.verifiers import VerifierError, parse_names

    try:
        tasks = parse_task_specs(args.tasks, store)
        verifiers = parse_names(args.verifier)
        settings = verification_settings(store, {"aggregation": args.aggregation, "threshold": args.threshold})
        params = {
            "tasks": tasks, "n": args.n, "verifiers": verifiers, "temperature": args.temperature,
            "max_tokens": args.max_tokens, "aggregation": settings.aggregation, "threshold": settings.threshold,
            "bypass_cache": args.bypass_cache, **_verifier_params(args),
        }
        if args.model:
            params["teacher"] = {"model": args.model}
        config = teacher_config(store, params.get("teacher"))
        build_verifiers(store, params, Teacher(config))  # refuse bad options now, not in every unit
    except (ValueError, VerifierError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.limit:
        tasks = params["tasks"] = tasks[: args.limit]
    if not tasks:
        print("no tasks to reason about: the store has none matching " + " ".join(args.tasks), file=sys.stderr)
        return 2
    job_id = submit(store, "reason", {k: v for k, v in params.items() if v is not None}, model=config.model)
    if args.queue or worker_alive(args.db):
        print(f"queued reason job {job_id} ({plural(len(tasks), 'task')}); the worker runs it")
        return 0
    job = store.claim_job(job_id, os.getpid())
    status = run_job(store, job) if job else "queued"
    results = []
    for task in tasks:
        verdict = refresh_task_metric(store, task["type"], task["id"], settings)
        results.append({"task": f"{task['type']}:{task['id']}", "paths": len(verdict.path_scores),
                        "best_path_id": verdict.best_path_id, "best_path_score": verdict.best_score,
                        "passed_gate": verdict.passed, "reason": verdict.reason})
    finished = store.get_job(job_id)
    summary = {"job_id": job_id, "status": status, "failed_units": finished["failed_units"],
               "aggregation": settings.aggregation, "threshold": settings.threshold, "tasks": results}
    if args.json:
        _print_json(summary)
    else:
        for row in results:
            score = "-" if row["best_path_score"] is None else f"{row['best_path_score']:.3f}"
            gate = "passes" if row["passed_gate"] else "gated out"
            print(f"{row['task']:<12} {plural(row['paths'], 'path')}  best {score}  {gate}: {row['reason']}")
        print(f"job {job_id} {status}; {plural(finished['failed_units'], 'failed unit')}")
        for error in store.unit_errors(job_id):
            print(f"  {error['unit_key']}: {error['error'].splitlines()[0]}", file=sys.stderr)
    return 0 if status == "done" and not finished["failed_units"] else 1


def cmd_verify_eval(args: argparse.Namespace, store: Store) -> int:
    from workbench.reason_job import build_verifiers
    from workbench.settings import teacher_config
    from workbench.teacher import Teacher
    from workbench.verifiers import VerifierError, parse_names
    from workbench.verifiers.evaluation import (
        EvalDataError,
        best_of_n,
        evaluate,
        read_best_of_n,
        read_processbench,
        write_report,
    )

    if args.best_of_n and args.report:
        print("--report writes per-step reports of a ProcessBench file; best-of-N prints selection accuracy only",
              file=sys.stderr)
        return 2
    try:
        params = {"verifiers": parse_names(args.verifier), **_verifier_params(args)}
        if args.model:
            params["teacher"] = {"model": args.model}
        teacher = Teacher(teacher_config(store, params.get("teacher")))
        verifiers = build_verifiers(store, params, teacher)
        if args.best_of_n:
            result = best_of_n(verifiers, read_best_of_n(args.file), args.aggregation)
        else:
            result, reports = evaluate(verifiers, read_processbench(args.file))
            if args.report:
                result["report"] = str(write_report(reports, args.report))
    except (EvalDataError, VerifierError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot write the report {args.report}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(result)
    elif args.best_of_n:
        print(f"best-of-N selection accuracy over {plural(result['n'], 'item')} ({args.aggregation} over steps):")
        for name, value in result["selection_accuracy"].items():
            print(f"  {name:<12} {value:.4f}")
    else:
        for key, value in result.items():
            print(f"{key:<12} {value if not isinstance(value, float) else f'{value:.4f}'}")
    return 0


def add_reasoning_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.reasoning import AGGREGATIONS, DEFAULT_AGGREGATION, DEFAULT_N, DEFAULT_TEMPERATURE, MAX_N
    from workbench.verifiers import REGISTRY

    p = sub.add_parser("reason", help="sample N reasoning paths per task and score every step")
    p.add_argument("--tasks", nargs="+", required=True, metavar="SPEC",
                   help="seed:1,2  sample:7  seed:all  sample:all  domain:math")
    p.add_argument("--n", type=int, default=DEFAULT_N, choices=range(1, MAX_N + 1), metavar=f"1..{MAX_N}")
    p.add_argument("--verifier", default="arithmetic", help=f"comma-separated: {','.join(REGISTRY)}")
    p.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--aggregation", choices=AGGREGATIONS, default=None, help="path score rule (default: saved setting)")
    p.add_argument("--threshold", type=float, default=None, help="gate threshold in [0, 1] (default: saved setting)")
    p.add_argument("--model", help="teacher model for the paths and rollouts (default: the saved teacher)")
    _add_verifier_options(p)
    p.add_argument("--limit", type=int, help="at most this many tasks")
    p.add_argument("--queue", action="store_true", help="only queue the job for the worker")
    p.add_argument("--json", action="store_true")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_reason)

    p = sub.add_parser("verify-eval", help="score verifiers on labelled steps (ProcessBench JSONL) or on best-of-N "
                                           "selection (--best-of-n)")
    p.add_argument("file", type=Path)
    p.add_argument("--verifier", default="arithmetic", help=f"comma-separated: {','.join(REGISTRY)}")
    p.add_argument("--report", type=Path, help="write one JSON line per item: label, predicted earliest error, "
                                               "every step's score and rationale")
    p.add_argument("--best-of-n", action="store_true", help="FILE holds {id, problem, answer, completions, correct}: "
                   "report each verifier's selection accuracy against majority, random and oracle")
    p.add_argument("--aggregation", choices=AGGREGATIONS, default=DEFAULT_AGGREGATION,
                   help="best-of-N: path score rule")
    p.add_argument("--model", help="teacher for rollouts and the judge (default: the saved teacher)")
    _add_verifier_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify_eval)

# ---------------------------------------------------------------- metrics and maps


def cmd_analyse(args: argparse.Namespace, store: Store) -> int:
    from dataclasses import replace

    from workbench.jobs import submit
    from workbench.maps import current_params, save_params

    params: dict = {"concurrency": 1}
    if args.what == "project":
        map_params = current_params(store)
        if args.text and args.text != map_params.text:  # a map of other texts becomes the one the Maps page shows
            map_params = replace(map_params, text=args.text)
            save_params(store, map_params)
        params.update({"map": map_params.to_dict(), "refit": args.refit})
    if args.what == "uncertainty":
        params.update({"k": args.k, "max_tokens": args.max_tokens, "concurrency": 2})
    job_id = submit(store, args.what, params)
    print(f"queued job {job_id} ({args.what}); `workbench worker` runs it")
    return 0


def cmd_uncertain_seeds(args: argparse.Namespace, store: Store) -> int:
    ranking = store.seed_uncertainty_ranking(args.top)
    if args.json:
        _print_json(ranking)
    for row in [] if args.json else ranking:
        print(f"{row['id']:>5}  {row['uncertainty']:.2f}  {row['instruction'][:90]}")
    return 0


def add_maps_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.maps import TEXTS

    p = sub.add_parser("analyse", help="queue embeddings + metrics, the UMAP map, or the seeds' uncertainty")
    p.add_argument("what", choices=["embed", "project", "uncertainty"])
    p.add_argument("--refit", action="store_true", help="project: fit the map again instead of extending it")
    p.add_argument("--text", choices=list(TEXTS),
                   help="project: what the map embeds (saved as the map's setting; default: the current setting)")
    p.add_argument("--k", type=int, default=5, help="uncertainty: answers sampled per seed")
    p.add_argument("--max-tokens", type=int, default=64, help="uncertainty: tokens per answer")
    p.set_defaults(func=cmd_analyse)
    p = sub.add_parser("uncertain-seeds", help="the seeds the teacher is least sure about, most uncertain first")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_uncertain_seeds)


# ---------------------------------------------------------------- review and export


def cmd_samples_import(args: argparse.Namespace, store: Store) -> int:
    from workbench.sample_import import SampleImportError, import_samples

    try:
        result = import_samples(store, args.file, args.file.name)
    except SampleImportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def cmd_samples_list(args: argparse.Namespace, store: Store) -> int:
    """Samples as one JSON array (streamed page by page), or one line each."""
    status = None if args.status == "all" else args.status
    pages = (store.list_samples(status=status, source=args.source, include_filtered=args.include_filtered, limit=500,
                                offset=offset) for offset in range(0, args.limit or 2**62, 500))
    shown = 0
    if args.json:
        print("[", end="")
    for page in pages:
        for sample in page[: (args.limit - shown) if args.limit else None]:
            sample.pop("text_hash", None)
            if args.json:
                print(("," if shown else "") + json.dumps(sample, ensure_ascii=False, default=str), end="")
            else:
                turns = f" [{plural(len(sample['turns']), 'turn')}]" if sample["turns"] else ""
                print(f"{sample['id']:>6}  {sample['source']:<7} {sample['status']:<9}{turns} {sample['instruction'][:90]!r}")
            shown += 1
        if len(page) < 500 or (args.limit and shown >= args.limit):
            break
    if args.json:
        print("]")
    return 0


def cmd_review(args: argparse.Namespace, store: Store) -> int:
    from workbench.review import set_status

    ids = store.query_sample_ids(status="pending") if args.all_pending else args.ids
    missing = set(ids) - set(store.query_sample_ids(ids=ids, status=None))
    if missing:
        print(f"no such samples: {', '.join(map(str, sorted(missing)))}; nothing was changed", file=sys.stderr)
        return 2
    status = {"approve": "approved", "reject": "rejected"}[args.review_command]
    changed = set_status(store, ids, status, args.note)
    print(f"{status} {plural(changed, 'sample')}")
    return 0


def cmd_pii_scan(args: argparse.Namespace, store: Store) -> int:
    from workbench.pii import scan_samples, shared_analyzer

    ids = store.pii_scan_candidates(only_unscanned=not args.all)
    if ids:
        analyzer = shared_analyzer()
        print(f"scanning {plural(len(ids), 'sample')} for PII ({analyzer.note})", file=sys.stderr)
        for start in range(0, len(ids), 200):
            scan_samples(store, ids[start : start + 200], analyzer)
    counts = store.pii_counts()
    print(f"{plural(counts['flagged'], 'sample')} flagged, {counts['clean']} clean, {counts['unscanned']} not scanned")
    return 0


def cmd_pii_policy(args: argparse.Namespace, store: Store) -> int:
    """Show the PII policy, or change it (which forgets every scan: samples are scanned again before export)."""
    from dataclasses import replace

    from workbench.pii import DEFAULT_ENTITIES, OPTIONAL_ENTITIES, PiiPolicy, load_policy, save_policy

    policy = PiiPolicy() if args.reset else load_policy(store)
    known = (*DEFAULT_ENTITIES, *OPTIONAL_ENTITIES)
    unknown = [e for e in [*(args.add or []), *(args.remove or [])] if e not in known]
    if unknown:
        print(f"unknown entities: {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    entities = tuple(e for e in known if (e in policy.entities or e in (args.add or [])) and e not in (args.remove or []))
    changed = replace(policy, entities=entities, person_min_words=args.person_min_words or policy.person_min_words)
    forgotten = save_policy(store, changed)
    if forgotten:
        print(f"policy changed: {plural(forgotten, 'scan')} forgotten; samples are scanned again before export", file=sys.stderr)
    if args.json:
        _print_json(changed.to_dict())
    else:
        print(f"entities: {', '.join(changed.entities)}\nperson names count from {changed.person_min_words} words"
              f"\nscore threshold: {changed.score_threshold}")
    return 0


def _wait_for_job(store: Store, job_id: int, db_path: Path) -> dict:
    """Run a queued job here when no worker serves the store, else wait for the worker to finish it."""
    import os

    from workbench.jobs import run_job, worker_alive

    if not worker_alive(db_path) and (job := store.claim_job(job_id, os.getpid())) is not None:
        run_job(store, job)
    while (job := store.get_job(job_id))["status"] in ("queued", "running"):
        time.sleep(0.5)
    return job


def cmd_export(args: argparse.Namespace, store: Store) -> int:
    """The export job, as the page runs it: scan what was never scanned for PII, then write."""
    from workbench.env import export_dir
    from workbench.export import ExportError, ExportOptions, submit_export
    from workbench.mix import NaturalDataError, load_natural_file

    try:
        natural = load_natural_file(args.mix_natural) if args.mix_natural else None
    except NaturalDataError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    options = ExportOptions(
        fmt=args.format, status=None if args.status == "all" else args.status, lineage=args.lineage,
        metrics=args.metrics, pii="redact" if args.redact_pii else "block", natural=natural,
        synthetic_ratio=args.synthetic_ratio, seed=args.seed, overwrite=args.overwrite, card=args.card,
        license=args.license, strip_calculator=args.strip_calculator_annotations,
        contaminated="allow" if args.allow_contaminated else "block",
    )
    try:
        job_id = submit_export(store, options, args.out, args.export_dir or export_dir(), args.mix_natural)
    except ExportError as exc:
        print(f"export refused: {exc}", file=sys.stderr)
        return 2
    unscanned = len(store.pii_scan_candidates(only_unscanned=True, status=options.status))
    if unscanned:
        print(f"scanning {plural(unscanned, 'sample')} for PII before the export (job {job_id})", file=sys.stderr)
    job = _wait_for_job(store, job_id, args.db)
    result = job["result"] or {}
    if job["status"] != "done" or "error" in result:
        print(f"export refused: {result.get('error') or job['error'] or job['status']}", file=sys.stderr)
        return 2
    print(result["summary"])
    return 0


def add_ship_commands(sub: argparse._SubParsersAction) -> None:
    """samples import|list, review approve|reject, pii scan|policy, export."""
    from workbench.export import FORMATS
    from workbench.pii import DEFAULT_ENTITIES, OPTIONAL_ENTITIES

    samples = sub.add_parser("samples", help="samples").add_subparsers(dest="samples_command", required=True)
    p = samples.add_parser("import", help="import samples: OpenAI messages, ShareGPT, Alpaca, TRL stepwise, PRM800K, "
                                          "ProcessBench or our own exports (JSONL, JSON, CSV or Parquet; all or nothing)")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_samples_import)
    p = samples.add_parser("list", help="list samples (not the ones a filter dropped, unless --include-filtered)")
    p.add_argument("--status", choices=("pending", "approved", "rejected", "all"), default="all")
    p.add_argument("--source", choices=("seed", "evol", "magpie", "import"))
    p.add_argument("--include-filtered", action="store_true", help="also samples a filter dropped")
    p.add_argument("--limit", type=int, help="at most this many")
    p.add_argument("--json", action="store_true", help="one JSON array of sample objects")
    p.set_defaults(func=cmd_samples_list)

    review = sub.add_parser("review", help="approve or reject samples").add_subparsers(dest="review_command", required=True)
    for name in ("approve", "reject"):
        p = review.add_parser(name)
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--ids", type=int, nargs="+")
        which.add_argument("--all-pending", action="store_true")
        p.add_argument("--note")
        p.set_defaults(func=cmd_review)

    pii = sub.add_parser("pii", help="PII scanning").add_subparsers(dest="pii_command", required=True)
    p = pii.add_parser("scan", help="scan samples not yet scanned (or --all)")
    p.add_argument("--all", action="store_true", help="rescan every sample")
    p.set_defaults(func=cmd_pii_scan)
    p = pii.add_parser("policy", help="show or change what the scan looks for (a change forgets every scan)")
    entities = ", ".join((*DEFAULT_ENTITIES, *OPTIONAL_ENTITIES))
    p.add_argument("--add", nargs="+", metavar="ENTITY", help=f"entities to add (of {entities})")
    p.add_argument("--remove", nargs="+", metavar="ENTITY", help="entities to remove")
    p.add_argument("--reset", action="store_true", help="back to the default rules (then --add/--remove apply)")
    p.add_argument("--person-min-words", type=int, help="a PERSON counts from this many name words (default 2)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pii_policy)

    p = sub.add_parser("export", help="export samples (unscanned samples are scanned for PII first)")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, type=Path, help="file inside the export folder (relative paths go there)")
    p.add_argument("--export-dir", type=Path, help="the export folder (default: $WORKBENCH_EXPORT_DIR or the data dir)")
    p.add_argument("--status", choices=("approved", "all"), default="approved")
    p.add_argument("--redact-pii", action="store_true", help="redact PII instead of leaving flagged samples out")
    p.add_argument("--mix-natural", type=Path, help="natural dataset (JSONL, JSON, CSV or Parquet) to mix in")
    p.add_argument("--synthetic-ratio", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0, help="shuffle seed of the mix (recorded)")
    p.add_argument("--lineage", action="store_true", help="add lineage columns")
    p.add_argument("--metrics", action="store_true", help="add metric columns")
    p.add_argument("--strip-calculator-annotations", action="store_true",
                   help="remove GSM8K calculator annotations (<<48/2=24>>) from every exported text")
    p.add_argument("--allow-contaminated", action="store_true",
                   help="keep samples the decontamination scan matched to a benchmark item (left out by default)")
    p.add_argument("--card", action="store_true", help="write the dataset card beside the file (out.jsonl -> out.README.md)")
    p.add_argument("--license", default="other", help="license named in the dataset card")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file (and its own card)")
    p.set_defaults(func=cmd_export)


# ---------------------------------------------------------------- demo project


def cmd_demo(args: argparse.Namespace, store: Store) -> int:
    """Build the demo project; the last line says what the gate decided (with --json: one JSON object)."""
    from workbench.demo import RESULT_KEYS, STAGES, submit_demo
    from workbench.jobs import run_worker, worker_alive

    progress = sys.stderr if args.json else sys.stdout
    job_id = submit_demo(store)
    print(f"demo job {job_id} queued: {', '.join(STAGES)}", file=progress, flush=True)
    if not worker_alive(args.db):
        run_worker(args.db, exit_when_idle=True, log=lambda message: print(message, file=progress, flush=True))
    while (job := store.get_job(job_id))["status"] in ("queued", "running"):
        time.sleep(1.0)
    result = job["result"] or {}
    for error in store.unit_errors(job_id):
        print(f"  {error['unit_key']}: {error['error']}", file=sys.stderr)
    if args.json:
        _print_json({"job_id": job_id, "status": job["status"], "elapsed_s": round(job["elapsed_s"], 1),
                     **{key: result.get(key) for key in RESULT_KEYS},
                     **{key: result.get(key) for key in ("blocked_for_pii", "export_path", "export_note") if key in result}})
    else:
        print(f"demo job {job_id} {job['status']}: {job['done_units']}/{plural(job['total_units'], 'stage')} done, "
              f"{job['failed_units']} failed, {job['elapsed_s']:.0f}s")
        print(", ".join(f"{key.replace('_', ' ')} {result.get(key, '-')}" for key in RESULT_KEYS)
              + (f" (to {result['export_path']})" if result.get("export_path") else f" ({result.get('export_note', '')})"))
    return 0 if job["status"] == "done" and not job["failed_units"] else 1


def add_demo_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="build the demo project with the real pipeline (a few minutes on the bundled model)")
    p.add_argument("--json", action="store_true", help="print one JSON line at the end: tasks verified, passed the "
                                                       "gate, rejected, approved, exported")
    p.set_defaults(func=cmd_demo)


# ---------------------------------------------------------------- overview


def cmd_overview(args: argparse.Namespace, store: Store) -> int:
    from workbench.overview import overview_report

    report = overview_report(store)
    if args.json:
        _print_json(report)
        return 0
    print(f"{plural(report['seeds'], 'gold seed')}")
    print("funnel (each stage counts a subset of the stage before):")
    for row in report["funnel"]:
        rate = f"  {row['rate']:.0%} of the stage before" if row["rate"] is not None else ""
        print(f"  {row['stage']:<20} {row['count']:>8,}{rate}")
    outside = report["outside_funnel"]
    if outside["approved"] or outside["exported"]:
        print(f"beside the funnel: {plural(outside['approved'], 'sample')} approved and "
              f"{plural(outside['exported'], 'sample')} exported without passing the gate")
    gate = report["gate"]
    print(f"gate: best path score >= {gate['threshold']:g} ({gate['aggregation']} of step scores): "
          f"{gate['verified']:,} verified, {gate['passed']:,} passed, {gate['failed']:,} failed")
    for reason in gate["failure_reasons"]:
        print(f"  {reason['count']:>8,}  {reason['reason']}")
    if gate["seeds"]["verified"]:
        print(f"seeds: {gate['seeds']['verified']:,} verified, {gate['seeds']['passed']:,} passed the gate")
    return 0


def add_overview_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("overview", help="the factory at a glance: funnel, gate decisions (the Overview page's numbers)")
    p.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    p.set_defaults(func=cmd_overview)


# ---------------------------------------------------------------- calibration (issue 16)


def cmd_calibrate(args: argparse.Namespace, store: Store) -> int:
    from workbench.calibration import NO_LABELS, CalibrationError, apply_threshold, calibrate, summary_lines

    report = calibrate(store)
    if not report["labellers"]:
        if args.json:
            _print_json(report)
        print(NO_LABELS, file=sys.stderr)
        return 2
    if args.apply:
        source = report[args.apply] if args.apply == "combined" else report["verifiers"].get(args.apply)
        if source is None or source["suggested_threshold"] is None:
            print(f"no suggested threshold for {args.apply!r}: it has not scored labelled paths with and without "
                  "errors; nothing was changed", file=sys.stderr)
            return 2
        try:
            apply_threshold(store, source["suggested_threshold"])
        except CalibrationError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        report = calibrate(store)
    if args.json:
        _print_json(report)
    else:
        print("\n".join(summary_lines(report)))
        if args.apply:
            print(f"applied: the gate threshold is now {report['threshold']:g}")
    return 0


def add_calibration_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="verifiers against human step labels: agreement (kappa), ProcessBench F1, "
                                         "a suggested gate threshold per verifier")
    p.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    p.add_argument("--apply", metavar="VERIFIER",
                   help="save this verifier's suggested threshold (or 'combined', the gate's) as the gate threshold")
    p.set_defaults(func=cmd_calibrate)
# ---------------------------------------------------------------- decontamination (issue 16)


def cmd_decontam_add(args: argparse.Namespace, store: Store) -> int:
    from workbench.benchmark_sets import BenchmarkError, register_benchmark_file

    try:
        benchmark = register_benchmark_file(store, args.file, args.field, args.name)
    except BenchmarkError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"registered benchmark '{benchmark.name}': {plural(benchmark.n_items, 'item')} from field "
          f"'{benchmark.field}' of {benchmark.file}; `workbench decontam scan` checks the seeds and samples against it")
    return 0


def cmd_decontam_list(args: argparse.Namespace, store: Store) -> int:
    benchmarks = store.list_benchmarks()
    if args.json:
        _print_json(benchmarks)
    elif not benchmarks:
        print("no benchmark registered; add one with `workbench decontam add FILE --field question --name NAME`")
    for b in [] if args.json else benchmarks:
        print(f"{b['name']:<24} {plural(b['n_items'], 'item'):>12}  field '{b['field']}' of {b['file']}; "
              f"{plural(b['flagged'], 'seed or sample', 'seeds or samples')} flagged")
    return 0


def cmd_decontam_remove(args: argparse.Namespace, store: Store) -> int:
    if not store.delete_benchmark(args.name):
        print(f"no benchmark named '{args.name}'; nothing was removed", file=sys.stderr)
        return 2
    print(f"removed benchmark '{args.name}' and its hits")
    return 0


def cmd_decontam_scan(args: argparse.Namespace, store: Store) -> int:
    """The scan job, run here when no worker serves the store (else by the worker); then the hits."""
    from dataclasses import replace

    from workbench.decontam_job import contamination_report, load_settings, save_settings, submit_scan

    try:
        settings = replace(load_settings(store), **{k: v for k, v in (("ngram", args.ngram), ("min_overlap", args.min_overlap),
                                                                          ("min_similarity", args.min_similarity)) if v is not None})
        job_id = submit_scan(store, settings, similarity=not args.no_similarity)
    except ValueError as exc:
        print(f"scan refused: {exc}", file=sys.stderr)
        return 2
    save_settings(store, settings)
    print(f"scanning seeds and samples against {plural(len(store.list_benchmarks()), 'benchmark')} (job {job_id}; "
          f"{settings.ngram}-grams, overlap >= {settings.min_overlap:g}"
          + ("" if args.no_similarity else f", cosine >= {settings.min_similarity:g}") + ")", file=sys.stderr)
    job = _wait_for_job(store, job_id, args.db)
    if job["status"] != "done":
        print(f"scan {job['status']}: {job['error'] or ''}".strip(), file=sys.stderr)
        return 1
    for error in store.unit_errors(job_id):
        print(f"  {error['unit_key']} failed: {error['error']}", file=sys.stderr)
    if without := (job["result"] or {}).get("without_vector"):
        print(f"{plural(without, 'seed or sample', 'seeds and samples')} had no vector: checked by n-grams only",
              file=sys.stderr)
    report = contamination_report(store)
    if args.json:
        _print_json(report)
        return 0
    print(f"{plural(report['flagged'], 'seed or sample', 'seeds and samples')} match a benchmark item: "
          + (", ".join(f"{name} {n:,}" for name, n in report["by_benchmark"].items()) or "none"))
    for item in report["items"]:
        similarity = "—" if item["similarity"] is None else f"{item['similarity']:.3f}"
        print(f"  {item['type']} {item['id']:>6}  {item['benchmark']}: overlap {item['ngram_overlap']:.2f}, "
              f"cosine {similarity}  {item['match'][:80]!r}")
    return 0


def add_decontam_commands(sub: argparse._SubParsersAction) -> None:
    """decontam add|list|remove|scan."""
    decontam = sub.add_parser("decontam", help="benchmark decontamination: register test sets, scan seeds and samples "
                                               "for their items").add_subparsers(dest="decontam_command", required=True)
    p = decontam.add_parser("add", help="register a benchmark test set (JSONL, CSV, Parquet or a JSON array)")
    p.add_argument("file", type=Path)
    p.add_argument("--field", required=True, help="the field holding each item's text (e.g. question, problem)")
    p.add_argument("--name", help="the benchmark's name (default: the file name without its suffix)")
    p.set_defaults(func=cmd_decontam_add)
    p = decontam.add_parser("list", help="registered benchmarks with their item and hit counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_decontam_list)
    p = decontam.add_parser("remove", help="forget a benchmark and its hits")
    p.add_argument("name")
    p.set_defaults(func=cmd_decontam_remove)
    p = decontam.add_parser("scan", help="check every seed and sample by word n-gram overlap and embedding similarity "
                                         "(settings given here are saved)")
    p.add_argument("--ngram", type=int, help="n-gram size in words (default 13, as in the GPT-3 and Llama 2 recipes)")
    p.add_argument("--min-overlap", type=float, help="flag at this share of an item's n-grams found (default 0.5)")
    p.add_argument("--min-similarity", type=float, help="flag at this cosine similarity (default 0.95)")
    p.add_argument("--no-similarity", action="store_true",
                   help="n-grams only: compute and compare no embeddings")
    p.add_argument("--json", action="store_true", help='print {"flagged", "by_benchmark", "items": [...]}')
    p.set_defaults(func=cmd_decontam_scan)


def _command_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Functions above that add the subcommands of each pipeline stage."""
    return [
        add_overview_commands,
        add_calibration_commands,
        add_demo_commands,
        add_ship_commands,
        add_maps_commands,
        add_reasoning_commands,
        add_evolution_commands,
        add_magpie_commands,
        add_decontam_commands,
    ]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.db = args.db or default_db_path()
    try:
        store = open_store(args.db)
    except (StoreError, OSError) as exc:
        print(f"cannot open the store at {args.db}: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, store)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
