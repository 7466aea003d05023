"""Entropy Workbench: a factory for synthetic instruction data."""

from workbench.core.env import configure_offline_environment

configure_offline_environment()

__version__ = "0.1.0"
