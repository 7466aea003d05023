"""Settings: the teacher model, temperatures, limits, its API keys, and a connection test."""

import streamlit as st

from pages._shared import store
from workbench.core.executor import (
    RAY_ADDRESS_ENV,
    RAY_ADDRESS_SETTING,
    ExecutorError,
    check_reachable,
    configured_address,
)
from workbench.core.jobs import submit
from workbench.core.probe import keys_in_environment, missing_keys
from workbench.core.settings import reviewer_name, save_teacher_config, set_reviewer_name, teacher_config
from workbench.core.teacher import DEFAULT_MODEL, TeacherConfig, load_secrets, supports_raw_completion

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
        st.session_state.pop("probe_result", None)  # it was about the teacher before

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

st.subheader("Test connection")
st.caption("Sends one tiny request through the background worker, where models load.")
if st.button("Test connection"):
    st.session_state["probe_job"] = submit(db, "probe", {"teacher": config.to_dict()}, model=config.model)
    st.session_state.pop("probe_result", None)


@st.fragment(run_every=1.0)
def probe_result() -> None:
    """The test's answer; its job is removed once read, so a test leaves no job behind on Home or Jobs."""
    job_id = st.session_state.get("probe_job")
    if job_id is not None:
        job = db.get_job(job_id)
        if job is None:
            st.session_state.pop("probe_job")
        elif job["status"] in ("queued", "running", "paused"):
            st.info(f"Testing `{job['model']}`: waiting for the worker (job {job_id}, {job['status']})...")
            return
        else:
            result = job["result"] or {"ok": False, "message": f"The test did not finish: {job['error'] or job['status']}."}
            st.session_state["probe_result"] = result
            st.session_state.pop("probe_job")
            db.delete_finished_job(job_id)
    result = st.session_state.get("probe_result")
    if result is None:
        return
    if result["ok"]:
        st.success(f"Connected: {result['message']} Token entropy: {result['entropy_source']}.",
                   icon=":material/check_circle:")
    else:
        st.error(result["message"], icon=":material/error:")


probe_result()

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
saved_address = db.get_setting(RAY_ADDRESS_SETTING) or ""
address = st.text_input("Ray address", value=saved_address, placeholder="head-node:6379, ray://head-node:10001 or auto")
if address.strip() != saved_address:
    db.set_setting(RAY_ADDRESS_SETTING, address.strip())
    st.session_state["ray_saved"] = True
in_force = configured_address(db.get_setting(RAY_ADDRESS_SETTING))
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
