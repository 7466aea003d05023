"""UMAP 2-D maps of seeds and samples, cached in the store by (item set, embedding model, parameters).

A projection is fitted once, on every item or (at large N) on a sample of them that always
holds the seeds, and the fitted reducer is stored with it. Items that arrive later are placed
with `transform` into the same map instead of refitting, so the picture stays stable while the
data set grows. Refitting is an explicit choice.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.embeddings import embed_texts, model_name
from workbench.store import Store
from workbench.umap_jit import import_umap

ITEM_SET = "seeds+samples"
PARAMS_KEY = "map_params"
METRICS = ("cosine", "euclidean", "manhattan", "correlation")
MIN_POINTS = 4
TRANSFORM_CHUNK = 5000


@dataclass(frozen=True)
class MapParams:
    """The UMAP parameters of a map; fit_sample caps how many points the reducer is fitted on."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    fit_sample: int = 5000
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
        return self


@dataclass
class ProjectionResult:
    key: str
    fitted: bool = False
    fit_points: int = 0
    placed: int = 0
    total_points: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def projection_key(model: str, params: MapParams, item_set: str = ITEM_SET) -> str:
    """The cache key of a map: what was projected, with which embeddings, with which parameters."""
    payload = json.dumps({"set": item_set, "model": model, **params.to_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def current_params(store: Store) -> MapParams:
    return MapParams.from_dict(store.get_setting(PARAMS_KEY))


def save_params(store: Store, params: MapParams) -> None:
    store.set_setting(PARAMS_KEY, params.validated().to_dict())


def current_key(store: Store) -> str:
    """The key of the map the Maps page shows: the configured model and parameters."""
    return projection_key(model_name(store), current_params(store))


def make_reducer(params: MapParams, n_points: int):  # -> umap.UMAP (imported lazily: numba is slow to import)
    """The UMAP reducer for these parameters, its neighbour count capped by the number of points."""
    return import_umap().UMAP(
        n_neighbors=max(2, min(params.n_neighbors, n_points - 1)),
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        init="spectral" if n_points > 50 else "random",  # spectral init needs a decent graph
        n_jobs=1 if params.random_state is not None else -1,
    )


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
    place every seed and sample not on it yet with the fitted reducer's `transform`."""
    params = (params or current_params(store)).validated()
    model = model or model_name(store)
    key = projection_key(model, params)
    started = time.perf_counter()
    result = ProjectionResult(key)
    existing = None if refit else store.get_projection(key)
    if existing is not None:
        store.prune_projection_points(key)
        items = store.unplaced_items(key)
    else:
        items = store.analysis_items()
        if len(items) < MIN_POINTS:
            raise ValueError(f"a map needs at least {MIN_POINTS} seeds or samples; the store has {len(items)}")
    if items:
        clock = time.perf_counter()
        vectors = embed_texts(store, [item["instruction"] for item in items], model)
        result.timings["embed_s"] = time.perf_counter() - clock
        if existing is None:
            clock = time.perf_counter()
            chosen = fit_indices([item["item_type"] for item in items], params.fit_sample, params.random_state or 0)
            reducer = make_reducer(params, len(chosen))
            coords = reducer.fit_transform(vectors[chosen])
            stored = {**params.to_dict(), "model": model, "item_set": ITEM_SET, "fit_points": len(chosen)}
            store.save_projection(key, stored, pickle.dumps(reducer))
            store.add_projection_points(key, _points(items, chosen, coords))
            result.fitted, result.fit_points = True, len(chosen)
            result.timings["fit_s"] = time.perf_counter() - clock
            rest = np.setdiff1d(np.arange(len(items)), chosen)
        else:
            import_umap()  # before unpickling, so the reducer's compiled code comes from the disk cache
            reducer = pickle.loads(existing["reducer"])
            rest = np.arange(len(items))
        clock = time.perf_counter()
        for start in range(0, len(rest), TRANSFORM_CHUNK):
            chunk = rest[start : start + TRANSFORM_CHUNK]
            store.add_projection_points(key, _points(items, chunk, reducer.transform(vectors[chunk])))
        result.placed = len(rest)
        result.timings["transform_s"] = time.perf_counter() - clock
    result.total_points = store.projection_point_count(key)
    result.seconds = time.perf_counter() - started
    return result


def _points(items: list[dict], indices: np.ndarray, coords: np.ndarray) -> list[tuple[str, int, float, float]]:
    return [
        (items[i]["item_type"], items[i]["item_id"], float(x), float(y))
        for i, (x, y) in zip(indices, coords, strict=True)
    ]
