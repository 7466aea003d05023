"""The pages live in views/, registered with st.navigation in app.py (issue 28). A `pages/` folder beside app.py,
even an empty one, switches a fresh server's first script run into Streamlit's legacy pages-folder mode, which
answers the first deep link (/seeds) with "Page not found": the app has none, and says so if one is left over."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from views import _shared


def test_the_app_has_no_pages_folder_beside_app_py_so_no_page_warns_of_one():
    assert _shared.legacy_pages_folder() is None, (
        "a pages/ folder beside app.py makes a fresh server answer its first deep link with 'Page not found' "
        "(streamlit/runtime/pages_manager.py: PagesManager.uses_pages_directory); the pages live in views/")


def test_a_leftover_pages_folder_is_named_on_the_page(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "pages" / "__pycache__").mkdir(parents=True)  # what `git pull` leaves of the old layout
    monkeypatch.setattr(_shared, "APP_ROOT", tmp_path)
    left_over = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    [warning] = [w.value for w in left_over.warning if "pages/" in w.value]
    assert str(tmp_path / "pages") in warning and "Page not found" in warning and "views/" in warning
