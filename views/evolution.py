"""Evolution: start Evol-Instruct jobs, watch each seed's tree grow, compare operators, edit operators."""

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from views._shared import (
    bundled_model_note,
    bypass_cache_checkbox,
    empty_state,
    job_progress,
    page_header,
    stop_without_seeds,
)
from workbench.core.glossary import explain
from workbench.core.metrics import METRIC_UNITS
from workbench.core.settings import teacher_config
from workbench.core.wording import plural
from workbench.evolve.engine import (
    COMPLETION_OUTPUTS,
    OPERATOR_KINDS,
    SCHEDULES,
    Operator,
    OperatorError,
    load_operators,
    reset_builtin_operators,
    save_operator,
    word_diff,
)
from workbench.evolve.job import (
    KIND,
    EvolveParams,
    choose_seeds,
    default_seed_choice,
    describe_choice,
    submit_evolve,
)

SEED_MODES = {
    "Frontier": "frontier", "All seeds": "all", "Selected seeds": "selected", "Known failures": "known-failures",
    "Most uncertain": "most-uncertain",
}
STATUS_COLOURS = {"survived": "#1a7f37", "eliminated": "#b35900", "failed": "#cf222e"}
MAX_TREES = 10

db = page_header(
    "Evolution",
    "Evol-Instruct grows each seed into a tree of harder tasks. Every node keeps its operator, prompt and reply; "
    "eliminated nodes stay visible with their reason, and each position is retried with another operator.",
    "evol_message",
    help=explain("Evol-Instruct"),
)

stop_without_seeds(db.overview.counts()["seeds"] > 0, "No seeds to evolve yet. Load the sample seeds or import your own on the Seeds page.")

operators = load_operators(db)
run_tab, operators_tab = st.tabs(["Run and watch", "Operators"])


def seed_label(seed: dict) -> str:
    return f"#{seed['id']} [{seed['domain'] or '-'}] {seed['instruction'][:80]}"


def start_form() -> None:
    st.subheader("Start an evolution job")
    config = teacher_config(db)
    left, right = st.columns(2)
    default = list(SEED_MODES.values()).index(default_seed_choice(db))
    mode = SEED_MODES[left.radio("Seeds", list(SEED_MODES), index=default, horizontal=True,
                                 help="Frontier: the student's known failures plus the seeds it is most unsure about "
                                      "(the default once the student was probed on the Seeds page)")]
    selected: list[int] = []
    if mode == "selected":
        seeds = db.seeds.list_seeds()
        labels = {seed_label(s): s["id"] for s in seeds}
        selected = [labels[label] for label in left.multiselect("Choose seeds", list(labels))]
    if mode in ("most-uncertain", "frontier"):
        low = 1 if mode == "most-uncertain" else 0
        top = left.number_input("How many of the most uncertain seeds" + (" besides the known failures"
                                                                          if mode == "frontier" else ""),
                                low, 1000, 10, key=f"evol-top-{mode}",
                                help="seeds ranked by the student's uncertainty (a probe on the Seeds page, or the "
                                     "Distributions page)")
        mode = f"{mode}:{int(top)}"
    chosen_ops = left.multiselect("Operators", list(operators), default=list(operators),
                                  help="Depth operators make a task harder; breadth creates a rarer task in the same domain.")
    schedule = left.selectbox("Operator schedule", SCHEDULES,
                              help="round-robin rotates operators along each chain; fixed applies the list in order by depth.")
    depth = right.slider("Depth", 1, 6, 3, help="evolution steps per chain")
    branching = right.slider("Branching", 1, 4, 1, help="children per node (k); the tree has up to k^depth leaves")
    max_tries = right.slider("Tries per position", 1, 5, 3, help="an eliminated evolution is retried with another operator")
    model = right.text_input("Teacher model", value=config.model, help="saved on the Settings page; override for this job")
    bypass = bypass_cache_checkbox(right)
    if st.button("Start evolution", type="primary"):
        try:
            if mode == "selected" and not selected:
                raise ValueError("Choose at least one seed, or pick 'All seeds'.")
            chosen = choose_seeds(db, selected if mode == "selected" else mode)
            params = EvolveParams(seeds=chosen["seeds"], operators=chosen_ops, depth=depth, branching=branching,
                                  schedule=schedule, max_tries=max_tries, concurrency=config.concurrency,
                                  teacher={"model": model.strip() or config.model}, bypass_cache=bypass,
                                  seed_choice=chosen)
            job_id = submit_evolve(db, params)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.session_state["evol_job"] = job_id
            st.session_state["evol_message"] = (f"Job {job_id} queued: {plural(len(chosen['seeds']), 'seed')} "
                                                f"({describe_choice(chosen)}), depth {depth}, branching {branching}.")
            st.rerun()


def node_html(node: dict, parent_text: str, metrics: dict) -> str:
    """One node as a card: operator, status, the instruction with its change from the parent, deltas, reason."""
    colour = STATUS_COLOURS[node["status"]]
    if node["instruction"]:
        body = "".join(
            f"<ins style='background:#d1f7d6;text-decoration:none'>{html.escape(text)}</ins>" if op == "insert"
            else f"<del style='background:#ffd7d5;color:#8a1c1c'>{html.escape(text)}</del>" if op == "delete"
            else html.escape(text)
            for op, text in word_diff(parent_text, node["instruction"])
        )
    else:
        body = "<i>no instruction</i>"

    def delta(name: str, label: str, digits: int = 2) -> str:
        value = metrics.get(name)
        return f"{label} {value:+.{digits}f} {METRIC_UNITS[name]}" if value is not None else f"{label} —"

    entropy = metrics.get("token_entropy_mean")
    facts = " · ".join([
        delta("length_gain_parent", "Δlength", 0),
        delta("entropy_gain_parent", "Δlexical entropy"),
        f"novelty {metrics['novelty_parent']:.2f}" if metrics.get("novelty_parent") is not None else "novelty —",
        f"token entropy {entropy:.2f} {METRIC_UNITS['token_entropy_mean']}" if entropy is not None else "token entropy n/a",
    ])
    reason = (f"<div style='color:{colour}'>✗ {html.escape(node['elimination_reason'])}</div>"
              if node["elimination_reason"] else "")
    answer = (f"<details><summary>Answer</summary><pre style='white-space:pre-wrap'>{html.escape(node['answer'])}</pre></details>"
              if node["answer"] else "")
    return (
        f"<div style='margin-left:{(node['depth'] - 1) * 28}px;border-left:4px solid {colour};padding:4px 10px;"
        f"margin-bottom:8px'><b>{html.escape(node['operator'])}</b> · depth {node['depth']} · try {node['attempt'] + 1}"
        f" · <span style='color:{colour}'>{node['status']}</span><div>{body}</div>"
        f"<div style='font-size:0.85em;color:#57606a'>{facts}</div>{reason}{answer}</div>"
    )


def seed_tree(job_id: int, seed_id: int, seed_text: str) -> None:
    nodes = db.evolve.evol_nodes(job_id, seed_id=seed_id)
    metrics = db.metrics.node_metrics(n["id"] for n in nodes)
    texts = {n["id"]: n["instruction"] or "" for n in nodes}
    children: dict[int | None, list[dict]] = {}
    for node in nodes:
        children.setdefault(node["parent_id"], []).append(node)
    cards: list[str] = []

    def walk(parent_id: int | None, parent_text: str) -> None:
        for node in sorted(children.get(parent_id, []), key=lambda n: n["node_key"]):
            cards.append(node_html(node, parent_text, metrics[node["id"]]))
            walk(node["id"], texts[node["id"]])

    walk(None, seed_text)
    st.html(f"<div style='margin-bottom:8px'><b>Seed:</b> {html.escape(seed_text)}</div>" + ("".join(cards) or "<i>no nodes yet</i>"))


def effectiveness(job_id: int | None, key: str) -> None:
    rows = db.evolve.operator_effectiveness(job_id)
    if not rows:
        st.caption("No evolutions yet.")
        return
    frame = pd.DataFrame(rows)
    st.dataframe(
        frame, hide_index=True, width="stretch",
        column_config={
            "survival_rate": st.column_config.ProgressColumn("survival rate", min_value=0.0, max_value=1.0, format="percent"),
            "mean_entropy_gain": st.column_config.NumberColumn("mean lexical entropy gain (bits)", format="%.3f"),
            "mean_novelty_gain": st.column_config.NumberColumn("mean novelty gain", format="%.3f"),
        },
    )
    st.plotly_chart(effectiveness_chart(frame), width="stretch", key=key)


def effectiveness_chart(frame: pd.DataFrame) -> go.Figure:
    """Survival rate and mean entropy gain per operator, side by side on one operator axis (labels never overlap);
    an operator with no survivors has no gain to show and says so instead of sitting at 0."""
    frame = frame.sort_values(["survival_rate", "operator"], ascending=[True, False])
    operators = list(frame["operator"])
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                           subplot_titles=("survival rate", "mean lexical entropy gain over the parent (bits)"))
    figure.add_bar(x=frame["survival_rate"], y=operators, orientation="h", marker_color="#6C4AB6", row=1, col=1,
                   customdata=frame[["survived", "attempts"]],
                   hovertemplate="%{y}: %{x:.0%} (%{customdata[0]} of %{customdata[1]} survived)<extra></extra>")
    figure.add_bar(x=frame["mean_entropy_gain"], y=operators, orientation="h", marker_color="#E07A5F", row=1, col=2,
                   hovertemplate="%{y}: %{x:+.3f} bits<extra></extra>")
    for operator, gain in zip(operators, frame["mean_entropy_gain"], strict=True):
        if pd.isna(gain):
            figure.add_annotation(x=0, y=operator, text="no survivors", showarrow=False, xanchor="left",
                                  font={"color": "#57606a"}, row=1, col=2)
    figure.update_xaxes(range=[0, 1], tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1.0], row=1, col=1)
    figure.update_xaxes(zeroline=True, zerolinecolor="#8c959f", row=1, col=2)
    figure.update_layout(height=90 + 30 * len(operators), showlegend=False, bargap=0.3,
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


@st.fragment(run_every=2.0)
def live(job_id: int) -> None:
    job = db.jobs.get_job(job_id)
    if job is None:
        st.warning(f"Job {job_id} no longer exists.")
        return
    job_progress(job)
    buttons = st.columns([1, 1, 6])
    if job["status"] in ("queued", "running") and buttons[0].button("Pause", key=f"evol-pause-{job_id}"):
        db.jobs.request_job_status(job_id, "paused")
        st.rerun(scope="fragment")
    if job["status"] in ("paused", "cancelled", "failed") and buttons[0].button("Resume", key=f"evol-resume-{job_id}"):
        db.jobs.clear_failed_units(job_id)
        db.jobs.request_job_status(job_id, "queued")
        st.rerun(scope="fragment")
    if job["status"] in ("queued", "running", "paused") and buttons[1].button("Cancel", key=f"evol-cancel-{job_id}"):
        db.jobs.request_job_status(job_id, "cancelled")
        st.rerun(scope="fragment")
    if job["error"]:
        st.error(f"The job failed: {job['error'].splitlines()[0]}")
    if chosen := job["params"].get("seed_choice"):
        st.caption(f"{plural(len(job['params']['seeds']), 'seed')} chosen: {describe_choice(chosen)}.")
    bundled_model_note([job["model"]], "These evolutions and answers")
    summary = db.evolve.evol_job_seed_summary(job_id)
    counts = st.columns(4)
    for column, (label, key) in zip(counts, [("Nodes", "nodes"), ("Survived", "survived"),
                                             ("Eliminated", "eliminated"), ("Failed", "failed")], strict=True):
        column.metric(label, sum(row[key] for row in summary))
    if not summary:
        st.info("No nodes yet. The worker writes each node as soon as it is evolved; this view refreshes by itself.")
    else:
        st.caption(f"Trees of all {plural(len(summary), 'seed')}." if len(summary) <= MAX_TREES else
                   f"Trees of the first {MAX_TREES} of {plural(len(summary), 'seed')}; pick another below.")
        shown = summary[:MAX_TREES]
        others = {f"#{row['seed_id']} {row['seed_instruction'][:70]}": row for row in summary[MAX_TREES:]}
        if others:
            picked = st.selectbox("More seeds", ["(none)", *others], key=f"evol-more-{job_id}")
            if picked != "(none)":
                shown = [*shown, others[picked]]
        for row in shown:
            with st.expander(f"Seed #{row['seed_id']}: {row['seed_instruction'][:90]}", expanded=len(shown) == 1):
                st.caption(f"{plural(row['nodes'], 'node')}: {row['survived']} survived, {row['eliminated']} eliminated, "
                           f"{row['failed']} failed")
                seed_tree(job_id, row["seed_id"], row["seed_instruction"])
    st.subheader("Operator effectiveness")
    st.caption("Per operator in this job: how often its evolutions survive, and the mean lexical entropy gain and "
               "novelty (1 − word-sequence similarity) over the parent of the survivors. Each node shows its own, with the token "
               "entropy of the teacher's reply.", help=explain("entropy gain", "lexical entropy", "token entropy"))
    effectiveness(job_id, key=f"evol-effectiveness-{job_id}")


with run_tab:
    start_form()
    st.divider()
    evolve_jobs = db.jobs.list_jobs(limit=100, kind=KIND)
    if not evolve_jobs:
        empty_state("No evolution jobs yet. Choose seeds and operators above and press **Start evolution**.")
    else:
        ids = [j["id"] for j in evolve_jobs]
        wanted = st.session_state.get("evol_job", ids[0])
        labels = {j["id"]: f"Job {j['id']} · {j['status']} · {j['model']} · {plural(len(j['params'].get('seeds', [])), 'seed')}"
                  for j in evolve_jobs}
        job_id = st.selectbox("Watch job", ids, index=ids.index(wanted) if wanted in ids else 0,
                              format_func=labels.__getitem__)
        st.session_state["evol_job"] = job_id
        live(job_id)
        with st.expander("Operator effectiveness across all jobs"):
            effectiveness(None, key="evol-effectiveness-all")


with operators_tab:
    st.caption(
        "Each operator has a chat form (for chat models) and a few-shot completion form (for base models such as the "
        "bundled Gemma). Both must contain `{instruction}`, where the parent instruction goes. An 'addition' "
        "completion is one line appended to the parent; a 'rewrite' completion replaces it."
    )
    new_label = "+ New operator"
    choice = st.selectbox("Operator", [new_label, *operators], key="evol-operator-choice")
    current = operators.get(choice)
    with st.form(f"operator-{choice}"):
        name = st.text_input("Name", value=current.name if current else "", disabled=current is not None,
                             placeholder="lower_case_name")
        kind_options = list(OPERATOR_KINDS)
        kind = st.selectbox("Kind", kind_options, index=kind_options.index(current.kind if current else "custom"))
        description = st.text_area("Description (the method, in one sentence)", value=current.description if current else "")
        chat = st.text_area("Chat template", value=current.chat_template if current else "Rewrite this task so that "
                            "it is harder: add one more requirement.\n\nTask: {instruction}\n\nReply with the new task only.",
                            height=220)
        completion = st.text_area("Few-shot completion template", value=current.completion_template if current else
                                  "Each task below gets one more requirement.\n\nTask: Write a haiku.\nAdded requirement: "
                                  "It must mention snow.\n###\nTask: {instruction}\nAdded requirement:", height=220)
        outputs = list(COMPLETION_OUTPUTS)
        output = st.radio("Completion output", outputs, horizontal=True,
                          index=outputs.index(current.completion_output if current else "addition"))
        saved = st.form_submit_button("Save operator", type="primary")
    if saved:
        op = Operator(name=(current.name if current else name.strip()), kind=kind, description=description.strip(),
                      chat_template=chat, completion_template=completion, completion_output=output,
                      builtin=bool(current and current.builtin))
        try:
            save_operator(db, op)
        except OperatorError as exc:
            st.error(str(exc))
        else:
            st.session_state["evol_message"] = f"Saved operator {op.name}."
            st.rerun()
    left, right = st.columns(2)
    if current is not None and not current.builtin and left.button(f"Delete {current.name}"):
        db.evolve.delete_operator(current.name)
        st.session_state["evol_message"] = f"Deleted operator {current.name}."
        st.rerun()
    if right.button("Reset built-in operators", help="put every built-in operator back to its shipped templates"):
        reset_builtin_operators(db)
        st.session_state["evol_message"] = "Built-in operators reset."
        st.rerun()
