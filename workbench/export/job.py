"""The export job (page and CLI): scan what was never scanned for PII, then write the export."""

from __future__ import annotations

from pathlib import Path

from workbench.core.jobs.runner import JobContext, register
from workbench.export.engine import ExportError, check_options, existing_targets, export, resolve_target
from workbench.export.options import ExportOptions
from workbench.review.mix import load_natural_file
from workbench.safety.job import scan_units, unit_range
from workbench.safety.pii import scan_ids
from workbench.store import Store

KIND = "export"


def job_params(options: ExportOptions, out: str | Path, export_root: str | Path, natural_path: str | Path | None) -> dict:
    """An export's job params: its options (JSON), the target and the natural file's path (its rows are read there)."""
    return {"options": options.recorded(), "out": str(out), "root": str(export_root),
            "natural_path": str(natural_path) if natural_path else None, "concurrency": 1}


def options_from_params(params: dict) -> ExportOptions:
    recorded = {k: v for k, v in params["options"].items() if k != "natural_file"}
    natural = load_natural_file(params["natural_path"], params["options"].get("natural_file")) if params.get("natural_path") else None
    return ExportOptions(**recorded, natural=natural)


def submit_export(store: Store, options: ExportOptions, out: str | Path, export_root: str | Path,
                  natural_path: str | Path | None = None) -> int:
    """Check the options and the target now (ExportError), then queue the export job."""
    from workbench.core.jobs.queue import submit

    check_options(options)
    target = resolve_target(out, export_root)
    existing = existing_targets(target, options.card)
    if existing and not options.overwrite:
        raise ExportError(f"{existing[0]} already exists; confirm overwriting it (overwrite=True, --overwrite)")
    return submit(store, KIND, job_params(options, out, export_root, natural_path))


class ExportHandler:
    """`export` job: one unit per chunk of the samples it takes that were never scanned for PII (scanned
    under the saved policy), then `finish` writes the export; the job's result is ExportResult.to_dict()
    or {"error": message} (the job then fails with the message)."""

    kind = KIND

    def _unscanned(self, ctx: JobContext, first: int | None = None, last: int | None = None) -> list[int]:
        status = ctx.params["options"]["status"]
        return ctx.store.samples.pii_scan_candidates(only_unscanned=True, first_id=first, last_id=last, status=status)

    def units(self, ctx: JobContext) -> list[str]:
        return scan_units(self._unscanned(ctx), prefix="scan:")

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        ctx.check_stop()
        await scan_ids(ctx.store, self._unscanned(ctx, *unit_range(unit_key)), ctx.executor)

    async def finish(self, ctx: JobContext) -> None:
        try:
            result = export(ctx.store, options_from_params(ctx.params), ctx.params["out"], ctx.params["root"])
        except (ExportError, ValueError, OSError) as exc:
            ctx.store.jobs.set_job_result(ctx.job_id, {"error": str(exc)})
            ctx.store.jobs.set_job_status(ctx.job_id, "failed", str(exc))
            return
        ctx.store.jobs.set_job_result(ctx.job_id, result.to_dict())


register(ExportHandler())
