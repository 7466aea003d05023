"""The Verifier page's labelling mode (rate steps from the keyboard, as PRM800K's labellers did) and its gold
tasks panel. Views only: the queue, submissions, gold and accuracy live in workbench.verify.labelling."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from views._shared import bundled_model_note, empty_state, show_model_text
from workbench.core.settings import reviewer_name
from workbench.core.wording import plural
from workbench.store import Store
from workbench.verify.labelling import (
    DEFAULT_QUEUE_LENGTH,
    LOW_CONFIDENCE,
    QUEUE_ORDERS,
    RATING_NAMES,
    LabellingError,
    first_wrong_step,
    gold_accuracy,
    gold_rate,
    labelling_queue,
    labelling_task,
    mark_gold,
    mark_gold_from_labeller,
    own_ratings,
    save_gold_rate,
    submit_labels,
)
from workbench.verify.reasoning import VerificationSettings, path_name

QUEUE = "labelling-queue"          # path ids, in order
POSITION = "labelling-position"    # index into the queue
LABELLER = "labelling-labeller"    # whom the queue was built for
DRAFTS = "labelling-drafts"        # path id -> {step id: rating} not yet submitted
CURSORS = "labelling-cursors"      # path id -> index of the current step
MESSAGE = "labelling-message"
RATING_KEYS = {-1: "1", 0: "2", 1: "3"}
RATING_ICONS = {-1: ":material/close:", 0: ":material/remove:", 1: ":material/check:"}
RATING_COLOURS = {-1: "red", 0: "gray", 1: "green"}


def labelling_view(db: Store, settings: VerificationSettings) -> None:
    """The labelling mode: build a queue, then label its tasks one at a time."""
    labeller = reviewer_name(db)
    st.caption(
        f"Labelling as **{labeller}** (your name is set on the Settings page). Rate every step of the path as "
        "PRM800K's labellers did: **1** = −1 (wrong or unreasonable), **2** = 0 (neutral: not wrong, not progress), "
        "**3** = +1 (right and a step forward). **←/→** move between steps, **Enter** submits the task. After the "
        "first −1 you may write the corrected step."
    )
    if st.session_state.get(LABELLER) != labeller:  # a new name starts a new queue
        for key in (QUEUE, POSITION, DRAFTS, CURSORS):
            st.session_state.pop(key, None)
        st.session_state[LABELLER] = labeller
    if message := st.session_state.pop(MESSAGE, None):
        st.success(message)

    with st.form("labelling-queue-form", border=False):
        left, right, button = st.columns([3, 1, 1], vertical_alignment="bottom")
        order = left.radio("Queue", list(QUEUE_ORDERS), horizontal=True, index=list(QUEUE_ORDERS).index(LOW_CONFIDENCE),
                           help="; ".join(f"{name}: {what}" for name, what in QUEUE_ORDERS.items()))
        length = right.number_input("Tasks", 1, 1000, DEFAULT_QUEUE_LENGTH)
        started = button.form_submit_button("Build queue" if QUEUE not in st.session_state else "Rebuild queue",
                                            type="primary" if QUEUE not in st.session_state else "secondary")
    if started:
        st.session_state[QUEUE] = [item.path_id for item in
                                   labelling_queue(db, labeller, order, settings=settings, limit=int(length))]
        st.session_state[POSITION] = 0
    if QUEUE not in st.session_state:
        empty_state("Build a queue to start: the tasks where your labels help most come first.")
        return
    queue, position = st.session_state[QUEUE], st.session_state[POSITION]
    if position >= len(queue):
        empty_state(f"Nothing left in this queue for {labeller}: every task in it is labelled or skipped. "
                    "Rebuild the queue for more." if queue else
                    f"No task to label for {labeller}: every path is labelled by you, or there are no paths yet.")
        return
    label_task(db, labeller, queue, position, settings)


def _rate(path_id: int, step_ids: list[int], rating: int) -> None:
    cursor = st.session_state[CURSORS][path_id]
    st.session_state[DRAFTS][path_id][step_ids[cursor]] = rating
    st.session_state[CURSORS][path_id] = min(cursor + 1, len(step_ids) - 1)


def _move(path_id: int, n_steps: int, delta: int) -> None:
    st.session_state[CURSORS][path_id] = max(0, min(n_steps - 1, st.session_state[CURSORS][path_id] + delta))


def _next_task(path_id: int) -> None:
    st.session_state[POSITION] += 1
    st.session_state[DRAFTS].pop(path_id, None)
    st.session_state[CURSORS].pop(path_id, None)


def label_task(db: Store, labeller: str, queue: list[int], position: int, settings: VerificationSettings) -> None:
    """One task: the problem, its steps in order with the current one framed, the rating keys and Submit."""
    path_id = queue[position]
    try:
        item = labelling_task(db, path_id)
    except LookupError as exc:
        st.warning(f"{exc} (deleted since the queue was built).")
        st.button("Next task", on_click=_next_task, args=(path_id,))
        return
    steps, step_ids = item.steps, [s["id"] for s in item.steps]
    drafts = st.session_state.setdefault(DRAFTS, {})
    if path_id not in drafts:  # first visit: start from the labeller's own earlier labels, never another's
        drafts[path_id] = own_ratings(db, path_id, labeller)
    draft = drafts[path_id]
    cursor = st.session_state.setdefault(CURSORS, {}).setdefault(
        path_id, next((i for i, s in enumerate(steps) if s["id"] not in draft), 0))

    rated = sum(s["id"] in draft for s in steps)
    st.progress(rated / len(steps),
                text=f"Task {position + 1} of {len(queue)} · {rated} of {plural(len(steps), 'step')} rated")
    st.subheader("Problem")
    if item.task is None:
        st.warning("The seed or sample of this path was deleted; its steps are still here to label.")
    else:
        show_model_text(st, item.task.problem)
        if item.task.input:
            st.caption("Input")
            show_model_text(st, item.task.input)
        if item.task.reference_answer:
            st.caption(f"Reference answer: {item.task.reference_answer}")
    bundled_model_note([item.model], "These steps")

    st.subheader("Solution, step by step")
    wrong = first_wrong_step(steps, draft)
    for index, step in enumerate(steps):
        rating = draft.get(step["id"])
        current = index == cursor
        box = st.container(border=current, key=f"labelling-step-{index + 1}" + ("-current" if current else ""))
        head = f"**Step {index + 1}**" + ("  ◀ current" if current else "")
        if rating is None:
            box.markdown(f"{head} · :gray[not rated]")
        else:
            box.markdown(f"{head} · :{RATING_COLOURS[rating]}-badge[{RATING_NAMES[rating]}]")
        show_model_text(box, step["text"])
        if current:
            rating_buttons(box, path_id, step_ids)
        if wrong is not None and step["id"] == wrong["id"]:
            box.text_area(f"Corrected step {index + 1} (optional)", key=f"labelling-completion-{path_id}",
                          placeholder="What this step should have said (PRM800K's human completion). Click outside "
                                      "the box, then press Enter to submit.")

    completion = st.session_state.get(f"labelling-completion-{path_id}") if wrong is not None else None
    left, right = st.columns([1, 1])
    if left.button("Submit task", icon=":material/send:", shortcut="Enter", type="primary", width="stretch"):
        try:
            saved = submit_labels(db, path_id, labeller, draft, completion, settings)
        except LabellingError as exc:
            st.error(str(exc))
        except LookupError as exc:
            st.error(f"{exc}; nothing was saved.")
        else:
            extra = " and your corrected step" if saved.human_completion else ""
            st.session_state[MESSAGE] = f"Saved {plural(saved.labels, 'step label')}{extra} as {labeller}."
            _next_task(path_id)
            st.rerun()
    right.button("Skip task", icon=":material/skip_next:", shortcut="S", width="stretch", on_click=_next_task,
                 args=(path_id,), help="Leave this task unlabelled (your unsaved ratings of it are dropped).")


def rating_buttons(box: object, path_id: int, step_ids: list[int]) -> None:
    """The three rating keys and the two moves, beside the current step."""
    columns = box.columns(5)
    for column, rating in zip(columns, (-1, 0, 1), strict=False):
        column.button(RATING_NAMES[rating], key=f"labelling-rate-{rating}", icon=RATING_ICONS[rating],
                      shortcut=RATING_KEYS[rating], width="stretch", on_click=_rate, args=(path_id, step_ids, rating))
    columns[3].button("Previous step", key="labelling-previous", shortcut="Left", width="stretch",
                      on_click=_move, args=(path_id, len(step_ids), -1))
    columns[4].button("Next step", key="labelling-next", shortcut="Right", width="stretch",
                      on_click=_move, args=(path_id, len(step_ids), 1))


def gold_panel(db: Store) -> None:
    """Gold tasks for the labelling queue (mark, unmark, the rate) and each labeller's accuracy on them."""
    st.caption("Gold tasks are paths whose step ratings are known. The labelling queue mixes them in at the rate "
               "below without marking them, so each labeller's accuracy on them shows how far their labels can be "
               "trusted. A labeller's ratings of a gold path are checked, never counted in the gate.")
    accuracy = gold_accuracy(db)
    if accuracy:
        st.dataframe(pd.DataFrame([{"labeller": name, **counts} for name, counts in sorted(accuracy.items())]),
                     hide_index=True, width="stretch",
                     column_config={"steps": "gold steps answered", "correct": "same rating as gold",
                                    "accuracy": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                                                format="percent")})
    else:
        st.caption("No labeller has answered a gold task yet.")
    rate = st.slider("Share of gold tasks in each queue", 0.0, 0.5, gold_rate(db), 0.05, format="percent")
    if rate != gold_rate(db):
        save_gold_rate(db, rate)
    reviewer = reviewer_name(db)
    labellers = db.labelling.step_labellers()
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    source = left.selectbox("Make gold every path fully labelled by", labellers, index=None,
                            placeholder="a trusted labeller, or an imported file (import:<file>)")
    if right.button("Mark as gold", disabled=source is None, width="stretch"):
        marking = mark_gold_from_labeller(db, source, reviewer)
        st.success(f"{plural(len(marking.marked), 'path')} marked gold from the labels of {source}.")
        if marking.skipped:
            st.warning("Skipped: " + "; ".join(f"path id {path_id}: {why}" for path_id, why in marking.skipped.items()))
    gold = db.labelling.gold_paths()
    if not gold:
        return
    st.dataframe(pd.DataFrame([
        {"path id": g["path_id"], "task": f"{g['task_type']}:{g['task_id']}", "path": path_name(g),
         "steps": g["steps"], "labels of": g["labeller"] or "latest of anyone", "marked by": g["marked_by"],
         "labellers who answered": g["answers"]} for g in gold
    ]), hide_index=True, width="stretch")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    dropped = left.multiselect("No longer gold", [g["path_id"] for g in gold], format_func=lambda p: f"path id {p}")
    if right.button("Unmark", disabled=not dropped, width="stretch"):
        for path_id in dropped:
            db.labelling.unmark_gold_path(path_id)
        st.success(f"{plural(len(dropped), 'path')} no longer gold; the answers given to them are kept but no "
                   "longer count.")
        st.rerun()


def mark_path_gold(db: Store, path_id: int) -> None:
    """Make the path on screen gold with its steps' latest labels, or say which steps lack one."""
    try:
        steps = mark_gold(db, path_id, reviewer_name(db))
    except (LabellingError, LookupError) as exc:
        st.error(str(exc))
    else:
        st.success(f"Path {path_id} is gold with {plural(steps, 'known rating')}.")
