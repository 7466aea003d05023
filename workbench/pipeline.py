"""Every job kind the worker can run: importing this module registers their handlers."""

import workbench.analysis.job  # noqa: F401
import workbench.core.connection_test  # noqa: F401
import workbench.evolve.job  # noqa: F401
import workbench.factory.demo  # noqa: F401
import workbench.magpie.job  # noqa: F401
import workbench.review.decontam_job  # noqa: F401
import workbench.review.export  # noqa: F401
import workbench.review.pii  # noqa: F401
import workbench.review.sample_import  # noqa: F401
import workbench.student.job  # noqa: F401
import workbench.verify.job  # noqa: F401
