"""The layout's rules (issues 19 and 28): no import cycle in workbench/, no streamlit in workbench/, no module
over 700 lines, each page (views/) imports only its own stage's package and the shared parts and holds no SQL,
workbench/core imports no stage, and every table is written by its owner alone (the class whose TABLES names it)."""

from __future__ import annotations

import ast
import re
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
STAGES = {"analyse", "evolve", "export", "factory", "formats", "magpie", "review", "safety", "seeds", "student",
          "verify"}
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
    "maps": "analyse",
    "distributions": "analyse",
    "_analysis": "analyse",
    "review": "review",
    "export": "export",
    "decontamination": "safety",
    "_contamination": "safety",
    "jobs": None,
    "settings": None,
    "_shared": None,
    "__init__": None,
}
# A page's imports of another stage, with the reason; nothing else may.
PAGE_EXTRA = {
    # the Seeds page checks a seed's reference (its tests, or its answer) with the verifiers' own check
    # (verify.reference_check), and probes the student, showing its wrong answers beside the reference (through
    # views/_probes.py); its file picker lists the suffixes the one reader family reads (formats.record_files)
    "seeds": {"verify", "student", "formats"},
    # the Student page's frontier selection starts an evolution job (workbench.evolve.job.submit_evolve)
    "student": {"evolve"},
    # Settings holds the student model beside the teacher (workbench.student.settings)
    "settings": {"student"},
    # the Distributions page's entropy frontier is the Overview's (factory.overview.entropy_by_depth: the gate's pass
    # rate per depth)
    "distributions": {"factory"},
    # the Review page imports samples (formats: the one reader family) and shows and marks PII findings (safety)
    "review": {"formats", "safety"},
    # the Export page reads uploaded preference pairs (formats), the approved mix (review.mix) and the PII policy
    # (safety) before it writes
    "export": {"formats", "review", "safety"},
    # the Decontamination page's file picker lists the suffixes the one reader family reads (formats.record_files)
    "decontamination": {"formats"},
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


@pytest.mark.parametrize("page", sorted((ROOT / "views").glob("*.py")), ids=lambda p: p.name)
def test_a_page_imports_only_its_stage_and_the_shared_parts(page: Path):
    assert page.stem in PAGE_STAGES, f"views/{page.name} is in no stage: add it to PAGE_STAGES"
    own = PAGE_STAGES[page.stem]
    allowed = {own} | PAGE_EXTRA.get(page.stem, set())
    foreign = set()
    for name in imported_names(page):
        parts = name.split(".")
        if parts[0] == "workbench" and len(parts) > 1 and parts[1] in STAGES and parts[1] not in allowed:
            foreign.add(".".join(parts[:2]))
    assert foreign == set()


# Statements that write a table: INSERT (OR ...) INTO, REPLACE INTO, UPDATE (OR ...), DELETE FROM; an upsert is an
# INSERT (its DO UPDATE SET is no second write). The table is the first name after the verb; SQL is written in capitals
# here, so prose ("update the sample") is no statement. A temp.* table is one connection's scratch space: no one's.
WRITE = re.compile(r"\b(?:INSERT\s+(?:OR\s+[A-Z]+\s+)?INTO|REPLACE\s+INTO|(?<!DO )UPDATE(?:\s+OR\s+[A-Z]+)?|"
                   r"DELETE\s+FROM)\s+(?!temp\.)([A-Za-z_]\w*)")
# Modules that create and migrate the schema (they write every table once, when a store is made or upgraded).
SCHEMA_MODULES = {"workbench.core.schema", "workbench.core.store"}


SELECT = re.compile(r"\bSELECT\b[\s\S]+?\bFROM\s+[A-Za-z_]")
CURSOR_CALLS = {"execute", "executemany", "executescript"}


def test_a_view_holds_no_sql():
    """Views are thin (views/*.py): they read the store through its owners, never with SQL of their own."""
    found = []
    for path in sorted((ROOT / "views").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    SELECT.search(node.value) or WRITE.search(node.value)):
                found.append(f"views/{path.name}:{node.lineno} {node.value[:60]!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in CURSOR_CALLS:
                found.append(f"views/{path.name}:{node.lineno} {ast.unparse(node)[:60]}")
    assert found == []


def owners() -> dict[str, str]:
    """table -> the module of the class whose TABLES tuple names it (one owner per table, else the test fails)."""
    found: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (isinstance(item, ast.Assign) and [getattr(t, "id", None) for t in item.targets] == ["TABLES"]
                            and isinstance(item.value, ast.Tuple)):
                        for element in item.value.elts:
                            found.setdefault(element.value, []).append(name)
    assert {table: names for table, names in found.items() if len(names) > 1} == {}, "a table with two owners"
    return {table: names[0] for table, names in found.items()}


def writers() -> dict[str, set[str]]:
    """table -> every module with a string that writes it (SQL lives in strings; f-strings count by their parts)."""
    found: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if name in SCHEMA_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for table in WRITE.findall(node.value):
                    found.setdefault(table.lower(), set()).add(name)
    return found


def schema_tables() -> set[str]:
    text = (WORKBENCH / "core" / "schema.py").read_text()
    return {t.lower() for t in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([A-Za-z_]\w*)", text)}


def test_the_write_pattern_finds_every_kind_of_write():
    statements = ["INSERT INTO a (x) VALUES (1)", "INSERT OR REPLACE INTO b VALUES (1)", "REPLACE INTO c VALUES (1)",
                  "UPDATE d SET x = 1", "UPDATE OR IGNORE e SET x = 1", "DELETE FROM f WHERE 1",
                  "INSERT INTO g (x) VALUES (1) ON CONFLICT (x) DO UPDATE SET x = excluded.x"]
    assert [WRITE.findall(s)[0] for s in statements] == ["a", "b", "c", "d", "e", "f", "g"]


def test_every_table_has_one_owner():
    assert schema_tables() - set(owners()) == set(), "a table no class owns: name it in its owner's TABLES"
    assert set(owners()) - schema_tables() == set(), "an owner names a table the schema does not create"


def test_only_a_tables_owner_writes_it():
    table_owners = owners()
    strangers = {table: sorted(modules - {table_owners.get(table)}) for table, modules in writers().items()}
    assert {table: modules for table, modules in strangers.items() if modules} == {}


def test_every_table_is_written_by_exactly_one_module():
    assert {table: sorted(modules) for table, modules in writers().items() if len(modules) != 1} == {}


def test_workbench_core_imports_no_stage():
    """The lower layer (workbench/core) never reaches up: not to workbench.store (the composed store), not to a stage;
    the worker finds the stages through workbench.pipeline, imported by name."""
    up = {(name, target) for name, path in MODULES.items() if name.startswith("workbench.core")
          for target in imported_modules(path) if not target.startswith("workbench.core")}
    assert sorted(up) == []
