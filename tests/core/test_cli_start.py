"""The CLI starts at once: building the parser and running a command that calls no model imports no heavy library.

Each command runs in a fresh interpreter (as a user's shell runs it), which then reports the modules it loaded.
No timing is asserted here; `python -m benchmarks.cli_start --json` measures the start against sqlite-utils.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("litellm", "torch", "sentence_transformers", "presidio_analyzer", "presidio_anonymizer", "spacy",
         "transformers", "ray", "onnxruntime", "umap", "streamlit", "openai")
RUN_AND_REPORT = """
import json, sys
from workbench.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\nLOADED " + json.dumps(sorted({name.split(".")[0] for name in sys.modules})), flush=True)
"""


def loaded_modules(args: list[str], db: Path) -> tuple[set[str], str]:
    """The top-level packages a fresh `workbench ARGS` process had imported when it finished, and its output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_DB": str(db)}
    done = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, "--db", str(db), *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300, check=False)
    assert "LOADED " in done.stdout, done.stderr[-3000:]
    output, _, loaded = done.stdout.rpartition("LOADED ")
    return set(json.loads(loaded)), output


@pytest.mark.parametrize("args", [["seeds", "list", "--json"], ["--help"], ["jobs", "list", "--json"]],
                         ids=["seeds list", "help", "jobs list"])
def test_a_command_that_calls_no_model_imports_no_heavy_library(args, store, db_path):
    store.seeds.insert_seeds([{"instruction": "What is 2 + 2?", "reference_answer": "4"}])
    loaded, output = loaded_modules(args, db_path)
    assert not loaded & set(HEAVY), f"`workbench {' '.join(args)}` imported {sorted(loaded & set(HEAVY))}"
    if args[0] == "seeds":  # and it still answers
        assert json.loads(output)[0]["instruction"] == "What is 2 + 2?"
    if args[0] == "--help":
        assert "worker" in output
