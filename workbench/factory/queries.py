"""The factory's table: the demo job's stages, each a job of its own."""

from __future__ import annotations

from workbench.core.store import Queries


class FactoryQueries(Queries):
    """store.factory. Owner of demo_stages: only it writes it."""

    TABLES = ("demo_stages",)

    def stage_job(self, demo_job_id: int, stage: str) -> int | None:
        """The job that runs one stage of a demo job, once the demo has created it (None before)."""
        return self._scalar("SELECT job_id FROM demo_stages WHERE demo_job_id = ? AND stage = ?", [demo_job_id, stage])

    def set_stage_job(self, demo_job_id: int, stage: str, job_id: int) -> None:
        """Record the job that runs one stage of a demo job."""
        self.conn.execute(
            "INSERT INTO demo_stages (demo_job_id, stage, job_id) VALUES (?, ?, ?)", [demo_job_id, stage, job_id]
        )
