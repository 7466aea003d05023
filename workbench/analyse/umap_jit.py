"""UMAP's compiled code: numba's disk cache turned on for it, and a warm-up that compiles the rest early.

umap-learn (and part of pynndescent) compile their numba functions without `cache=True`, so every new
worker process spent about 35 s compiling before its first map. `import_umap` turns the cache on for
those functions right after import. Numba keys the cache by source file, its timestamp and the
signature, and keeps it in the package's `__pycache__` (or its user-wide cache directory where that
is read-only), so an upgrade of either library recompiles.

Two pynndescent functions (`nn_descent` and its inner loop) hold a global array and cannot be cached:
they still take about 11 s to compile once per process. `start_warm_up` compiles them on a tiny data
set in a background thread; the embed job starts it, so the compiling overlaps the embedding that
comes before every new map. (Numba compiles under one global lock and looks for a finished
compilation before starting its own, so a fit that arrives early simply waits for it.)
"""

from __future__ import annotations

import sys
import threading
import warnings
from functools import cache
from types import ModuleType

import numpy as np

JIT_PACKAGES = ("umap", "pynndescent")
APPROXIMATE_FROM = 4096  # umap-learn finds neighbours exactly below this many points, with pynndescent from here on

_warm_up_lock = threading.Lock()
_warm_ups: dict[str, threading.Thread] = {}


@cache
def import_umap() -> ModuleType:
    """The umap module, with numba's disk cache on for every compiled function of umap and pynndescent."""
    import umap
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher
    from numba.core.errors import NumbaWarning

    warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=NumbaWarning)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in JIT_PACKAGES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                try:
                    value.enable_caching()
                except RuntimeError:  # no place to write a cache for this function's file
                    continue
    return umap


def warm_up(metric: str = "cosine") -> None:
    """Compile what a fit and a transform with this metric need, on 64 random points (the approximate
    nearest-neighbour path a real map takes, forced)."""
    umap = import_umap()
    data = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    reducer = umap.UMAP(n_neighbors=5, metric=metric, init="random", n_epochs=5,
                        force_approximation_algorithm=True)
    reducer.fit(data)
    reducer.transform(data[:4])


def _warm_up_quietly(metric: str) -> None:
    try:
        warm_up(metric)
    except Exception:  # noqa: BLE001 - only a head start: the real fit compiles again and reports any error
        return


def needs_warm_up(fit_points: int) -> bool:
    """Whether a fit on this many points takes the approximate path that the warm-up compiles (below it the
    warm-up would only hold numba's compile lock while the fit waits)."""
    return fit_points >= APPROXIMATE_FROM


def start_warm_up(metric: str = "cosine") -> threading.Thread:
    """Warm up UMAP for this metric in a background thread, once per process; the thread is returned."""
    with _warm_up_lock:
        if metric not in _warm_ups:
            thread = threading.Thread(target=_warm_up_quietly, args=(metric,), name=f"umap-warm-up-{metric}",
                                      daemon=True)
            _warm_ups[metric] = thread
            thread.start()
        return _warm_ups[metric]


if __name__ == "__main__":  # `python -m workbench.analyse.umap_jit`: fill numba's disk cache once, at install time
    warm_up()
