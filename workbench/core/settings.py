"""User settings kept in the store (never secrets): the teacher, the reviewer's name, thresholds."""

from __future__ import annotations

from workbench.core.teacher import TeacherConfig
from workbench.store import Store

TEACHER_KEY = "teacher"
REVIEWER_KEY = "reviewer"


def teacher_config(store: Store, overrides: dict | None = None) -> TeacherConfig:
    """The saved teacher configuration, with per-job overrides applied."""
    return TeacherConfig.from_dict({**(store.get_setting(TEACHER_KEY) or {}), **(overrides or {})})


def save_teacher_config(store: Store, config: TeacherConfig) -> None:
    store.set_setting(TEACHER_KEY, config.to_dict())


def reviewer_name(store: Store) -> str:
    return store.get_setting(REVIEWER_KEY) or "reviewer"


def set_reviewer_name(store: Store, name: str) -> None:
    store.set_setting(REVIEWER_KEY, name.strip() or "reviewer")
