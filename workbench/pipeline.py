"""Every job kind the worker can run: importing this module registers their handlers."""

import workbench.magpie_job  # noqa: F401
from workbench import probe  # noqa: F401
