"""The layout's rules (issue 19): no import cycle in workbench/, no streamlit in workbench/, no module over
700 lines, and each page imports only its own stage's package and the shared parts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKBENCH = ROOT / "workbench"
MAX_LINES = 700
# Modules allowed over the limit, with the reason; nothing else may be.
KNOWN_LONG = {
    "workbench.verify.verifiers.code_harness": (
        "the program the code verifier runs in its sandbox, read as ONE source file and run with `python -I "
        "-S -c` (verifiers/code.py): splitting it means joining the parts again at run time"
    ),
}
STAGES = {"analysis", "evolve", "factory", "magpie", "review", "seeds", "student", "verify"}
# page (file stem) -> the stage package it belongs to (None: shared parts only). A new page needs a line here.
PAGE_STAGES = {
    "home": "factory",
    "overview": "factory",
    "seeds": "seeds",
    "student": "student",
    "_probes": "student",
    "evolution": "evolve",
    "magpie": "magpie",
    "verifier": "verify",
    "calibration": "verify",
    "_labelling": "verify",
    "maps": "analysis",
    "distributions": "analysis",
    "_analysis": "analysis",
    "review": "review",
    "export": "review",
    "decontamination": "review",
    "_contamination": "review",
    "jobs": None,
    "settings": None,
    "_shared": None,
    "__init__": None,
}
# A page's imports of another stage, with the reason; nothing else may.
PAGE_EXTRA = {
    # the Seeds page checks a seed's reference (its tests, or its answer) with the verifiers' own check
    # (verify.reference_check), and probes the student, showing its wrong answers beside the reference (through
    # pages/_probes.py)
    "seeds": {"verify", "student"},
    # the Student page's frontier selection starts an evolution job (workbench.evolve.job.submit_evolve)
    "student": {"evolve"},
    # Settings holds the student model beside the teacher (workbench.student.settings)
    "settings": {"student"},
    # the Distributions page's entropy frontier is the Overview's (factory.overview.entropy_by_depth: the gate's pass
    # rate per depth)
    "distributions": {"factory"},
}
# Imports that run inside a function and close a loop on purpose, with the reason; nothing else may.
DEFERRED_BACK_EDGES: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(WORKBENCH.rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every dotted name `path` imports (a module, or a module's attribute), at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def imported_modules(path: Path) -> set[str]:
    """Every workbench module `path` imports, at the top or inside a function."""
    return {name for name in imported_names(path) if name in MODULES}


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a cycle to break."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_loop_and_ignores_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_among_workbench_modules():
    graph = import_graph()
    for source, target in DEFERRED_BACK_EDGES:
        graph[source].discard(target)
    assert cycles(graph) == []


def test_the_deferred_back_edges_still_exist():
    graph = import_graph()
    assert [edge for edge in DEFERRED_BACK_EDGES if edge[1] not in graph.get(edge[0], set())] == []


def test_workbench_never_imports_streamlit():
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [name for m in modules if m.split(".")[0] == "streamlit"]
    assert offenders == []


def test_no_workbench_module_is_over_700_lines():
    long = {name for name, path in MODULES.items() if len(path.read_text().splitlines()) > MAX_LINES}
    assert long - set(KNOWN_LONG) == set()
    assert set(KNOWN_LONG) - long == set(), "a module in KNOWN_LONG is short now: take it off the list"


def test_the_pipeline_imports_every_stage_job_module():
    pipeline = imported_modules(WORKBENCH / "pipeline.py")
    jobs = {name for name in MODULES if name.endswith(".job") or name.endswith("_job")}
    assert jobs - pipeline == set()


def test_no_stage_imports_the_pipeline():
    assert sorted(name for name, path in MODULES.items() if "workbench.pipeline" in imported_modules(path)) == []


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_a_page_imports_only_its_stage_and_the_shared_parts(page: Path):
    assert page.stem in PAGE_STAGES, f"pages/{page.name} is in no stage: add it to PAGE_STAGES"
    own = PAGE_STAGES[page.stem]
    allowed = {own} | PAGE_EXTRA.get(page.stem, set())
    foreign = set()
    for name in imported_names(page):
        parts = name.split(".")
        if parts[0] == "workbench" and len(parts) > 1 and parts[1] in STAGES and parts[1] not in allowed:
            foreign.add(".".join(parts[:2]))
    assert foreign == set()
