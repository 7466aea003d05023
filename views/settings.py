"""Settings: the teacher model, temperatures, limits, its API keys, the student model, and a connection test."""

import streamlit as st

from views._shared import store
from workbench.core.connection_test import keys_in_environment, missing_keys
from workbench.core.executor import (
    RAY_ADDRESS_ENV,
    RAY_ADDRESS_SETTING,
    ExecutorError,
    check_reachable,
    configured_address,
)
from workbench.core.jobs.queue import submit
from workbench.core.settings import reviewer_name, save_teacher_config, set_reviewer_name, teacher_config
from workbench.core.teacher import DEFAULT_MODEL, TeacherConfig, load_secrets, supports_raw_completion
from workbench.student.settings import (
    MAX_K,
    StudentSettings,
    models_line,
    save_student_settings,
    student_settings,
)

st.title("Settings")
db = store()
config = teacher_config(db)

st.subheader("Teacher model")
st.caption(
    f"`{DEFAULT_MODEL}` is the bundled Gemma 3 270M base model, running locally on llama.cpp. Any litellm "
    "model string works too (`openai/gpt-4o-mini`, `anthropic/claude-...`, `hosted_vllm/my-model` with a base URL). "
    "API keys are read from environment variables or `.streamlit/secrets.toml`, never stored."
)
with st.form("teacher"):
    model = st.text_input("Model", value=config.model)
    api_base = st.text_input(
        "Base URL (optional)", value=config.api_base or "", placeholder="http://127.0.0.1:8000/v1 for vLLM / llama.cpp / Ollama"
    )
    router_config = st.text_input(
        "Router config (optional)", value=config.router_config or "",
        help="a YAML file with a litellm `model_list`: the model above names a group of deployments the calls are spread over",
    )
    left, right = st.columns(2)
    evolution_temperature = left.slider("Evolution temperature", 0.0, 2.0, float(config.evolution_temperature), 0.05)
    answer_temperature = right.slider("Answer / reasoning temperature", 0.0, 2.0, float(config.answer_temperature), 0.05)
    max_tokens = left.number_input("Max tokens per call", 16, 32768, int(config.max_tokens), step=16)
    concurrency = right.number_input(
        "Concurrent calls", 1, 512, int(config.concurrency),
        help="the most calls in flight at once for a job",
    )
    max_retries = left.number_input("Retries on rate limits, 5xx and timeouts", 0, 20, int(config.max_retries))
    timeout_s = right.number_input("Timeout per call (s)", 1.0, 3600.0, float(config.timeout_s))
    saved = st.form_submit_button("Save", type="primary")

if saved:
    if not model.strip():
        st.error("The model cannot be empty.")
    else:
        config = TeacherConfig(
            model=model.strip(),
            api_base=api_base.strip() or None,
            router_config=router_config.strip() or None,
            evolution_temperature=evolution_temperature,
            answer_temperature=answer_temperature,
            max_tokens=int(max_tokens),
            concurrency=int(concurrency),
            max_retries=int(max_retries),
            timeout_s=float(timeout_s),
        )
        save_teacher_config(db, config)
        st.session_state["teacher_saved"] = config.to_dict()
        st.session_state.pop("connection_result", None)  # it was about the teacher before

# The note stays as long as it is true: until the teacher changes again.
if st.session_state.get("teacher_saved") == config.to_dict():
    st.success(f"Saved. The teacher is now `{config.model}`.", icon=":material/check_circle:")

raw = "supports" if supports_raw_completion(config.model) else "does not support"
st.caption(f"`{config.model}` {raw} raw text completion (needed by Magpie).")
missing = missing_keys(config)
if missing:
    st.warning(
        f"`{config.model}` needs {', '.join(f'`{k}`' for k in missing)}, which is not set. Set it in the environment "
        "or in `.streamlit/secrets.toml` (`OPENAI_API_KEY = \"sk-...\"`), then restart the app.",
        icon=":material/key_off:",
    )
found = keys_in_environment()
for problem in load_secrets().problems:
    st.warning(f"A secrets file cannot be read, so its keys are not used: {problem}", icon=":material/key_off:")
st.caption(
    "Provider API keys in the environment or `.streamlit/secrets.toml`: " + (", ".join(f"`{k}`" for k in found) or "none")
    + " (names only: values are never shown or stored)."
)

st.subheader("Student model")
student = student_settings(db)
st.caption(
    "The model the data is for. The probe samples it on the seeds to find what it fails at (known failures, the "
    "frontier evolution starts from) and on the approved tasks to measure the headroom. Any litellm model string, or "
    f"the bundled `{DEFAULT_MODEL}` (the default). A student identical to the teacher is allowed."
)
with st.form("student"):
    student_model = st.text_input("Student model", value=student.model)
    student_base = st.text_input("Student base URL (optional)", value=student.api_base or "",
                                 placeholder="http://127.0.0.1:8000/v1 for a model you serve yourself")
    left, right = st.columns(2)
    student_k = left.number_input("Attempts per task (k)", 1, MAX_K, int(student.k),
                                  help="the probe samples the student k times per task and reports pass@1 and pass@k "
                                       "(Chen et al. 2021's unbiased estimator)")
    student_threshold = right.number_input(
        "Known failure at a pass rate of at most", 0.0, 1.0, float(student.threshold), 0.05,
        help="a probed seed whose share of correct attempts is at most this becomes a known failure by probe; "
             "0 means it never passed")
    student_temperature = left.slider("Sampling temperature", 0.0, 2.0, float(student.temperature), 0.05,
                                      help="above 0, so that the k attempts differ (Chen et al. sample at 0.8)")
    student_tokens = right.number_input("Max tokens per attempt", 16, 32768, int(student.max_tokens), step=16)
    student_concurrency = left.number_input("Concurrent calls", 1, 512, int(student.concurrency))
    student_saved = st.form_submit_button("Save student", type="primary")
if student_saved:
    try:
        student = StudentSettings(**{
            **student.to_dict(), "model": student_model.strip(), "api_base": student_base.strip() or None,
            "k": int(student_k), "threshold": float(student_threshold), "temperature": float(student_temperature),
            "max_tokens": int(student_tokens), "concurrency": int(student_concurrency)})
        save_student_settings(db, student)
    except ValueError as exc:
        st.error(f"Not saved: {exc}")
    else:
        st.session_state["student_saved"] = student.to_dict()
if st.session_state.get("student_saved") == student.to_dict():
    st.success(f"Saved. The student is now `{student.model}`.", icon=":material/check_circle:")
st.caption(models_line(db, student.model))
student_missing = missing_keys(student.client_config())
if student_missing:
    st.warning(f"The student `{student.model}` needs {', '.join(f'`{k}`' for k in student_missing)}, which is not set.",
               icon=":material/key_off:")

st.subheader("Test connection")
st.caption("Sends one tiny request through the background worker, where models load.")
if st.button("Test connection"):
    st.session_state["connection_job"] = submit(db, "connection_test", {"teacher": config.to_dict()}, model=config.model)
    st.session_state.pop("connection_result", None)


@st.fragment(run_every=1.0)
def connection_result() -> None:
    """The test's answer; its job is removed once read, so a test leaves no job behind on Home or Jobs."""
    job_id = st.session_state.get("connection_job")
    if job_id is not None:
        job = db.jobs.get_job(job_id)
        if job is None:
            st.session_state.pop("connection_job")
        elif job["status"] in ("queued", "running", "paused"):
            st.info(f"Testing `{job['model']}`: waiting for the worker (job {job_id}, {job['status']})...")
            return
        else:
            result = job["result"] or {"ok": False, "message": f"The test did not finish: {job['error'] or job['status']}."}
            st.session_state["connection_result"] = result
            st.session_state.pop("connection_job")
            db.jobs.delete_finished_job(job_id)
    result = st.session_state.get("connection_result")
    if result is None:
        return
    if result["ok"]:
        st.success(f"Connected: {result['message']} Token entropy: {result['entropy_source']}.",
                   icon=":material/check_circle:")
    else:
        st.error(result["message"], icon=":material/error:")


connection_result()

st.subheader("Reviewer")
name = st.text_input("Your name (recorded with every review and overrule)", value=reviewer_name(db))
if (name.strip() or "reviewer") != reviewer_name(db):
    set_reviewer_name(db, name)
    st.session_state["reviewer_saved"] = True
if st.session_state.get("reviewer_saved"):
    st.caption(f"Saved: reviews and overrules are recorded as **{reviewer_name(db)}**.")

st.subheader("Compute cluster (Ray)")
st.caption(
    "Embedding, the PII scan, the offline verifiers (arithmetic, code) and the decontamination scan can run as Ray "
    "tasks on a cluster; model calls and every write to the store stay with the worker on this machine. Leave the "
    "address empty to run everything here. The worker reads it when it starts: restart the app (or "
    "`workbench worker`) after a change."
)
saved_address = db.settings.get_setting(RAY_ADDRESS_SETTING) or ""
address = st.text_input("Ray address", value=saved_address, placeholder="head-node:6379, ray://head-node:10001 or auto")
if address.strip() != saved_address:
    db.settings.set_setting(RAY_ADDRESS_SETTING, address.strip())
    st.session_state["ray_saved"] = True
in_force = configured_address(db.settings.get_setting(RAY_ADDRESS_SETTING))
if in_force and in_force != address.strip():
    st.info(f"`${RAY_ADDRESS_ENV}` is set: the worker uses `{in_force}`, not the address above.")
if in_force:
    try:
        check_reachable(in_force, timeout_s=2.0)
    except ExecutorError as exc:
        st.warning(f"{exc}. A worker with this address runs no job until the cluster answers.", icon=":material/cloud_off:")
    else:
        st.caption(f"Something answers at `{in_force}`; the Jobs page shows where each job ran.")
elif st.session_state.get("ray_saved"):
    st.caption("Saved: every stage runs on this machine.")
