"""The settings table: one JSON value per key."""

from __future__ import annotations

import json
from typing import Any

from workbench.core.store import Queries


class SettingsQueries(Queries):
    """store.settings. Owner of settings: only it writes it."""

    TABLES = ("settings",)

    def get_setting(self, key: str, default: Any = None) -> Any:
        value = self._scalar("SELECT value FROM settings WHERE key = ?", [key])
        return default if value is None else json.loads(value)

    def set_setting(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, json.dumps(value)],
        )
