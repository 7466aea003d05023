"""Embedding + UMAP map figures: `python -m benchmarks.maps --n 10000 --json`.

Builds a fresh store of the sample seeds plus N synthetic instructions, then measures:
- embed_s: embedding every text with the bundled all-MiniLM-L6-v2 (cache empty, model loaded), with
  UMAP's JIT warm-up running beside it in a thread, as the embed job runs it;
- umap_cold_s: the first map (UMAP fitted on at most --fit-sample points, the rest placed with transform),
  in a process that has never fitted a map; numba's disk cache holds what it can (see workbench/umap_jit.py);
- map_warm_s: what a warm Maps page does with a cached map: open the store, find nothing new to place,
  read every drawn point (with a colour metric) and build the WebGL figure;
- page_warm_s: a second AppTest run of the Maps page script over the same store.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("WORKBENCH_NO_WORKER", "1")

from workbench.embeddings import embed_texts, load_model  # noqa: E402
from workbench.maps import MapParams, project, save_params  # noqa: E402
from workbench.metrics import lexical_metrics  # noqa: E402
from workbench.seeds import load_sample_seeds  # noqa: E402
from workbench.store import Store  # noqa: E402
from workbench.umap_jit import start_warm_up  # noqa: E402

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
    rng = np.random.default_rng(seed)
    return [
        f"{rng.choice(VERBS)} {rng.choice(TOPICS)} {rng.choice(AUDIENCES)} {rng.choice(TWISTS)} (case {i})."
        for i in range(n)
    ]


def build_store(path: Path, n: int) -> Store:
    store = Store(path)
    load_sample_seeds(store)
    texts = synthetic_texts(n)
    for start in range(0, n, 5000):
        chunk = texts[start : start + 5000]
        ids = store.insert_samples(
            [{"source": "magpie", "instruction": t, "unit_key": f"bench-{start + i}"} for i, t in enumerate(chunk)]
        )
        store.set_metrics_bulk("sample", [(i, lexical_metrics(t)) for i, t in zip(ids, chunk, strict=True)])
    return store


def warm_map(path: Path, params: MapParams) -> tuple[float, int]:
    import plotly.graph_objects as go

    started = time.perf_counter()
    store = Store(path)
    result = project(store, params)
    points = store.map_points(result.key, metric="lexical_entropy", limit=200_000)
    go.Figure([go.Scattergl(x=points["x"], y=points["y"], mode="markers", customdata=points["item_id"],
                            hovertext=points["text"], marker={"color": np.array(points["value"], dtype=float)})])
    store.close()
    return time.perf_counter() - started, len(points["x"])


def page_warm(path: Path, page: str = "maps") -> float:
    """Seconds of a second (warm) AppTest run of one page over the store at path."""
    from streamlit.testing.v1 import AppTest

    os.environ["WORKBENCH_DB"] = str(path)
    root = Path(__file__).resolve().parent.parent
    at = AppTest.from_file(str(root / "app.py"), default_timeout=300)
    at.switch_page(f"pages/{page}.py")
    at.run()
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return elapsed


def warm_only(store: Store, path: Path, params: MapParams, items: list[dict], no_page: bool) -> dict:
    """Page-speed figures at scale without the cold work: points placed at random under the map's key."""
    from workbench.maps import current_key

    key = current_key(store)
    rng = np.random.default_rng(0)
    store.save_projection(key, {**params.to_dict(), "synthetic": True}, b"")
    coords = rng.normal(size=(len(items), 2))
    store.add_projection_points(key, [(it["item_type"], it["item_id"], float(x), float(y))
                                      for it, (x, y) in zip(items, coords, strict=True)])
    store.close()
    map_warm_s, drawn = warm_map(path, params)
    figures = {"n": len(items), "points": len(items), "map_warm_s": round(map_warm_s, 3), "drawn_points": drawn,
               "mode": "warm-only (random points)"}
    if not no_page:
        figures["page_warm_s"] = round(page_warm(path), 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="synthetic samples (plus ~100 sample seeds)")
    parser.add_argument("--fit-sample", type=int, default=5000, help="UMAP is fitted on at most this many points")
    parser.add_argument("--db", type=Path, help="store path (default: a temporary directory)")
    parser.add_argument("--no-page", action="store_true", help="skip the AppTest page timing")
    parser.add_argument("--warm-only", action="store_true",
                        help="skip embedding and UMAP: place points at random and time only the warm map and page")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        store = build_store(path, args.n)
        params = MapParams(fit_sample=args.fit_sample)
        save_params(store, params)
        items = store.analysis_items()
        if args.warm_only:
            figures = warm_only(store, path, params, items, args.no_page)
            print(json.dumps(figures) if args.json else figures)
            return

        started = time.perf_counter()
        load_model()
        model_load_s = time.perf_counter() - started
        started = time.perf_counter()
        start_warm_up(params.metric)
        embed_texts(store, [item["instruction"] for item in items])
        embed_s = time.perf_counter() - started

        started = time.perf_counter()
        result = project(store, params)
        umap_cold_s = time.perf_counter() - started
        store.close()

        map_warm_s, drawn = warm_map(path, params)
        figures = {
            "n": args.n,
            "points": result.total_points,
            "fit_points": result.fit_points,
            "transformed_points": result.placed,
            "model_load_s": round(model_load_s, 2),
            "embed_s": round(embed_s, 2),
            "texts_per_s": round(len(items) / embed_s, 1),
            "umap_cold_s": round(umap_cold_s, 2),
            "umap_fit_s": round(result.timings.get("fit_s", 0.0), 2),
            "umap_transform_s": round(result.timings.get("transform_s", 0.0), 2),
            "cold_total_s": round(embed_s + umap_cold_s, 2),
            "map_warm_s": round(map_warm_s, 3),
            "drawn_points": drawn,
        }
        if not args.no_page:
            figures["page_warm_s"] = round(page_warm(path), 3)
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
