"""The composition root: importing it registers every job kind's handler (each stage's job module), and
`open_store` opens a store with every owner. The worker (workbench/core/jobs/) loads it by name: workbench/core
imports no stage."""

import workbench.analyse.job  # noqa: F401
import workbench.core.connection_test  # noqa: F401
import workbench.evolve.job  # noqa: F401
import workbench.export.job  # noqa: F401
import workbench.factory.job  # noqa: F401
import workbench.formats.job  # noqa: F401
import workbench.magpie.job  # noqa: F401
import workbench.safety.job  # noqa: F401
import workbench.student.job  # noqa: F401
import workbench.verify.job  # noqa: F401
from workbench.store import open_store

__all__ = ["open_store"]
