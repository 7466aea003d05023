"""UMAP 2-D maps of seeds and samples, cached in the store by (item set, embedding model, parameters).

What a map means is a parameter: by default each point is the embedding of the item's instruction (so the
map shows what the data asks); `text="instruction+answer"` embeds the instruction followed by its answer
(a seed's reference answer, a sample's output) to show what it asks and answers.

A projection is fitted once, on every distinct text or (at large N) on a sample of them that always
holds the seeds, and the fitted reducer is stored with it. Texts that arrive later are placed with
`transform` into the same map instead of refitting, so the picture stays stable while the data set
grows. Refitting is an explicit choice.

Every distinct text is projected once and all items with that text share its point, so identical texts
get identical coordinates (UMAP itself would scatter copies apart). A text that gets no finite position
is left off the map and counted, never stored as NaN. Below MIN_POINTS distinct texts there is no map:
the result says "too few points to map".
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.analyse.umap_jit import import_umap, needs_warm_up
from workbench.core.embeddings import embed_texts, model_name
from workbench.core.wording import plural
from workbench.store import Store, text_hash

ITEM_SET = "seeds+samples"
PARAMS_KEY = "map_params"
METRICS = ("cosine", "euclidean", "manhattan", "correlation")
TEXTS = {"instruction": "the instruction", "instruction+answer": "the instruction and its answer"}
MIN_POINTS = 3  # UMAP needs a neighbour graph: with 2 points it has none
TRANSFORM_CHUNK = 5000


@dataclass(frozen=True)
class MapParams:
    """The parameters of a map: UMAP's (n_neighbors, min_dist, metric, n_epochs: None = UMAP's default), how many
    distinct texts the reducer is fitted on at most (fit_sample), and which text of an item is embedded."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    fit_sample: int = 5000
    n_epochs: int | None = 200  # UMAP's own default above 10k points; its 500 below cost 1.5 s more at 5k texts
    text: str = "instruction"
    random_state: int | None = None

    @classmethod
    def from_dict(cls, values: dict | None) -> MapParams:
        known = {k: v for k, v in (values or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)

    def validated(self) -> MapParams:
        """These parameters, or ValueError with a message a user can act on."""
        if self.metric not in METRICS:
            raise ValueError(f"unknown UMAP metric {self.metric!r}; use one of {', '.join(METRICS)}")
        if not 2 <= self.n_neighbors <= 200:
            raise ValueError("n_neighbors must be between 2 and 200")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ValueError("min_dist must be between 0 and 1")
        if self.fit_sample < MIN_POINTS:
            raise ValueError(f"fit_sample must be at least {MIN_POINTS}")
        if self.n_epochs is not None and not 10 <= self.n_epochs <= 2000:
            raise ValueError("n_epochs must be between 10 and 2000 (or empty for UMAP's default)")
        if self.text not in TEXTS:
            raise ValueError(f"unknown map text {self.text!r}; use one of {', '.join(TEXTS)}")
        return self


@dataclass
class ProjectionResult:
    """What `project` did: fit_points (distinct texts the reducer was fitted on), transformed (distinct texts
    placed with transform), placed (points written, one per seed/sample), total_points (on the map now),
    unplaced (items left off: UMAP gave their text no finite position), too_few (no map: fewer than
    MIN_POINTS distinct texts; `message` says so)."""

    key: str
    text: str = "instruction"
    fitted: bool = False
    fit_points: int = 0
    transformed: int = 0
    placed: int = 0
    total_points: int = 0
    unplaced: int = 0
    too_few: bool = False
    message: str | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def projection_key(model: str, params: MapParams, item_set: str = ITEM_SET) -> str:
    """The cache key of a map: what was projected, with which embeddings, with which parameters."""
    payload = json.dumps({"set": item_set, "model": model, **params.to_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def current_params(store: Store) -> MapParams:
    return MapParams.from_dict(store.settings.get_setting(PARAMS_KEY))


def save_params(store: Store, params: MapParams) -> None:
    store.settings.set_setting(PARAMS_KEY, params.validated().to_dict())


def current_key(store: Store) -> str:
    """The key of the map the Maps page shows: the configured model and parameters."""
    return projection_key(model_name(store), current_params(store))


def map_text(item: dict, text: str = "instruction") -> str:
    """The text of an item (a dict with instruction and answer) that a map with this `text` setting embeds."""
    answer = (item.get("answer") or "").strip()
    if text == "instruction+answer" and answer:
        return f"{item['instruction']}\n\n{answer}"
    return item["instruction"]


def too_few_message(items: int, distinct: int) -> str:
    return (f"too few points to map: {plural(items, 'seed or sample', 'seeds or samples')} with {plural(distinct, 'distinct text')}; "
            f"a map needs at least {MIN_POINTS}")


class ExactCosineIndex:
    """Exact nearest neighbours by cosine distance among a map's fitted (L2-normalised) vectors, with the
    `query(X, k, epsilon)` of pynndescent's NNDescent that UMAP's `transform` calls on its search index.

    Maps of cosine distance get their neighbours from this index (a matrix product per block) rather than
    from pynndescent: at the few thousand points a map is fitted on that is exact and takes a second, and it
    skips pynndescent's `nn_descent`, the one part of UMAP that numba cannot cache (about 12 s of compiling
    in every new worker process on 2 cores).
    """

    _angular_trees = True  # what UMAP's transform reads to choose pynndescent's search epsilon (unused here)
    BLOCK = 2048

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def query(self, queries: np.ndarray, k: int, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest fitted vectors of each query: (indices int32, cosine distances float32), nearest first."""
        k = min(k, len(self.vectors))
        indices = np.empty((len(queries), k), dtype=np.int32)
        distances = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), self.BLOCK):
            similarity = np.asarray(queries[start : start + self.BLOCK], dtype=np.float32) @ self.vectors.T
            top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            indices[start : start + len(top)] = top
            distances[start : start + len(top)] = np.maximum(0.0, 1.0 - np.take_along_axis(similarity, top, axis=1))
        return indices, distances


def make_reducer(params: MapParams, vectors: np.ndarray):  # -> umap.UMAP (imported lazily: numba is slow to import)
    """The UMAP reducer for these parameters and the vectors it will be fitted on, its neighbour count capped
    by their number; a cosine map gets its neighbours (and later its transform's) from an ExactCosineIndex."""
    n_points = len(vectors)
    n_neighbors = max(2, min(params.n_neighbors, n_points - 1))
    precomputed: tuple = (None, None, None)
    if params.metric == "cosine":
        index = ExactCosineIndex(vectors)
        precomputed = (*index.query(vectors, n_neighbors), index)  # each point is its own nearest, as UMAP expects
    return import_umap().UMAP(
        n_neighbors=n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        n_epochs=params.n_epochs,
        random_state=params.random_state,
        init="spectral" if n_points > 50 else "random",  # spectral init needs a decent graph
        n_jobs=1 if params.random_state is not None else -1,
        precomputed_knn=precomputed,
    )


def warm_up_helps(params: MapParams, n_points: int) -> bool:
    """Whether compiling UMAP's uncacheable code early (`umap_jit.start_warm_up`) would help a fit on this many
    points: only a map of another metric than cosine at UMAP's approximate-neighbour sizes runs that code."""
    return params.metric != "cosine" and needs_warm_up(min(n_points, params.fit_sample))


def fit_indices(item_types: list[str], limit: int, seed: int = 0) -> np.ndarray:
    """Which items to fit on: all when there are few, else every seed plus a random sample of the rest."""
    n = len(item_types)
    if n <= limit:
        return np.arange(n)
    seeds = np.array([i for i, t in enumerate(item_types) if t == "seed"], dtype=np.int64)[:limit]
    others = np.array([i for i, t in enumerate(item_types) if t != "seed"], dtype=np.int64)
    chosen = np.random.default_rng(seed).choice(others, size=limit - len(seeds), replace=False)
    return np.sort(np.concatenate([seeds, chosen]))


def project(store: Store, params: MapParams | None = None, model: str | None = None, refit: bool = False,
            ) -> ProjectionResult:
    """Bring the map for (model, params) up to date: fit it if it does not exist (or refit is asked), then
    place every seed and sample not on it yet: a text already on the map takes its point, a new text is
    placed with the fitted reducer's `transform`. Each finished step is written at once (a rerun resumes)."""
    params = (params or current_params(store)).validated()
    model = model or model_name(store)
    key = projection_key(model, params)
    started = time.perf_counter()
    result = ProjectionResult(key, text=params.text)
    items = store.analyse.analysis_items()
    hashes = [text_hash(map_text(item, params.text)) for item in items]
    existing = None if refit else store.analyse.get_projection(key)
    if existing is None:
        texts = {h: map_text(item, params.text) for h, item in zip(hashes, items, strict=True)}
        if len(texts) < MIN_POINTS:
            result.too_few, result.message = True, too_few_message(len(items), len(texts))
            result.seconds = time.perf_counter() - started
            return result
        placed: dict[str, tuple[float, float]] = {}
        reducer = _fit(store, params, model, items, hashes, texts, placed, result)
    else:
        store.analyse.prune_projection_points(key)
        on_map = store.analyse.projection_coordinates(key)
        placed = {h: on_map[(item["item_type"], item["item_id"])]
                  for h, item in zip(hashes, items, strict=True) if (item["item_type"], item["item_id"]) in on_map}
        result.placed += _place(store, key, items, hashes, placed, on_map)  # new items with a text on the map
        texts = {h: map_text(item, params.text) for h, item in zip(hashes, items, strict=True)
                 if (item["item_type"], item["item_id"]) not in on_map and h not in placed}
        import_umap()  # before unpickling, so the reducer's compiled code comes from the disk cache
        reducer = pickle.loads(existing["reducer"]) if texts else None
    if texts and reducer is not None:
        _transform(store, key, reducer, model, items, hashes, texts, placed, result)
    total = store.analyse.projection_point_count(key)
    result.unplaced = len(items) - total
    result.total_points = total
    if result.unplaced:
        result.message = (f"{plural(result.unplaced, 'seed or sample', 'seeds or samples')} were left off the map: UMAP gave their text no finite "
                          "position")
    result.seconds = time.perf_counter() - started
    return result


def _fit(store: Store, params: MapParams, model: str, items: list[dict], hashes: list[str], texts: dict[str, str],
         placed: dict[str, tuple[float, float]], result: ProjectionResult):
    """Fit the reducer on (a sample of) the distinct texts, store it and their points; the texts still to
    place are left in `texts`. Returns the reducer."""
    seed_texts = {h for h, item in zip(hashes, items, strict=True) if item["item_type"] == "seed"}
    order = list(texts)
    chosen = fit_indices(["seed" if h in seed_texts else "sample" for h in order], params.fit_sample,
                         params.random_state or 0)
    fit_hashes = [order[i] for i in chosen]
    clock = time.perf_counter()
    vectors = embed_texts(store, [texts[h] for h in fit_hashes], model)
    result.timings["embed_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    reducer = make_reducer(params, vectors)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not an NNDescent object", category=UserWarning)
        coords = reducer.fit_transform(vectors)
    stored = {**params.to_dict(), "model": model, "item_set": ITEM_SET, "fit_points": len(fit_hashes)}
    store.analyse.save_projection(result.key, stored, pickle.dumps(reducer))  # drops an earlier fit's points
    _remember(placed, fit_hashes, coords)
    result.placed += _place(store, result.key, items, hashes, placed)
    result.fitted, result.fit_points = True, len(fit_hashes)
    result.timings["fit_s"] = time.perf_counter() - clock
    for h in fit_hashes:
        del texts[h]
    return reducer


def _transform(store: Store, key: str, reducer, model: str, items: list[dict], hashes: list[str],
               texts: dict[str, str], placed: dict[str, tuple[float, float]], result: ProjectionResult) -> None:
    """Place new distinct texts with the fitted reducer, a chunk at a time, with every item that has them."""
    order = list(texts)
    for start in range(0, len(order), TRANSFORM_CHUNK):
        chunk = order[start : start + TRANSFORM_CHUNK]
        clock = time.perf_counter()
        vectors = embed_texts(store, [texts[h] for h in chunk], model)
        result.timings["embed_s"] = result.timings.get("embed_s", 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()
        _remember(placed, chunk, reducer.transform(vectors))
        result.transformed += len(chunk)
        result.placed += _place(store, key, items, hashes, placed, wanted=set(chunk))
        result.timings["transform_s"] = result.timings.get("transform_s", 0.0) + time.perf_counter() - clock


def _remember(placed: dict[str, tuple[float, float]], hashes: list[str], coords: np.ndarray) -> None:
    """Record each text's position; a text without a finite position is left out (and so off the map)."""
    for h, (x, y) in zip(hashes, np.asarray(coords, dtype=np.float64), strict=True):
        if np.isfinite(x) and np.isfinite(y):
            placed[h] = (float(x), float(y))


def _place(store: Store, key: str, items: list[dict], hashes: list[str], placed: dict[str, tuple[float, float]],
           on_map: dict | None = None, wanted: set[str] | None = None) -> int:
    """Store a point for every item whose text has a position (only texts in `wanted`, when given), skipping
    items already on the map. Returns how many points were written."""
    points = [
        (item["item_type"], item["item_id"], *placed[h])
        for h, item in zip(hashes, items, strict=True)
        if h in placed and (wanted is None or h in wanted)
        and (on_map is None or (item["item_type"], item["item_id"]) not in on_map)
    ]
    store.analyse.add_projection_points(key, points)
    return len(points)
