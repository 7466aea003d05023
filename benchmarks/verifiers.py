"""Steps verified per second by the arithmetic verifier (overall, and on real-length LaTeX paragraphs alone: key
`arithmetic_latex`), the alignment verifier (key `alignment`), the grounding verifier (key `grounding`), the code
verifier's runs per second (key `code_verifier`) and the rollout verifier's calls and tokens per path (key "rollout"):
`python -m benchmarks.verifiers --json`.

The steps are the labelled fixture's steps, every step of the GSM8K-style solution corpus (real-style
prose with calculations inside, $ amounts, percentages, fractions, mixed numbers, units, millions,
times, rates, with and without <<>> annotations; correct and with slips), plus a mix of typical
written calculations, LaTeX, algebra and plain prose, repeated. To compare two versions of the code,
run this file with each version first on PYTHONPATH (`PYTHONPATH=/other/checkout python
benchmarks/verifiers.py --json`): the inputs are this file's and the fixtures beside it; or pass `--baseline
/other/checkout` for the arithmetic verifier's speed relative to it, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from workbench.verify.reasoning import split_steps
from workbench.verify.verifiers.arithmetic import ArithmeticVerifier

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FIXTURE = FIXTURES / "processbench_small.jsonl"
SOLUTIONS = FIXTURES / "gsm8k_style_solutions.jsonl"
EXTRA = [
    "Step 3: The total cost is 3 x $2.50 = $7.50, plus a $1,200 deposit gives 7.50 + 1200 = 1207.50.",
    "15% of 80 is 12, so the sale price is 80 - 12 = 68 dollars.",
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
    "\\frac{3}{4} \\times 120 = 90 km",
    "Let x be the width; then 2x + 2(2x) = 54, so x = 9.",
    "We now consider the second case, where the remainder is odd.",
    "The average speed is 2 * 60 * 40 / (60 + 40) = 48 km/h, not 50.",
    "5000 * 1.04^3 = 5624.32 dollars after three years.",
]
# real-length LaTeX paragraphs as open models write them (ProcessBench style), of our own writing
LATEX = [
    "First, we find how many tiles cover the floor. The floor is \\(12\\) feet by \\(15\\) feet, so its area is "
    "\\(12 \\times 15 = 180\\) square feet. Each box covers \\(\\frac{3}{4}\\) of \\(20\\) square feet, that is "
    "\\(\\frac{3}{4} \\times 20 = 15\\) square feet, so we need \\(\\frac{180}{15} = 12\\) boxes.",
    "Next, we simplify the expression: \\[ (2x + 3)^2 - (2x - 3)^2 = 4x^2 + 12x + 9 - (4x^2 - 12x + 9) = 24x \\] "
    "so the difference is \\(24x\\), and at \\(x = 5\\) it equals \\(24 \\cdot 5 = 120\\).",
    "The hypotenuse is \\[ c = \\sqrt{6^2 + 8^2} = \\sqrt{36 + 64} = \\sqrt{100} = 10, \\] and the area of the "
    "triangle is \\(\\frac{1}{2} \\cdot 6 \\cdot 8 = 24\\). The ratio of the area to the hypotenuse is "
    "\\(\\frac{24}{10} = 2.4\\).",
    "We solve the system: from \\(3a + 2b = 16\\) and \\(a - b = 2\\) we get \\(a = b + 2\\), so "
    "\\(3(b + 2) + 2b = 16\\), \\(5b = 10\\), \\(b = 2\\) and \\(a = 4\\). Then \\(a^2 + b^2 = 16 + 4 = 20\\).",
    "The volume of the sphere is \\[ V = \\frac{4}{3}\\pi r^3 = \\frac{4}{3}\\pi \\cdot 27 = 36\\pi, \\] since "
    "\\(r = 3\\); the matrix \\(\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}\\) has determinant "
    "\\(1 \\cdot 4 - 2 \\cdot 3 = -2\\).",
]


def steps() -> list[str]:
    labelled = [s for line in FIXTURE.read_text().splitlines() if line.strip() for s in json.loads(line)["steps"]]
    solutions = [s for line in SOLUTIONS.read_text().splitlines() if line.strip()
                 for s in split_steps(json.loads(line)["solution"])]
    return labelled + solutions + EXTRA + LATEX


def steps_per_s(pool: list[str], seconds: float, clock=time.perf_counter) -> tuple[float, int]:
    """(steps per second of `clock`, steps scored) of a fresh arithmetic verifier over `pool`, warmed up once."""
    verifier = ArithmeticVerifier()
    for step in pool:  # warm up regexes and imports
        verifier.score_step(step)
    done, started = 0, clock()
    while clock() - started < seconds:
        for step in pool:
            verifier.score_step(step)
        done += len(pool)
    return round(done / (clock() - started), 1), done


def measure(seconds: float = 3.0) -> dict:
    pool = steps()
    rate, done = steps_per_s(pool, seconds)
    answers_started = time.perf_counter()
    answer_checks = 0
    from workbench.verify.verifiers.arithmetic import check_answer

    while time.perf_counter() - answers_started < 1.0:
        check_answer("54", "$54")
        answer_checks += 1
    return {
        "benchmark": "arithmetic_verifier",
        "steps_per_s": rate,
        "steps": done,
        "distinct_steps": len(pool),
        "answer_checks_per_s": round(answer_checks / (time.perf_counter() - answers_started), 1),
    }


def _offline_steps_per_s(verifier, tasks: list, seconds: float) -> dict:
    """Steps per second of an offline verifier's `score_all` over (task, steps) pairs, after one warm-up pass."""
    for task, path in tasks:  # warm up
        verifier.score_all(task, path)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for task, path in tasks:
            verifier.score_all(task, path)
            done += len(path)
    return {"steps_per_s": round(done / (time.perf_counter() - started), 1), "paths": len(tasks)}


def measure_alignment(seconds: float = 3.0) -> dict | None:
    """Steps per second of the alignment verifier on the labelled fixture's paths, each with a worked reference
    solution of GSM8K's form built from the path's own calculations (so every step is compared); None on a version
    of the code without it."""
    try:
        from workbench.verify.verifiers.alignment import AlignmentVerifier
    except ImportError:
        return None
    from workbench.verify.verifiers.base import Task

    items = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    tasks = [(Task(item["problem"], reference_answer="0", reference_solution="\n".join(item["steps"]) + "\n#### 0"),
              item["steps"]) for item in items]
    return _offline_steps_per_s(AlignmentVerifier(), tasks, seconds)


def measure_grounding(seconds: float = 3.0) -> dict | None:
    """Steps per second of the grounding verifier (its doubts and loose ends) on the labelled fixture's paths, each
    path from cold (the caches of the texts' quantities cleared first: no help from an earlier pass over the same
    text); None on a version of the code without it."""
    try:
        from workbench.verify.grounding import clear_caches
        from workbench.verify.verifiers.grounding import GroundingVerifier
    except ImportError:
        return None
    from workbench.verify.verifiers.base import Task

    class Cold(GroundingVerifier):
        def score_all(self, task: Task, steps: list[str]) -> list:
            clear_caches()
            return super().score_all(task, steps)

    items = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    return _offline_steps_per_s(Cold(), [(Task(item["problem"]), item["steps"]) for item in items], seconds)


def measure_latex(seconds: float = 3.0) -> dict:
    """Steps per second of the arithmetic verifier on the real-length LaTeX paragraphs alone."""
    return {"steps_per_s": steps_per_s(LATEX, seconds)[0], "distinct_steps": len(LATEX)}


CODE_SOLUTIONS = ("def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n")
CODE_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert add(10, -4) == 6"


def measure_code(seconds: float = 3.0, threads: int = 4) -> dict:
    """Code verifier runs per second (a right and a wrong `add`, alternating), one at a time and `threads` at once."""
    from concurrent.futures import ThreadPoolExecutor

    from workbench.verify.verifiers.code import run_tests

    def run(i: int) -> bool:
        return run_tests(CODE_SOLUTIONS[i % 2], CODE_TESTS).passed

    assert run(0) and not run(1)  # warm up (and the isolation probe); verdicts as expected
    figures: dict = {}
    for workers in (1, threads):
        done, started = 0, time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            while time.perf_counter() - started < seconds:
                done += len(list(pool.map(run, range(done, done + workers))))
        figures["runs_per_s" if workers == 1 else f"runs_per_s_{workers}_threads"] = round(
            done / (time.perf_counter() - started), 2)
    try:
        from workbench.verify.verifiers.sandbox import isolation

        figures["isolated"] = isolation().complete
    except ImportError:  # a version of the verifier before the sandbox module
        figures["isolated"] = False
    return figures
def measure_rollout(reply_words: int = 40) -> dict:
    """The rollout verifier's spend per path at its default budget (K, most steps, most tokens), on the labelled
    fixture's paths, against the loopback server as a base model (raw /completions; replies of `reply_words`
    words; the server counts words as tokens). Every prefix before the answer step is rolled out K times."""
    import asyncio

    from benchmarks.loopback_server import serve
    from workbench.core.teacher import Teacher, TeacherConfig
    from workbench.verify.verifiers.base import Task
    from workbench.verify.verifiers.rollout import RolloutVerifier

    items = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    with serve(latency_s=0.0, reply_words=reply_words) as url:
        teacher = Teacher(TeacherConfig(model="hosted_vllm/loopback", api_base=url, base_model=True, max_retries=0,
                                        extra={"api_key": "x"}))
        verifier = RolloutVerifier(teacher)

        async def run() -> None:
            for item in items:
                await verifier.score_steps(Task(item["problem"], reference_answer="0"), item["steps"])

        started = time.perf_counter()
        asyncio.run(run())
        elapsed = time.perf_counter() - started
    paths = len(items)
    return {
        "benchmark": "rollout_verifier", "paths": paths, "steps_per_path": round(sum(len(i["steps"]) for i in items) / paths, 2),
        "k": verifier.k, "max_steps": verifier.max_steps, "max_tokens": verifier.max_tokens,
        "calls_per_path": round(teacher.usage["calls"] / paths, 2),
        "prompt_tokens_per_path": round(teacher.usage["prompt_tokens"] / paths, 1),
        "completion_tokens_per_path": round(teacher.usage["completion_tokens"] / paths, 1),
        "reply_words": reply_words, "loopback_seconds": round(elapsed, 2),
    }


# run in a child process with a version of the code first on PYTHONPATH: this file's steps_per_s in CPU seconds over
# each pool of a JSON file {name: [step, ...]}
CHILD = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("verifiers_benchmark", sys.argv[3])
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)
pools, seconds = json.load(open(sys.argv[1])), float(sys.argv[2])
print(json.dumps({name: benchmark.steps_per_s(pool, seconds, time.process_time)[0] for name, pool in pools.items()}))
"""


def measure_against(baseline: Path, seconds: float = 1.0, rounds: int = 7) -> dict:
    """The arithmetic verifier's speed relative to another version of the code (`baseline`: the root of a checkout,
    e.g. `git worktree add /tmp/old f962ff9`), on the step mix and on the LaTeX paragraphs: rounds alternate the two
    versions in fresh processes (the order swapped every round), each timed in CPU seconds so that other work on
    the machine weighs less; the figure is the median over rounds of current / baseline steps per second."""
    import os
    import statistics
    import subprocess
    import sys
    import tempfile

    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as folder:
        pools = Path(folder) / "pools.json"
        pools.write_text(json.dumps({"steps": steps(), "latex": LATEX}))
        ratios: dict[str, list[float]] = {"steps": [], "latex": []}
        for round_ in range(rounds):
            rates = {}
            for version in ((here, baseline) if round_ % 2 else (baseline, here)):
                env = {**os.environ, "PYTHONPATH": str(version)}
                run = subprocess.run([sys.executable, "-c", CHILD, str(pools), str(seconds), __file__], env=env,
                                     cwd=folder, capture_output=True, text=True, check=True)
                rates[version] = json.loads(run.stdout.strip().splitlines()[-1])
            for name in ratios:
                ratios[name].append(rates[here][name] / rates[baseline][name])
    return {"rounds": rounds, "steps_ratio": round(statistics.median(ratios["steps"]), 3),
            "latex_ratio": round(statistics.median(ratios["latex"]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--baseline", type=Path, help="the root of another checkout: report only the arithmetic "
                        "verifier's speed relative to it (key 'baseline')")
    args = parser.parse_args()
    seconds = args.seconds
    if args.baseline is not None:
        print(json.dumps({"benchmark": "arithmetic_verifier", "baseline": measure_against(args.baseline.resolve())}))
        return
    result = measure(seconds)
    result["arithmetic_latex"] = measure_latex(seconds)
    result["alignment"] = measure_alignment(seconds)
    result["grounding"] = measure_grounding(seconds)
    result["code_verifier"] = measure_code(seconds)
    result["rollout"] = measure_rollout()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
