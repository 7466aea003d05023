"""Model strings read without loading any client: which provider a model string names, and whether it is the bundled
offline model. Pages, the CLI and exports ask these before (or without) any model call, so this module imports
nothing heavy (no litellm, no openai SDK)."""

from __future__ import annotations

LOCAL_PROVIDER = "local"  # workbench.core.local_model registers it with litellm


def provider_of(model: str) -> str:
    """The litellm provider prefix of a model string ('openai' when there is none)."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def is_bundled_model(model: str | None) -> bool:
    """Whether a model string names the bundled offline model (provider `local`, workbench/core/local_model.py): the
    270M demo model, whose output shows the pipeline working and is demonstration data, not training data."""
    return bool(model) and provider_of(model) == LOCAL_PROVIDER
