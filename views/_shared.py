"""Helpers every page uses: the store for this script run, the worker, small shared widgets."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import streamlit as st

from workbench.core.env import default_db_path
from workbench.core.jobs.queue import eta_seconds
from workbench.core.jobs.worker import ensure_worker
from workbench.core.model_names import is_bundled_model
from workbench.core.model_text import blocks
from workbench.core.wording import plural
from workbench.store import Store, open_store


def db_path() -> Path:
    """`streamlit run app.py -- --db PATH`, else $WORKBENCH_DB, else the user data directory."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", type=Path)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.db or default_db_path()


def store() -> Store:
    """A store connection for this script run (connections are cheap; one per run keeps threads apart)."""
    return open_store(db_path())


def page_header(title: str, caption: str, message_key: str, help: str | None = None) -> Store:
    """A page's opening: its title, its purpose in a caption (`help`: a glossary tooltip on it), the store for this
    run (`store()`), and the success message the previous run's action left in `st.session_state[message_key]`,
    shown once."""
    st.title(title)
    st.caption(caption, help=help)
    db = store()
    if message := st.session_state.pop(message_key, None):
        st.success(message)
    return db


def start_worker_once() -> None:
    """Make sure a worker serves this store (one flock probe; set WORKBENCH_NO_WORKER=1 to manage it yourself).
    The worker the app starts stops when the app stops; one started by hand (`workbench worker`) is left alone."""
    if os.environ.get("WORKBENCH_NO_WORKER") != "1":
        ensure_worker(db_path(), stop_with_parent=True)


APP_ROOT = Path(__file__).resolve().parent.parent


def legacy_pages_folder() -> Path | None:
    """The `pages/` folder beside app.py, if one is there (the pages live in views/; one left there is a leftover
    of the old layout, such as a `pages/__pycache__` that `git pull` does not remove), else None.

    Streamlit decides once per server, when the first browser session connects and before app.py runs, whether
    the app is a legacy `pages/`-folder app (`PagesManager.__init__`, streamlit/runtime/pages_manager.py: the
    folder merely existing is enough). That first script run then builds its navigation from `pages/*.py`
    (`_mpa_v1`, streamlit/runtime/scriptrunner/script_runner.py), finds no page for a deep link such as /seeds,
    and answers "Page not found" before app.py's `st.navigation` takes over for every later run."""
    folder = APP_ROOT / "pages"
    return folder if folder.exists() else None


def warn_of_a_legacy_pages_folder() -> None:
    """Say so on every page while a leftover `pages/` folder beside app.py makes a fresh server answer its first
    deep link with "Page not found" (see `legacy_pages_folder`)."""
    folder = legacy_pages_folder()
    if folder is not None:
        st.warning(f"A `pages/` folder is left beside app.py (`{folder}`). The pages live in `views/` now; while "
                   "that folder exists, Streamlit answers the first link to a page after the app starts with "
                   "\"Page not found\". Delete the folder and restart the app.", icon=":material/folder_delete:")


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


JOB_ICONS = {"queued": ":material/schedule:", "running": ":material/progress_activity:",
             "paused": ":material/pause_circle:", "done": ":material/check_circle:", "failed": ":material/error:",
             "cancelled": ":material/cancel:"}


def job_line(job: dict) -> tuple[float | None, str]:
    """What a job row shows: (the share of its units finished, for a progress bar; None for a job without units),
    and its text. A job kind that does its work in one piece (an export whose samples were all scanned already)
    has no units: its row says its status and time, never '0/0 units'."""
    total = job["total_units"] or 0
    elapsed = f"elapsed {format_seconds(job['elapsed_s'])}"
    if not total:
        return None, f"Job {job['id']} · {job['kind']} · {job['status']} · {elapsed}"
    finished = job["done_units"] + job["failed_units"]
    eta = format_seconds(eta_seconds(job)) if job["status"] == "running" else "—"
    return min(1.0, finished / total), (
        f"Job {job['id']} · {job['kind']} · {job['status']} · {finished}/{plural(total, 'unit')}"
        f" ({job['failed_units']} failed) · {elapsed} · ETA {eta}"
    )


def job_progress(job: dict) -> None:
    """One job: a progress bar with counts and ETA, or, for a job without units, its status line."""
    fraction, text = job_line(job)
    if fraction is None:
        st.markdown(f"{JOB_ICONS.get(job['status'], '')} {text}")
    else:
        st.progress(fraction, text=text)


ROLES = {"teacher": "the teacher (the model that evolves, answers and judges)",
         "student": "the student (the model the data is for)"}


def bundled_model_note(models: Iterable[str | None], what: str = "These texts", role: str = "teacher") -> None:
    """Say which of the two models wrote the model output on screen (`role`: 'teacher' or 'student'; `models`: the
    model strings of the texts shown) and, where it is the bundled model, plainly what it can and cannot show."""
    models = list(dict.fromkeys(m for m in models if m))
    if models:
        st.caption(f"{what}: written by {ROLES[role]}, {', '.join(f'`{m}`' for m in models)}.")
    if not any(is_bundled_model(model) for model in models):
        return
    if role == "student":
        st.info(
            f"{what} come from the bundled model, Gemma 3 270M, as the student: a small base model that runs offline. "
            "It shows the probe working (wrong answers, known failures, the frontier), not the weaknesses of the model "
            "you train: set that model as the student on the Settings page.",
            icon=":material/science:",
        )
        return
    st.info(
        f"{what} come from the bundled model, Gemma 3 270M: a small base model that runs offline on a laptop. "
        "It shows the pipeline working end to end (evolution, filters, verification, the gate), not the quality "
        "a real teacher gives: expect odd questions, wrong answers and many rejections, each with its reason. "
        "Set a real teacher model on the Settings page for data worth training on.",
        icon=":material/science:",
    )


def bypass_cache_checkbox(container: object = st) -> bool:
    """The per-job 'bypass the response cache' option of every page that starts model calls (job param
    `bypass_cache`)."""
    return container.checkbox(
        "Bypass the response cache",
        help="Send every call to the model. Otherwise a call identical to one already answered (same model, prompt, "
        "parameters and sample) is served from the store at no cost; a new sample is always asked of the model.",
    )


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~])")


def literal_markdown(text: str) -> str:
    """Text shown literally inside Markdown (no emphasis, links or LaTeX from user or model data)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def empty_state(message: str, icon: str = ":material/info:") -> None:
    st.info(message, icon=icon)


def stop_without_seeds(has_items: bool, message: str) -> None:
    """The empty state of a page that needs seeds: say why, link to the Seeds page, stop the script."""
    if has_items:
        return
    empty_state(message)
    st.page_link("views/seeds.py", label="Go to Seeds", icon=":material/eco:")
    st.stop()


def show_model_text(container: object, text: str | None, empty: str = "(empty)") -> None:
    """Model text as it is: fenced code as code, prose as plain text (no Markdown, no HTML)."""
    shown = blocks(text or "")
    if not shown:
        container.caption(empty)
    for block in shown:
        if block.kind == "code":
            container.code(block.text, language=block.language)
        else:
            container.text(block.text)
