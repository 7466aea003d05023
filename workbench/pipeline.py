"""Every job kind the worker can run: importing this module registers their handlers."""

from workbench import probe  # noqa: F401
