"""The `probe` job: one tiny call to the configured teacher, run in the worker (where models load)."""

from __future__ import annotations

from workbench.jobs import JobContext, register
from workbench.settings import teacher_config
from workbench.teacher import Teacher, TeacherError


class ProbeHandler:
    kind = "probe"

    def units(self, ctx: JobContext) -> list[str]:
        return ["call"]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        config = teacher_config(ctx.store, ctx.params.get("teacher"))
        config.max_retries = 0
        teacher = Teacher(config)
        try:
            generation = await teacher.achat([{"role": "user", "content": "Say OK."}], max_tokens=8, temperature=0.0)
        except TeacherError as exc:
            ctx.store.set_job_result(ctx.job_id, {"ok": False, "message": str(exc)})
            raise
        ctx.add_usage(generation.prompt_tokens, generation.completion_tokens, generation.cost)
        ctx.store.set_job_result(
            ctx.job_id,
            {
                "ok": True,
                "message": f"{config.model} answered {generation.text.strip()[:80]!r}",
                "entropy_source": generation.entropy_source,
                "mean_entropy": generation.mean_entropy,
            },
        )


register(ProbeHandler())
