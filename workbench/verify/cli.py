"""The `workbench` commands of the verify stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from workbench.cli_common import add_bypass_cache_flag, print_json
from workbench.core.queries.jobs import DONE
from workbench.core.wording import plural
from workbench.store import Store


def parse_task_specs(specs: list[str], store: Store) -> list[dict]:
    """'seed:1,2' 'sample:7' 'seed:all' 'sample:all' 'domain:math' -> [{"type", "id"}]; bad specs raise ValueError."""
    tasks: list[dict] = []
    for spec in specs:
        kind, _, rest = spec.partition(":")
        if kind == "domain" and rest:
            ids = [s["id"] for s in store.seeds.list_seeds(domain=rest)]
            if not ids:
                raise ValueError(f"no seeds in domain {rest!r}")
            tasks += [{"type": "seed", "id": i} for i in ids]
        elif kind in ("seed", "sample") and rest == "all":
            rows = store.seeds.list_seeds() if kind == "seed" else store.samples.list_samples()
            tasks += [{"type": kind, "id": r["id"]} for r in rows]
        elif kind in ("seed", "sample") and rest and all(p.strip().isdigit() for p in rest.split(",")):
            ids = [int(p) for p in rest.split(",")]
            found = {s["id"] for s in (store.seeds.list_seeds(ids=ids) if kind == "seed" else store.samples.list_samples(ids=ids, include_filtered=True))}
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
        "judge_model": args.judge_model, "judge_mode": args.judge_mode, "prm_path": args.prm_path,
        "prm_style": args.prm_style,
        "consistency_mode": args.consistency_mode, "rollout_k": args.rollout_k,
        "rollout_max_steps": args.rollout_max_steps, "rollout_max_tokens": args.rollout_max_tokens,
        "rollout_label": args.rollout_label, "rollout_skip_wrong_paths": args.rollout_skip_wrong_paths or None,
    }
    return {k: v for k, v in params.items() if v is not None}


def _gate_overrides(args: argparse.Namespace) -> dict:
    """The gate settings given on the command line (None: not given)."""
    return {"aggregation": args.aggregation, "threshold": args.threshold, "margin": args.margin,
            "step_rule": args.step_rule}


def _add_gate_options(p: argparse.ArgumentParser, default: str) -> None:
    from workbench.verify.reasoning import AGGREGATIONS, STEP_RULES

    p.add_argument("--aggregation", choices=AGGREGATIONS, default=None,
                   help=f"selection rule for the best path: a path score over steps (min, product, last, mean) or the "
                        f"verifier-weighted vote (vote) (default: {default})")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"a counted verdict under this score finds its step wrong, in [0, 1] (default: {default})")
    p.add_argument("--margin", type=float, default=None,
                   help="lead a self-consistency majority needs over the runner-up, as a share of all paths, to verify "
                        f"an outcome, in [0, 1] (default: {default})")
    p.add_argument("--step-rule", choices=STEP_RULES, default=None,
                   help="which verdicts count on a step: the strictest of all, or rollouts and the judge only where "
                        f"they agree (consensus filtering) (default: {default})")


def _add_verifier_options(p: argparse.ArgumentParser) -> None:
    from workbench.verify.verifiers.consistency import MODES
    from workbench.verify.verifiers.judge import MODES as JUDGE_MODES
    from workbench.verify.verifiers.prm import STYLES
    from workbench.verify.verifiers.rollout import DEFAULT_K, DEFAULT_MAX_STEPS, DEFAULT_MAX_TOKENS, LABELS

    p.add_argument("--judge-model", help="model for the judge verifier (default: the teacher)")
    p.add_argument("--judge-mode", choices=JUDGE_MODES, help="judge: ask per step (step, default) or once per path "
                   "for the earliest wrong step (critic, ProcessBench's protocol)")
    p.add_argument("--prm-path", help="local directory of a PRM (prm verifier)")
    p.add_argument("--prm-style", choices=STYLES, default="qwen")
    p.add_argument("--consistency-mode", choices=MODES, help="consistency: a final answer scores 1/0 against the "
                   "majority (majority, default) or the share of paths agreeing with it (share)")
    p.add_argument("--rollout-k", type=int, help=f"rollout: continuations per step (default {DEFAULT_K})")
    p.add_argument("--rollout-max-steps", type=int, help=f"rollout: most steps rolled out per path (default {DEFAULT_MAX_STEPS})")
    p.add_argument("--rollout-max-tokens", type=int, help=f"rollout: most tokens per continuation (default {DEFAULT_MAX_TOKENS})")
    p.add_argument("--rollout-label", choices=LABELS, help="rollout: soft (share reaching the answer, default), "
                   "any or most (hard 1/0)")
    p.add_argument("--rollout-skip-wrong-paths", action="store_true",
                   help="rollout: no rollouts for a path whose own final answer already misses")


def cmd_reason(args: argparse.Namespace, store: Store) -> int:

    from workbench.core.jobs.queue import submit
    from workbench.core.jobs.runner import run_here
    from workbench.core.jobs.worker import worker_alive
    from workbench.core.settings import teacher_config
    from workbench.core.teacher import Teacher
    from workbench.verify.job import build_verifiers
    from workbench.verify.reasoning import refresh_task_metric, verification_settings
    from workbench.verify.verifiers import VerifierError, parse_names

    try:
        tasks = parse_task_specs(args.tasks, store)
        verifiers = parse_names(args.verifier)
        settings = verification_settings(store, _gate_overrides(args))
        params = {
            "tasks": tasks, "n": args.n, "verifiers": verifiers, "temperature": args.temperature,
            "max_tokens": args.max_tokens, **asdict(settings), "bypass_cache": args.bypass_cache,
            **_verifier_params(args),
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
    job_id = submit(store, "verify", {k: v for k, v in params.items() if v is not None}, model=config.model)
    if args.queue or worker_alive(args.db):
        print(f"queued reason job {job_id} ({plural(len(tasks), 'task')}); the worker runs it")
        return 0
    status = run_here(store, job_id)
    results = []
    for task in tasks:
        verdict = refresh_task_metric(store, task["type"], task["id"], settings)
        results.append({"task": f"{task['type']}:{task['id']}", "paths": len(verdict.path_scores),
                        "best_path_id": verdict.best_path_id, "best_path_score": verdict.best_score,
                        "gate": verdict.status, "passed_gate": verdict.passed, "reason": verdict.reason})
    finished = store.jobs.get_job(job_id)
    summary = {"job_id": job_id, "status": status, "failed_units": finished["failed_units"], **asdict(settings),
               "tasks": results}
    if args.json:
        print_json(summary)
    else:
        for row in results:
            score = "-" if row["best_path_score"] is None else f"{row['best_path_score']:.3f}"
            print(f"{row['task']:<12} {plural(row['paths'], 'path')}  best {score}  {row['gate']}: {row['reason']}")
        print(f"job {job_id} {status}; {plural(finished['failed_units'], 'failed unit')}")
        for error in store.jobs.unit_errors(job_id):
            print(f"  {error['unit_key']}: {error['error'].splitlines()[0]}", file=sys.stderr)
    return 0 if status == DONE and not finished["failed_units"] else 1


def cmd_verify_eval(args: argparse.Namespace, store: Store) -> int:
    from workbench.core.settings import teacher_config
    from workbench.core.teacher import Teacher
    from workbench.verify.job import build_verifiers
    from workbench.verify.reasoning import VerificationSettings
    from workbench.verify.verifiers import VerifierError, parse_names
    from workbench.verify.verifiers.evaluation import (
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
    if args.report and len(args.files) > 1:
        print("--report writes the report of one file: give one FILE with it", file=sys.stderr)
        return 2
    results: list[dict] = []
    try:
        settings = VerificationSettings(**{k: v for k, v in _gate_overrides(args).items() if v is not None})
        params = {"verifiers": parse_names(args.verifier), **_verifier_params(args)}
        if args.model:
            params["teacher"] = {"model": args.model}
        teacher = Teacher(teacher_config(store, params.get("teacher")))
        verifiers = build_verifiers(store, params, teacher)
        for file in args.files:
            if args.best_of_n:
                result = best_of_n(verifiers, read_best_of_n(file), settings)
            else:
                result, reports = evaluate(verifiers, read_processbench(file), settings)
                if args.report:
                    result["report"] = str(write_report(reports, args.report))
            results.append({"file": str(file), **result})
    except (EvalDataError, VerifierError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot write the report {args.report}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print_json(results[0] if len(results) == 1 else {"files": results})
        return 0
    for result in results:
        print(f"{result['file']} · verifiers {', '.join(result['verifiers'])}")
        if args.best_of_n:
            print(f"best-of-N selection accuracy over {plural(result['n'], 'item')} (rule {result['aggregation']}):")
            for name, value in result["selection_accuracy"].items():
                print(f"  {name:<12} {value:.4f}")
        else:
            print("\n".join(f"  {line}" for line in eval_summary_lines(result)))
    return 0


def _figure(value: object) -> str:
    return "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def eval_summary_lines(result: dict) -> list[str]:
    """A verify-eval result in lines: the ProcessBench metric, the unverifiable share and the gate's figures."""
    gate = result["gate"]
    return [f"{key:<19} {_figure(result[key])}" for key in
            ("n", "n_erroneous", "n_correct", "acc_err", "acc_cor", "f1", "unverifiable_share")] + [
        f"gate: {gate['passed']} passed ({gate['passed_correct']} of them correct), {gate['unverified']} unverified, "
        f"{gate['failed']} failed; precision {_figure(gate['precision'])}, yield {_figure(gate['yield'])}"]


def add_verify_commands(sub: argparse._SubParsersAction) -> None:
    """`workbench verify run|eval|calibrate`: reasoning paths scored step by step, verifiers scored on labelled steps,
    and verifiers against people's step labels."""
    verify = sub.add_parser("verify", help="reasoning paths scored step by step (run), verifiers scored on labelled "
                                           "steps (eval) and against people's labels (calibrate)")
    commands = verify.add_subparsers(dest="verify_command", required=True)
    add_reasoning_commands(commands)
    add_calibration_commands(commands)

def add_reasoning_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.verify.reasoning import DEFAULT_N, DEFAULT_TEMPERATURE, MAX_N
    from workbench.verify.verifiers import DEFAULT_VERIFIERS, REGISTRY

    defaults = ",".join(DEFAULT_VERIFIERS)

    p = sub.add_parser("run", help="sample N reasoning paths per task and score every step")
    p.add_argument("--tasks", nargs="+", required=True, metavar="SPEC",
                   help="seed:1,2  sample:7  seed:all  sample:all  domain:math")
    p.add_argument("--n", type=int, default=DEFAULT_N, choices=range(1, MAX_N + 1), metavar=f"1..{MAX_N}")
    p.add_argument("--verifier", default=defaults, help=f"comma-separated: {','.join(REGISTRY)} (default: {defaults})")
    p.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    p.add_argument("--max-tokens", type=int, default=None)
    _add_gate_options(p, "the saved setting")
    p.add_argument("--model", help="teacher model for the paths and rollouts (default: the saved teacher)")
    _add_verifier_options(p)
    p.add_argument("--limit", type=int, help="at most this many tasks")
    p.add_argument("--queue", action="store_true", help="only queue the job for the worker")
    p.add_argument("--json", action="store_true")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_reason)

    p = sub.add_parser("eval", help="score verifiers and the gate on labelled steps (ProcessBench, a JSON array "
                                    "or JSONL) or on best-of-N selection (--best-of-n)")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="one or more files; figures per file")
    p.add_argument("--verifier", default=defaults,
                   help=f"comma-separated: {','.join(REGISTRY)} (default: {defaults}, a new store's offline defaults)")
    p.add_argument("--report", type=Path, help="write one JSON line per item: label, predicted earliest error, "
                                               "every step's score and rationale")
    p.add_argument("--best-of-n", action="store_true", help="FILE holds {id, problem, answer, completions, correct}: "
                   "report each verifier's selection accuracy against majority, random and oracle")
    _add_gate_options(p, "a new store's")
    p.add_argument("--model", help="teacher for rollouts and the judge (default: the saved teacher)")
    _add_verifier_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify_eval)


def cmd_calibrate(args: argparse.Namespace, store: Store) -> int:
    from workbench.verify.calibration import (
        NO_LABELS,
        CalibrationError,
        apply_threshold,
        calibrate,
        summary_lines,
    )

    report = calibrate(store)
    if not report["labellers"]:
        if args.json:
            print_json(report)
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
        print_json(report)
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
