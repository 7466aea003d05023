"""UMAP's compiled code: numba's disk cache is on for it; a cosine map never runs pynndescent's uncacheable
nn_descent (exact neighbours instead); for other metrics the warm-up compiles what a real fit needs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from workbench.analyse.umap_jit import import_umap


def test_every_compiled_umap_function_caches_to_disk():
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    import_umap()
    dispatchers = [value for name, module in list(sys.modules.items()) if name.split(".")[0] == "umap"
                   for value in vars(module).values() if isinstance(value, Dispatcher)]
    assert len(dispatchers) > 50
    assert [d.py_func.__qualname__ for d in dispatchers if isinstance(d._cache, NullCache)] == []


def run_fresh(script: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_a_cosine_map_fits_and_places_points_without_compiling_nn_descent():
    """In a fresh process: a cosine map of 4,200 points (UMAP's approximate-neighbour size) and the placing of new
    points take their neighbours from the exact index, so pynndescent's nn_descent is never compiled."""
    run_fresh("""
        import numpy as np
        from pynndescent.pynndescent_ import nn_descent
        from workbench.analyse.maps import MapParams, make_reducer

        vectors = np.random.default_rng(1).normal(size=(4300, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        reducer = make_reducer(MapParams(), vectors[:4200])
        coords = reducer.fit_transform(vectors[:4200])
        placed = reducer.transform(vectors[4200:])
        assert coords.shape == (4200, 2) and placed.shape == (100, 2) and np.isfinite(placed).all()
        assert not nn_descent.overloads, "nn_descent was compiled"
        print("ok")
    """)


@pytest.mark.slow
def test_warm_up_compiles_what_a_real_euclidean_map_fit_then_needs():
    """In a fresh process: after the warm-up, fitting a euclidean map on 4,200 points (the approximate-neighbour
    path) and placing new points compiles no new version of the uncacheable nearest-neighbour descent."""
    run_fresh("""
        import numpy as np
        from pynndescent.pynndescent_ import nn_descent
        from workbench.analyse.maps import MapParams, make_reducer
        from workbench.analyse.umap_jit import start_warm_up

        start_warm_up("euclidean").join()
        compiled = set(nn_descent.overloads)
        assert compiled, "the warm-up compiled nothing"
        vectors = np.random.default_rng(1).normal(size=(4300, 16)).astype(np.float32)
        reducer = make_reducer(MapParams(metric="euclidean"), vectors[:4200])
        coords = reducer.fit_transform(vectors[:4200])
        placed = reducer.transform(vectors[4200:])
        assert coords.shape == (4200, 2) and placed.shape == (100, 2)
        assert set(nn_descent.overloads) == compiled, "the fit compiled a signature the warm-up missed"
        print("ok")
    """)
