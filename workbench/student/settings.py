"""The student's settings: which model the data is for, how it is sampled, and when a seed counts as a known failure.

The student is any litellm model or the bundled one (`local/gemma-3-270m`, the default, which is also the default
teacher: a student identical to the teacher is allowed, and said wherever it matters). It is called through the
same client as the teacher (`workbench.core.teacher.Teacher`), built from `student_config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.settings import teacher_config
from workbench.core.teacher import ModelCallSettings, TeacherConfig
from workbench.store import Store

STUDENT_KEY = "student"
MAX_K = 100
# Chen et al. (2021) sample at 0.8 for pass@k with k > 1 (0.2 for pass@1 alone): the attempts must differ.
DEFAULT_TEMPERATURE = 0.8


@dataclass
class StudentSettings(ModelCallSettings):
    """The student model (how it is called: ModelCallSettings) and how the probe samples it.

    `temperature`: the sampling temperature of the attempts.
    `k`: attempts per task (the probe reports pass@1 and pass@k with Chen et al.'s unbiased estimator).
    `threshold`: a probed seed whose pass rate (correct attempts / attempts) is at most this is a *known failure by
    probe*; the default 0 means "it never passed". Both are checked by `validate` (ValueError with a plain message).
    """

    temperature: float = DEFAULT_TEMPERATURE
    k: int = 4
    threshold: float = 0.0

    @classmethod
    def from_dict(cls, values: dict | None) -> StudentSettings:
        """As ModelCallSettings.from_dict; a saved None also keeps the default."""
        return super().from_dict({k: v for k, v in (values or {}).items() if v is not None})

    def validate(self) -> StudentSettings:
        """Refuse what cannot be probed: no model, k < 1 (or over MAX_K), a threshold outside [0, 1]."""
        if not str(self.model or "").strip():
            raise ValueError("The student model cannot be empty.")
        if not isinstance(self.k, int) or isinstance(self.k, bool) or not 1 <= self.k <= MAX_K:
            raise ValueError(f"k (attempts per task) must be a whole number from 1 to {MAX_K}, not {self.k!r}.")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"The known-failure threshold is a pass rate in [0, 1], not {self.threshold!r}.")
        if float(self.temperature) < 0:
            raise ValueError(f"The student's temperature cannot be negative ({self.temperature!r}).")
        if int(self.max_tokens) < 1:
            raise ValueError(f"The student's max tokens must be at least 1 ({self.max_tokens!r}).")
        return self

    def client_config(self) -> TeacherConfig:
        """The model client's configuration for this student (the Teacher class calls any model)."""
        return TeacherConfig(**self.call_settings(), answer_temperature=float(self.temperature))


def student_settings(store: Store, overrides: dict | None = None) -> StudentSettings:
    """The saved student settings (defaults where nothing is saved) with per-job overrides applied, validated."""
    return StudentSettings.from_dict({**(store.settings.get_setting(STUDENT_KEY) or {}), **(overrides or {})}).validate()


def save_student_settings(store: Store, settings: StudentSettings) -> None:
    store.settings.set_setting(STUDENT_KEY, settings.validate().to_dict())


def same_as_teacher(store: Store, student_model: str) -> bool:
    """Whether the student is the teacher's model (allowed: the bundled model is both by default)."""
    return student_model == teacher_config(store).model


def models_line(store: Store, student_model: str) -> str:
    """One sentence naming both models: 'Student `a`, teacher `b`.' or, when they are one model, that it is both."""
    teacher = teacher_config(store).model
    if student_model == teacher:
        return (f"Student and teacher are the same model, `{teacher}`: the probe measures what the teacher itself "
                "fails at (allowed; set another student to measure the model you train).")
    return f"Student `{student_model}`, teacher `{teacher}`."
