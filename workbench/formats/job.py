"""The sample import job (`samples_import`): an uploaded file imported by the worker."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from workbench.core.jobs.runner import JobContext, register
from workbench.formats.sample_import import SampleImportError, import_samples
from workbench.store import Store


def save_upload(store: Store, data: bytes, name: str) -> Path:
    """Keep an upload beside the store (`imports/`) for the import job to read; the same bytes are kept once."""
    folder = Path(store.path).parent / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[-100:] or "upload"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{safe}"
    if not path.exists():
        path.write_bytes(data)
    return path


def submit_import(store: Store, path: Path, name: str) -> int:
    from workbench.core.jobs.queue import submit

    return submit(store, KIND, {"path": str(path), "name": name, "concurrency": 1})


KIND = "samples_import"


class SampleImportHandler:
    """`samples_import` job: one unit imports the saved upload, then deletes that copy; the result (or every
    problem) is the job's result. A crash mid-import rolls the import back and the rerun starts over."""

    kind = KIND

    def units(self, ctx: JobContext) -> list[str]:
        return ["import"]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        name, path = ctx.params["name"], Path(ctx.params["path"])
        try:
            result = import_samples(ctx.store, path, name)
        except SampleImportError as exc:
            ctx.store.jobs.set_job_result(ctx.job_id, {"error": str(exc).splitlines()[0], "problems": [str(p) for p in exc.problems]})
            ctx.store.jobs.set_job_status(ctx.job_id, "failed", str(exc))
        else:
            ctx.store.jobs.set_job_result(ctx.job_id, result.to_dict())
        path.unlink(missing_ok=True)  # the upload's copy has served


register(SampleImportHandler())
