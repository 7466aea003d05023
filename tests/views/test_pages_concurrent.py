"""Several people open a freshly started app at the same moment (issue 25, item 12): page scripts run in threads
of one server, and every one of them imports the shared page helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.page_walk import walk_at_once

# Pages whose scripts import the shared helper modules (pages._shared, _labelling, _contamination); every helper is
# also checked, fast, to run nothing at import (tests/views/test_page_truth.py).
PAGES = ("overview", "verifier", "review")


@pytest.mark.slow
def test_several_users_at_once_on_a_fresh_server_see_no_exception_and_the_log_holds_no_traceback(
    running_app, tmp_path: Path
):
    report = walk_at_once(running_app.url, users=6, pages=PAGES, rounds=1)

    print(json.dumps(report.figures()))  # median and p95 page times of the walk (no timing asserts in tests)
    assert report.problems == []
    assert len(report.seconds) == 6 * len(PAGES)
    log = (tmp_path / "streamlit.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
