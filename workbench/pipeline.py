"""Every job kind the worker can run: importing this module registers their handlers."""

import workbench.analysis_job  # noqa: F401
import workbench.decontam_job  # noqa: F401
import workbench.demo  # noqa: F401
import workbench.evolve_job  # noqa: F401
import workbench.export  # noqa: F401
import workbench.magpie_job  # noqa: F401
import workbench.pii  # noqa: F401
import workbench.probe  # noqa: F401
import workbench.reason_job  # noqa: F401
import workbench.sample_import  # noqa: F401
