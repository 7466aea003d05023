"""Embedding + UMAP map figures: `python -m benchmarks.maps --n 10000 --real-length --peers notebook --json`.

Builds a fresh store of the sample seeds plus N samples, then runs what a user's first map runs, in a
process that has never embedded or fitted a map (numba's disk cache holds what it can, as after install):
- embed_s: the embed job (every instruction embedded with the bundled all-MiniLM-L6-v2, lexical metrics,
  novelty, near-duplicates, the similarity gate), with UMAP's JIT warm-up beside it as the job starts it;
- umap_s: the project job (embeds what the map means when that is not the instruction, fits UMAP on at
  most --fit-sample distinct texts, places the rest with transform);
- total_s: the two together, the time from "Update map" to a map (model loading is model_load_s, apart);
- embed_cpu_s, umap_cpu_s: the CPU seconds of the two jobs (all threads): on a shared machine the wall time
  grows with the other programs' load, these do not (on `cores` idle cores a job takes about cpu_s / cores);
- map_warm_s: a warm Maps page's work on the cached map (nothing to place, read every point, build the figure);
- page_warm_s: a second AppTest run of the Maps page script over the same store.

Texts: `--real-length` samples are real text of real instruction data's length (about 760 characters on
average, drawn between 300 and 1220): ProcessBench's problems followed by a run of their model-written solution
steps (GSM8K and MATH, `shared/data/processbench` beside the repo, or --texts-from), cut at a word boundary;
where those files are absent, the committed real texts (tests/fixtures/seeds: Alpaca, Dolly, GSM8K, MATH,
Self-Instruct; the sample seeds; the docs) run the same way. `texts_source` in the JSON says which. Without
it, short synthetic instructions. `--text instruction+answer` maps the instruction with its answer.

`--peers notebook` also runs what a notebook does with the same texts, cold, in its own fresh process:
sentence-transformers `encode` (the bundled model, torch), then `umap.UMAP().fit_transform`; the JSON gives
`notebook_embed_s`, `notebook_umap_s`, `notebook_total_s` and `product_over_notebook` (the notebook's total over
the product's: how many times faster the product is), and the same in CPU seconds (`notebook_cpu_s`,
`product_over_notebook_cpu`), which other programs' load on a shared machine does not inflate. Both exclude imports and model loading; both are cold
(numba's disk cache holds what it can, as after install: a notebook's UMAP compiles what umap-learn does not
cache, the product's compiled code is cached at install).

`--repeat K` runs K cold runs, each in a fresh process, and prints the best, median and worst of each
figure; `--also-100k` adds the same at 100,000 samples (minutes) under "at_100k".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("WORKBENCH_NO_WORKER", "1")

from workbench.analyse.maps import TEXTS, MapParams, current_key, project, save_params  # noqa: E402
from workbench.core.embeddings import backend, encode, model_path  # noqa: E402
from workbench.core.jobs import (
    queue,
    worker,  # noqa: E402
)
from workbench.core.metrics import lexical_metrics  # noqa: E402
from workbench.seeds.engine import load_sample_seeds  # noqa: E402
from workbench.store import Store  # noqa: E402

VERBS = ["Explain", "Write", "Compare", "Summarise", "Prove", "Design", "Critique", "List", "Estimate", "Translate"]
TOPICS = ["photosynthesis", "binary search", "the French revolution", "compound interest", "plate tectonics",
          "a sonnet about rain", "SQL joins", "vaccines", "black holes", "supply and demand", "recursion",
          "the Pythagorean theorem", "climate feedback loops", "a job interview", "unit testing", "bread baking",
          "the immune system", "game theory", "jazz harmony", "password hashing"]
AUDIENCES = ["for a child", "for an expert", "in three steps", "with one example", "under 50 words",
             "as a table", "with a counterexample", "for a skeptical manager", "using an analogy", "in Python"]
TWISTS = ["and state the assumptions", "and name a common mistake", "then give a quiz question",
          "while avoiding jargon", "and cite a trade-off", "and explain what changes if the input doubles"]


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """Short synthetic instructions (about 15 words)."""
    rng = np.random.default_rng(seed)
    return [
        f"{rng.choice(VERBS)} {rng.choice(TOPICS)} {rng.choice(AUDIENCES)} {rng.choice(TWISTS)} (case {i})."
        for i in range(n)
    ]


# ---------------------------------------------------------------- question-and-answer pairs of real length

NAMES = ["Maria", "James", "Aisha", "Chen", "Olga", "Tomas", "Priya", "Kwame", "Lena", "Diego", "Hana", "Samir",
         "Noah", "Fatima", "Ivan", "Mei", "Lucas", "Amara", "Yusuf", "Elena"]
GOODS = [("apples", "bag", "bags"), ("pencils", "box", "boxes"), ("tickets", "booklet", "booklets"),
         ("cookies", "tray", "trays"), ("bottles", "crate", "crates"), ("stickers", "sheet", "sheets"),
         ("eggs", "carton", "cartons"), ("books", "shelf", "shelves"), ("tiles", "pack", "packs"),
         ("seed packets", "case", "cases"), ("candles", "set", "sets"), ("marbles", "jar", "jars"),
         ("batteries", "pack", "packs"), ("cupcakes", "box", "boxes"), ("roses", "bunch", "bunches")]
PLACES = ["farmers' market", "school fair", "corner shop", "online store", "garage sale", "bakery", "flea market"]
CONTEXT = [
    "It is the first weekend of the month and the weather is good, so more customers than usual come by.",
    "{name} keeps careful notes in a small notebook so that nothing is counted twice at the end of the day.",
    "A friend offered to help carry everything, but {name} decided to do all the counting alone.",
    "Last year the same stall sold out before noon, so this time {name} brought extra stock.",
    "The organisers charge no fee for the stall, and there are no other costs to consider.",
]
STEPS = [
    "First, find how many {item} {name} has in total: {a} {units} with {b} {item} in each make {a} x {b} = {total} {item}.",
    "Then {name} gives {c} of them to {other}, which leaves {total} - {c} = {left} {item} to sell.",
    "Each one sells for ${p}, so the money from the sale is {left} x ${p} = ${money}.",
    "It helps to check the units at every step: {units} times {item} per {unit} gives {item}, and {item} times dollars per item gives dollars.",
    "A common mistake is to subtract the {c} {item} after multiplying by the price, which would count the gift as if it had been sold.",
    "Another quick check is an estimate: about {round_total} {item} at roughly ${p} each is close to the exact amount.",
    "The weather, the notebook and the stall fee do not change the calculation, because the question only asks about the sale itself.",
    "If {name} had kept every one of the {item} instead of giving some away, the sale would have brought in {total} x ${p} = ${all_money}.",
]
SCIENCE_QUESTIONS = [
    "Explain why {thing} {verb}, and describe one everyday observation that shows it.",
    "A student notices that {thing} {verb}. What is the physical reason, and how could the student test the "
    "explanation at home with simple equipment?",
    "In a short paragraph for a curious teenager, explain why {thing} {verb}. Mention the main quantity involved "
    "and one common misconception.",
]
SCIENCE = [("the sky", "looks blue at noon", "scattering of sunlight by air molecules"),
           ("ice", "floats on water", "lower density of the open crystal lattice"),
           ("a metal spoon", "feels colder than a wooden one", "higher thermal conductivity of the metal"),
           ("sound", "travels faster in water than in air", "stiffness of the medium relative to its density"),
           ("a bicycle", "stays upright when moving", "steering geometry and angular momentum of the wheels"),
           ("bread dough", "rises in a warm kitchen", "carbon dioxide released by yeast fermentation"),
           ("the Moon", "shows phases", "changing angle between the Sun, Moon and Earth"),
           ("a balloon", "shrinks in the freezer", "lower gas pressure at lower temperature")]
SCIENCE_STEPS = [
    "The short answer is the {cause}.",
    "To see why, start from what is happening at the scale of particles and energy, not from the everyday picture.",
    "When conditions change, the {cause} changes too, and that is exactly what we observe when {thing} {verb}.",
    "A common misconception is that the effect is caused by colour, size or weight alone, but those play a smaller part.",
    "You can test the idea at home by changing one condition at a time and writing down what you see after a few minutes.",
    "Repeating the test two or three times makes the result more convincing and shows how large the natural variation is.",
    "Scientists describe the same effect with a simple equation, but the qualitative picture above is enough to predict it.",
    "So the everyday observation that {thing} {verb} is a direct, visible consequence of the {cause}.",
]


def _answer(rng: np.random.Generator, sentences: list[str], values: dict, low: int = 60, high: int = 120) -> str:
    """The first sentences (in order) and the last one, filled in, to a length drawn from [low, high] words."""
    last = sentences[-1].format(**values)
    budget = int(rng.integers(low, high + 1)) - len(last.split())
    chosen: list[str] = []
    words = 0
    for sentence in sentences[:-1]:
        text = sentence.format(**values)
        if words >= low - len(last.split()) and words + len(text.split()) > budget:
            break
        chosen.append(text)
        words += len(text.split())
    return " ".join([*chosen, last])


def real_length_items(n: int, seed: int = 0) -> list[dict]:
    """n {instruction, output} pairs of real datasets' lengths: 70% GSM8K-like word problems with worked
    solutions (ending '#### answer'), 30% science explanations."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        if rng.random() < 0.7:
            name, other = (str(x) for x in rng.choice(NAMES, 2, replace=False))
            item, unit, units = GOODS[int(rng.integers(len(GOODS)))]
            a, b = int(rng.integers(3, 80)), int(rng.integers(2, 40))
            c, p = int(rng.integers(1, a * b)), int(rng.integers(2, 30))
            total, left = a * b, a * b - c
            values = {"name": name, "other": other, "item": item, "unit": unit, "units": units, "a": a, "b": b,
                      "c": c, "p": p, "total": total, "left": left, "money": left * p, "all_money": total * p,
                      "round_total": round(total, -1)}
            context = [str(s).format(name=name) for s in rng.choice(CONTEXT, int(rng.integers(0, 4)), replace=False)]
            question = " ".join([f"{name} runs a stall at the {PLACES[int(rng.integers(len(PLACES)))]}.", *context,
                                 f"{name} buys {a} {units} of {item}, and each {unit} holds {b} {item}.",
                                 f"{name} gives {c} {item} to {other} and sells the rest for ${p} each.",
                                 f"How much money does {name} make from the sale? (problem {i})"])
            steps = [*STEPS[:3], *rng.permutation(STEPS[3:]), f"So {name} makes ${left * p} from selling the {item}. #### {left * p}"]
        else:
            thing, verb, cause = SCIENCE[int(rng.integers(len(SCIENCE)))]
            values = {"thing": thing, "verb": verb, "cause": cause}
            question = SCIENCE_QUESTIONS[int(rng.integers(len(SCIENCE_QUESTIONS)))].format(**values) + f" (question {i})"
            steps = [SCIENCE_STEPS[0], *rng.permutation(SCIENCE_STEPS[1:-1]), SCIENCE_STEPS[-1]]
        items.append({"instruction": question, "output": _answer(rng, [str(s) for s in steps], values)})
    return items


ROOT = Path(__file__).resolve().parent.parent
PROCESSBENCH = ("gsm8k_dev.jsonl", "math_dev.jsonl")
REAL_LENGTH = (300, 1220)  # characters, uniform: 760 on average, like real instruction data


def processbench_dir() -> Path | None:
    """shared/data/processbench beside the repo (or beside its parent, as in a worktree), if it is there."""
    for shared in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (shared / "data" / "processbench" / PROCESSBENCH[0]).exists():
            return shared / "data" / "processbench"
    return None


def committed_documents() -> list[list[str]]:
    """Real texts committed to the repo as documents of sentences: public seed files, the sample seeds, the docs."""
    from workbench.formats.record_files import read_records

    documents: list[list[str]] = []
    for path in sorted([*(ROOT / "tests" / "fixtures" / "seeds").iterdir(), *(ROOT / "sample_seeds").glob("*.jsonl")]):
        for record, _ in read_records(path.read_bytes(), path.name, problems=[]):
            values = [str(v) for v in record.values() if isinstance(v, str) and len(v) > 20]
            if values:
                documents.append(values)
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        documents += [[paragraph] for paragraph in path.read_text().split("\n\n") if len(paragraph) > 200]
    return documents


def real_text_items(n: int, seed: int = 0, texts_from: Path | None = None) -> tuple[list[dict], str]:
    """n {instruction, output} items of real text and real length, and where the text came from. Each instruction
    is a document (a ProcessBench problem and its solution steps, or a committed real text) from a drawn step
    on, cut at a word boundary to a length drawn from REAL_LENGTH; the output is the document's last step."""
    folder = texts_from or processbench_dir()
    rows = [json.loads(line) for name in PROCESSBENCH if folder is not None and (folder / name).exists()
            for line in (folder / name).read_text().splitlines() if line.strip()]
    if rows:
        documents = [[row["problem"], *row["steps"]] for row in rows]
        source = f"ProcessBench problems and solution steps ({len(rows)} items, {folder})"
    else:
        documents = committed_documents()
        source = f"committed real texts ({len(documents)} documents: tests/fixtures/seeds, sample_seeds, docs)"
    rng = np.random.default_rng(seed)
    items, seen = [], set()
    while len(items) < n:
        index = int(rng.integers(len(documents)))
        limit = int(rng.integers(REAL_LENGTH[0], REAL_LENGTH[1] + 1))
        document = documents[index]
        starts = [k for k in range(1, len(document)) if len(" ".join(document[k:])) + len(document[0]) >= limit]
        parts = [document[0], *document[int(rng.choice(starts)):]] if starts else list(document)
        following = index
        while len(" ".join(parts)) < limit and len(parts) < 200:  # a short document runs on into the next one
            following = (following + 1) % len(documents)
            parts += documents[following]
        text = " ".join(parts)
        cut = text[:limit].rsplit(" ", 1)[0] if len(text) > limit else text
        if cut in seen:
            cut = f"{cut} ({len(items)})"  # the same text twice would be one point
        seen.add(cut)
        items.append({"instruction": cut, "output": document[-1]})
    return items, source


def build_store(path: Path, n: int, real_length: bool = False, texts_from: Path | None = None) -> Store:
    """A store with the sample seeds and n samples (with their lexical metrics, as the generating stages write)."""
    store = Store(path)
    load_sample_seeds(store)
    if real_length:
        items, source = real_text_items(n, texts_from=texts_from)
        store.settings.set_setting("benchmark_texts_source", source)
    else:
        items = [{"instruction": t, "output": None} for t in synthetic_texts(n)]
    for start in range(0, n, 5000):
        chunk = items[start : start + 5000]
        ids = store.samples.insert_samples([{"source": "import" if real_length else "magpie", **item, "unit_key": f"bench-{start + i}"}
                                    for i, item in enumerate(chunk)])
        store.metrics.set_metrics_bulk("sample", [(i, lexical_metrics(item["instruction"])) for i, item in zip(ids, chunk, strict=True)])
    return store


def text_lengths(store: Store, text: str) -> dict:
    """Words per embedded text over the store's samples: mean and 5th/95th percentiles."""
    from workbench.analyse.maps import map_text

    words = np.array([len(map_text(item, text).split()) for item in store.analyse.analysis_items() if item["item_type"] == "sample"])
    return {"mean": round(float(words.mean()), 1), "p5": int(np.percentile(words, 5)), "p95": int(np.percentile(words, 95))}


def run_job(path: Path, kind: str, params: dict) -> tuple[float, float, dict]:
    """Queue one job and run it to the end in this process, as the worker does: (seconds, CPU seconds of all
    this process's threads, its result). The CPU seconds do not grow when other programs share the cores."""
    store = Store(path)
    job_id = queue.submit(store, kind, params)
    started, cpu = time.perf_counter(), time.process_time()
    worker.run_worker(path, exit_when_idle=True, log=lambda message: None)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    job = store.jobs.get_job(job_id)
    store.close()
    if job["status"] != "done" or job["failed_units"]:
        raise RuntimeError(f"{kind} job ended {job['status']} with {job['failed_units']} failed units: {job['error']}")
    return seconds, cpu, job["result"] or {}


def warm_map(path: Path, params: MapParams) -> tuple[float, int]:
    import plotly.graph_objects as go

    started = time.perf_counter()
    store = Store(path)
    result = project(store, params)
    points = store.maps.map_points(result.key, metric="lexical_entropy", limit=250_000)
    go.Figure([go.Scattergl(x=np.array(points["x"], dtype=np.float32), y=np.array(points["y"], dtype=np.float32),
                            mode="markers", customdata=np.array(points["item_id"]), hovertext=points["text"],
                            marker={"color": np.array(points["value"], dtype=np.float32)})]).to_json()
    store.close()
    return time.perf_counter() - started, len(points["x"])


def page_warm(path: Path, page: str = "maps") -> float:
    """Seconds of a second (warm) AppTest run of one page over the store at path."""
    from streamlit.testing.v1 import AppTest

    os.environ["WORKBENCH_DB"] = str(path)
    root = Path(__file__).resolve().parent.parent
    at = AppTest.from_file(str(root / "app.py"), default_timeout=300)
    at.switch_page(f"views/{page}.py")
    at.run()
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return elapsed


def warm_only(store: Store, path: Path, params: MapParams, no_page: bool) -> dict:
    """Page-speed figures at scale without the cold work: points placed at random under the map's key."""
    items = store.analyse.analysis_items()
    key = current_key(store)
    store.analyse.save_projection(key, {**params.to_dict(), "synthetic": True}, b"")
    coords = np.random.default_rng(0).normal(size=(len(items), 2))
    store.analyse.add_projection_points(key, [(it["item_type"], it["item_id"], float(x), float(y))
                                      for it, (x, y) in zip(items, coords, strict=True)])
    store.close()
    map_warm_s, drawn = warm_map(path, params)
    figures = {"n": len(items), "points": len(items), "map_warm_s": round(map_warm_s, 3), "drawn_points": drawn,
               "mode": "warm-only (random points)"}
    if not no_page:
        figures["page_warm_s"] = round(page_warm(path), 3)
    return figures


def cold_run(args: argparse.Namespace) -> dict:
    """One cold map in this process: the figures of the module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        store = build_store(path, args.n, args.real_length, args.texts_from)
        params = MapParams(fit_sample=args.fit_sample, text=args.text,
                           **({"n_epochs": args.n_epochs} if args.n_epochs else {}))
        save_params(store, params)
        lengths = text_lengths(store, args.text)
        if args.warm_only:
            return {**warm_only(store, path, params, args.no_page), "words": lengths}
        store.close()

        started = time.perf_counter()
        encode(["load the model"])  # this process's backend (ONNX Runtime, else torch), loaded before the clock
        model_load_s = time.perf_counter() - started
        embed_s, embed_cpu_s, embed_result = run_job(path, "analyse.embed", {"concurrency": 1})
        umap_s, umap_cpu_s, umap_result = run_job(path, "analyse.project", {"map": params.to_dict(), "concurrency": 1})
        map_warm_s, drawn = warm_map(path, params)
        timings = umap_result.get("timings", {})
        figures = {
            "n": args.n, "real_length": args.real_length, "text": args.text, "words": lengths,
            "texts_source": Store(path).settings.get_setting("benchmark_texts_source") or "synthetic instructions",
            "embedding_backend": backend().note,
            "points": umap_result["total_points"], "fit_points": umap_result["fit_points"],
            "transformed_points": umap_result["transformed"],
            "model_load_s": round(model_load_s, 2),
            "embed_s": round(embed_s, 2),
            "umap_s": round(umap_s, 2),
            "umap_embed_s": round(timings.get("embed_s", 0.0), 2),
            "umap_fit_s": round(timings.get("fit_s", 0.0), 2),
            "umap_transform_s": round(timings.get("transform_s", 0.0), 2),
            "total_s": round(embed_s + umap_s, 2),
            "embed_cpu_s": round(embed_cpu_s, 2),
            "umap_cpu_s": round(umap_cpu_s, 2),
            "cores": os.cpu_count(),
            **{f"embed_job_{name}": seconds for name, seconds in embed_result.get("timings", {}).items()},
            "near_duplicate_groups": embed_result.get("near_duplicate_groups"),
            "map_warm_s": round(map_warm_s, 3),
            "drawn_points": drawn,
        }
        if not args.no_page:
            figures["page_warm_s"] = round(page_warm(path), 3)
        return figures


def notebook_run(args: argparse.Namespace) -> dict:
    """What a notebook does with the same texts, in this (fresh) process: sentence-transformers `encode` with the
    bundled model, then `umap.UMAP().fit_transform` with its defaults. Imports and model loading are not timed."""
    import umap
    from sentence_transformers import SentenceTransformer

    from workbench.analyse.maps import map_text

    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(Path(tmp) / "notebook.db", args.n, args.real_length, args.texts_from)
        texts = list(dict.fromkeys(map_text(item, args.text) for item in store.analyse.analysis_items()))
        store.close()
    model = SentenceTransformer(model_path(), device="cpu")
    started, cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(texts)
    embed_s, embed_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    umap.UMAP().fit_transform(vectors)
    umap_s, umap_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {"notebook_texts": len(texts), "notebook_embed_s": round(embed_s, 2), "notebook_umap_s": round(umap_s, 2),
            "notebook_total_s": round(embed_s + umap_s, 2), "notebook_embed_cpu_s": round(embed_cpu_s, 2),
            "notebook_umap_cpu_s": round(umap_cpu_s, 2), "notebook_cpu_s": round(embed_cpu_s + umap_cpu_s, 2)}


def in_fresh_process(args: argparse.Namespace, n: int, page: bool, notebook: bool = False) -> dict:
    """The figures of one cold run of n samples in a new Python process (nothing compiled or loaded yet): the
    product's, or with `notebook` the notebook baseline's."""
    argv = ["--n", str(n), "--text", args.text, "--fit-sample", str(args.fit_sample), "--once", "--json"]
    argv += ["--real-length"] * args.real_length + ["--no-page"] * (not page) + ["--notebook-once"] * notebook
    argv += ["--n-epochs", str(args.n_epochs)] if args.n_epochs else []
    argv += ["--texts-from", str(args.texts_from)] if args.texts_from else []
    done = subprocess.run([sys.executable, "-m", "benchmarks.maps", *argv], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"cold run failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> dict:
    """The first run's figures, with best / median / worst of every timing over all runs."""
    summary = dict(runs[0])
    for name, value in runs[0].items():
        if name.endswith("_s") and isinstance(value, float | int):
            values = sorted(run[name] for run in runs)
            summary[name] = values[0]
            summary[f"{name}_spread"] = {"median": round(statistics.median(values), 3), "worst": values[-1]}
    summary["runs"] = len(runs)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="samples (plus the ~100 sample seeds)")
    parser.add_argument("--real-length", action="store_true", help="question-and-answer samples of real datasets' length")
    parser.add_argument("--text", choices=list(TEXTS), default="instruction", help="what the map embeds")
    parser.add_argument("--fit-sample", type=int, default=MapParams.fit_sample, help="UMAP is fitted on at most this many texts")
    parser.add_argument("--n-epochs", type=int, help="UMAP epochs (default: the map's default)")
    parser.add_argument("--repeat", type=int, default=1, help="cold runs, each in a fresh process; best and spread are printed")
    parser.add_argument("--also-100k", action="store_true", help="the same figures at 100,000 samples (minutes)")
    parser.add_argument("--db", type=Path, help="store path (default: a temporary directory)")
    parser.add_argument("--no-page", action="store_true", help="skip the AppTest page timing")
    parser.add_argument("--warm-only", action="store_true",
                        help="skip embedding and UMAP: place points at random and time only the warm map and page")
    parser.add_argument("--peers", default="", help="'notebook': also run the notebook baseline on the same texts")
    parser.add_argument("--texts-from", type=Path, help="a folder with ProcessBench's gsm8k_dev.jsonl / math_dev.jsonl "
                        "(default: shared/data/processbench beside the repo, else the committed real texts)")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # one cold run in this process
    parser.add_argument("--notebook-once", action="store_true", help=argparse.SUPPRESS)  # the notebook, here
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    if peers - {"notebook"}:
        parser.error(f"unknown peers {sorted(peers - {'notebook'})}: the one peer is 'notebook'")
    if args.notebook_once:
        figures = notebook_run(args)
    elif args.once or args.warm_only:
        figures = cold_run(args)
    else:
        figures = summarise([in_fresh_process(args, args.n, not args.no_page) for _ in range(args.repeat)])
        if "notebook" in peers:
            figures.update(summarise([in_fresh_process(args, args.n, False, notebook=True)
                                      for _ in range(args.repeat)]))
            figures["product_over_notebook"] = round(figures["notebook_total_s"] / figures["total_s"], 2)
            # CPU seconds (all threads) do not grow with other programs' load: the ratio to trust on a shared machine
            figures["product_over_notebook_cpu"] = round(
                figures["notebook_cpu_s"] / (figures["embed_cpu_s"] + figures["umap_cpu_s"]), 2)
            figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
        if args.also_100k:  # the page timing at 100k is benchmarks/pages.py's
            figures["at_100k"] = summarise([in_fresh_process(args, 100_000, page=False)])
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
