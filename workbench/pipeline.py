"""Every job kind the worker can run: importing this module registers their handlers."""

import workbench.pii  # noqa: F401
from workbench import probe  # noqa: F401
