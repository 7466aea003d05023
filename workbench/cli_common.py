"""Command-line helpers shared by several stages' commands."""

from __future__ import annotations

import argparse
import json


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def add_bypass_cache_flag(parser: argparse.ArgumentParser) -> None:
    """`--bypass-cache` for a command that queues model calls (see workbench/core/response_cache.py)."""
    parser.add_argument("--bypass-cache", action="store_true",
                        help="send every call to the model; none is answered from the response cache")
