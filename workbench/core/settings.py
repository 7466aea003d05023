"""User settings kept in the store (never secrets): the teacher, the reviewer's name, thresholds."""

from __future__ import annotations

from workbench.core.shared_store import SharedStore
from workbench.core.teacher import TeacherConfig

TEACHER_KEY = "teacher"
REVIEWER_KEY = "reviewer"


def teacher_config(store: SharedStore, overrides: dict | None = None) -> TeacherConfig:
    """The saved teacher configuration, with per-job overrides applied."""
    return TeacherConfig.from_dict({**(store.settings.get_setting(TEACHER_KEY) or {}), **(overrides or {})})


def save_teacher_config(store: SharedStore, config: TeacherConfig) -> None:
    store.settings.set_setting(TEACHER_KEY, config.to_dict())


def reviewer_name(store: SharedStore) -> str:
    return store.settings.get_setting(REVIEWER_KEY) or "reviewer"


def set_reviewer_name(store: SharedStore, name: str) -> None:
    store.settings.set_setting(REVIEWER_KEY, name.strip() or "reviewer")
