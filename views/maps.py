"""Maps: seeds and samples on a UMAP map of their meaning. Select an area to review it; find neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views._analysis import METRIC_LABELS, queue_embed_and_project, show_analysis_jobs, show_missing_reasons
from views._shared import bundled_model_note, empty_state, stop_without_seeds, store
from workbench.analyse.maps import (
    METRICS,
    MIN_POINTS,
    TEXTS,
    MapParams,
    current_params,
    projection_key,
    save_params,
)
from workbench.analyse.selection import NEAR_DUPLICATE_MARK, outcome, plan_bulk, removal_mark
from workbench.core.embeddings import model_name, nearest_items
from workbench.core.glossary import explain
from workbench.core.jobs import queue
from workbench.core.settings import reviewer_name
from workbench.core.wording import plural
from workbench.store import StoreError

CATEGORIES = {"Source / evolution depth": "origin", "Operator": "operator", "Review status": "review_status"}
COLOR_METRICS = ["token_entropy_mean", "lexical_entropy", "novelty_seeds", "novelty_accepted", "best_path_score",
                 "entropy_gain_parent", "student_uncertainty", "teacher_uncertainty"]
MAX_DRAWN = 250_000  # every point is drawn up to here (WebGL); beyond, an even spread
LONG_HOVER, SHORT_HOVER, SHORT_HOVER_FROM = 160, 80, 20_000  # hover text characters; fewer on big maps
SHOWN_ROWS = 500
SEED_SIZE, SAMPLE_SIZE = 10, 6
REMOVED_MARKERS = {NEAR_DUPLICATE_MARK: {"symbol": "x", "color": "#57606a"},  # drawn whatever the colouring
                   None: {"symbol": "circle-open", "color": "#8c959f"}}  # removed by another filter
LAST_SELECTION = "maps_last_selection"

st.title("Maps")
db = store()
params = current_params(db)
model = model_name(db)
st.caption(
    f"Every seed (★) and sample placed by meaning: each point is the embedding of {TEXTS[params.text]} "
    f"({model}), laid out with UMAP. Where synthetic points spread away from the stars, synthesis expanded "
    "the frontier; where they pile onto them, it collapsed.",
    help=explain("UMAP"),
)
if message := st.session_state.pop("maps_message", None):
    st.success(message)

stop_without_seeds(db.analyse.item_count() > 0, "Nothing to map yet. Add seeds on the Seeds page, then grow samples with Evolution or Magpie.")

with st.expander("Map settings (what is embedded, UMAP)"), st.form("umap-params"):
    text = st.radio("Embed", list(TEXTS), index=list(TEXTS).index(params.text), horizontal=True,
                    format_func=lambda t: TEXTS[t].capitalize(),
                    help="The instruction maps what the data asks; instruction + answer also separates items by how "
                         "they are answered (longer texts: slower to embed).")
    left, middle, right, last = st.columns(4)
    n_neighbors = left.slider("n_neighbors", 2, 100, params.n_neighbors, help="larger = more global structure")
    min_dist = middle.slider("min_dist", 0.0, 0.99, float(params.min_dist), 0.01, help="smaller = tighter clusters")
    metric = right.selectbox("metric", METRICS, index=METRICS.index(params.metric))
    fit_sample = last.number_input("fit on at most", 100, 200_000, params.fit_sample, 500,
                                   help="above this many distinct texts UMAP is fitted on a sample; the rest are placed with transform")
    if st.form_submit_button("Save and compute this map", type="primary"):
        new = MapParams(n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, fit_sample=int(fit_sample),
                        n_epochs=params.n_epochs, text=text, random_state=params.random_state)
        try:
            save_params(db, new)
        except ValueError as exc:
            st.error(f"Not saved: {exc}")
        else:
            queue_embed_and_project(db, new)
            st.session_state["maps_message"] = "Saved. Embedding and map jobs queued; the map appears when they finish."
            st.rerun()

actions = st.columns(3)
if actions[0].button("Compute embeddings & metrics", help="embeddings (cached), lexical metrics, novelty, the similarity gate"):
    queue.submit(db, "analyse.embed", {"concurrency": 1})
    st.rerun()
if actions[1].button("Update map", help="place new seeds and samples on the current map with UMAP transform"):
    queue_embed_and_project(db, params)
    st.rerun()
if actions[2].button("Refit map", help="fit UMAP again from scratch on the current data"):
    queue_embed_and_project(db, params, refit=True)
    st.rerun()
show_analysis_jobs(db)

key = projection_key(model, params)
placed = db.analyse.projection_point_count(key)
if placed == 0:
    last_result = next((j["result"] for j in db.jobs.list_jobs(limit=10, kind="analyse.project")
                        if j["status"] == "done" and (j["result"] or {}).get("key") == key), None) or {}
    if last_result.get("too_few") or db.analyse.item_count() < MIN_POINTS:
        reason = last_result.get("message") or (f"too few points to map: the store has "
                                                f"{plural(db.analyse.item_count(), 'seed or sample', 'seeds or samples')}; "
                                                f"a map needs at least {MIN_POINTS} different texts")
        empty_state(f"{reason[0].upper()}{reason[1:]}. Add seeds or grow samples first.")
    else:
        empty_state("No map for these settings yet. Click **Update map**: a background job embeds every seed and "
                    "sample and fits UMAP (the first map takes a minute).")
    st.stop()
if (waiting := db.analyse.item_count() - placed) > 0:
    st.caption(f"{plural(waiting, 'seed or sample', 'seeds or samples')} not on the map yet; **Update map** places them without refitting.")

color_label = st.selectbox("Colour by", [*CATEGORIES, *(METRIC_LABELS[m] for m in COLOR_METRICS)], key="map-color",
                           help=explain("token entropy", "lexical entropy", "novelty", "entropy gain"))
size_by_length = st.toggle("Size samples by text length", value=True)
metric_name = next((m for m in COLOR_METRICS if METRIC_LABELS[m] == color_label), None)
hover_chars = LONG_HOVER if placed <= SHORT_HOVER_FROM else SHORT_HOVER
points = pd.DataFrame(db.maps.map_points(key, metric=metric_name, limit=MAX_DRAWN, text_chars=hover_chars))
if len(points) < placed:
    st.caption(f"Drawing {len(points):,} of {plural(placed, 'point')} (an even spread); a selection covers the drawn points.")


def marker_sizes(frame: pd.DataFrame) -> np.ndarray | float:
    """Sample sizes from 0.7x to 1.6x the base by text length (square root: long texts do not dominate)."""
    if not size_by_length:
        return SAMPLE_SIZE
    longest = max(1, int(samples["length"].max()) if len(samples) else 1)
    return (SAMPLE_SIZE * (0.7 + 0.9 * (frame["length"].to_numpy() / longest) ** 0.5)).astype(np.float32).round(1)


def trace(frame: pd.DataFrame, name: str, seeds: bool, **marker: object) -> go.Scattergl:
    """One WebGL layer; numpy arrays (float32 positions) keep plotly's JSON small and fast at 100k points."""
    return go.Scattergl(
        x=frame["x"].to_numpy(np.float32), y=frame["y"].to_numpy(np.float32), mode="markers", name=name,
        customdata=frame["item_id"].to_numpy(), hovertext=frame["hover"].to_numpy(),
        hovertemplate=f"<b>{'seed' if seeds else 'sample'} %{{customdata}}</b><br>%{{hovertext}}<extra>%{{fullData.name}}</extra>",
        marker={"symbol": "star" if seeds else "circle", "size": SEED_SIZE if seeds else marker_sizes(frame),
                "line": {"width": 0.5 if seeds else 0, "color": "#fff"}, "opacity": 1.0 if seeds else 0.7, **marker},
    )


def html_text(column: pd.Series) -> pd.Series:
    return (column.fillna("").str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False))


points["hover"] = html_text(points["text"])
removed_rows = points["filter_reason"].notna()
points.loc[removed_rows, "hover"] += "<br><i>removed: " + html_text(points.loc[removed_rows, "filter_reason"]) + "</i>"
seeds, samples = points[points["item_type"] == "seed"], points[points["item_type"] == "sample"]
kept, removed = samples[samples["filter_reason"].isna()], samples[samples["filter_reason"].notna()]
traces: list[go.Scattergl] = []
trace_types: list[str] = []
if metric_name is None:
    column = CATEGORIES[color_label]
    for value, group in kept.groupby(kept[column].fillna("(none)"), sort=True):
        traces.append(trace(group, str(value), seeds=False))
        trace_types.append("sample")
    traces.append(trace(seeds, "seeds", seeds=True, color="#111"))
    trace_types.append("seed")
else:
    known = points["value"].notna()
    for frame, name, is_seed in (
        (kept[~known.loc[kept.index]], "samples without a value", False),
        (kept[known.loc[kept.index]], "samples", False),
        (seeds[~known.loc[seeds.index]], "seeds without a value", True),
        (seeds[known.loc[seeds.index]], "seeds", True),
    ):
        if len(frame):
            colour = ({"color": "#bbb" if not is_seed else "#555"} if "without" in name
                      else {"coloraxis": "coloraxis", "color": frame["value"].to_numpy(np.float32)})
            traces.append(trace(frame, name, seeds=is_seed, **colour))
            trace_types.append("seed" if is_seed else "sample")
    if not known.any():
        st.info(f"No item has “{color_label}” yet.")
    show_missing_reasons(db, metric_name, include_filtered=True)  # the map draws filtered samples too
marks = removed["filter_reason"].map(removal_mark)
for mark, group in removed.groupby(marks, sort=True):  # removed samples: marked, never coloured like kept ones
    style = REMOVED_MARKERS.get(mark, REMOVED_MARKERS[None])
    traces.append(trace(group, f"{mark} ({len(group):,})", seeds=False, **style, line={"width": 1, "color": style["color"]}))
    trace_types.append("sample")

figure = go.Figure(traces)
figure.update_layout(
    height=650, margin={"l": 10, "r": 10, "t": 10, "b": 10}, dragmode="lasso",
    legend={"orientation": "h", "yanchor": "top", "y": -0.01, "x": 0, "itemsizing": "constant"},  # below: clear of the colour bar
    xaxis={"visible": False}, yaxis={"visible": False},
    coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": color_label, "side": "right"},
                                                     "thickness": 14, "len": 0.8}},
)
on_screen = f"map-{key}" in st.session_state  # drawn in the previous run of this page
if not on_screen:
    st.session_state.pop(LAST_SELECTION, None)  # drawn afresh: no selection on it yet
event = st.plotly_chart(figure, key=f"map-{key}", on_select="rerun", selection_mode=("box", "lasso"),
                        config={"scrollZoom": True, "displaylogo": False})
if len(removed):
    duplicates = int((marks == NEAR_DUPLICATE_MARK).sum())
    st.caption(f"✕ marks the {plural(duplicates, 'sample')} removed as near-duplicates (of a seed, or of another "
               f"sample) and ○ the {plural(len(removed) - duplicates, 'sample')} another filter removed: they stay on "
               "the map, but not in the review queue. Hover one for its reason.", help=explain("near-duplicate"))


def selected_items() -> list[tuple[str, int]]:
    chosen = []
    for point in (event.selection.points if event else []) or []:
        curve = point.get("curve_number", 0)
        data = point.get("customdata")
        item_id = data[0] if isinstance(data, list) else data
        if item_id is not None and curve < len(trace_types):
            chosen.append((trace_types[curve], int(item_id)))
    return list(dict.fromkeys(chosen))


# The selection is stored, so that Review can filter on it. A map drawn afresh (a new visit) has no selection
# and keeps the stored one; an empty selection on a map already on screen means the user cleared it.
chosen = selected_items()
chosen_seeds = sum(1 for t, _ in chosen if t == "seed")
if chosen:
    picked = [i for t, i in chosen if t == "sample"]
    if st.session_state.get(LAST_SELECTION) != (key, picked):
        db.analyse.set_map_selection(key, picked)
        st.session_state[LAST_SELECTION] = (key, picked)
elif on_screen and st.session_state.pop(LAST_SELECTION, None):
    db.analyse.clear_map_selection()
sample_ids = db.analyse.map_selection_ids()

st.subheader("Selection")
if chosen:
    st.caption(f"{plural(len(chosen), 'point')} selected: {plural(len(chosen) - chosen_seeds, 'sample')}, {plural(chosen_seeds, 'seed')}.")
elif sample_ids:
    st.caption(f"{plural(len(sample_ids), 'sample')} selected on the map earlier (kept for Review). Draw a new box or lasso "
               "to replace them.")
else:
    st.caption("Draw a box or lasso on the map to review the samples inside it.")
if sample_ids:
    review_link, clear = st.columns([3, 1])
    review_link.page_link("views/review.py", label=f"Review {'this' if len(sample_ids) == 1 else 'these'} {plural(len(sample_ids), 'sample')} on the Review page",
                          icon=":material/rate_review:")
    if clear.button("Clear selection"):
        db.analyse.clear_map_selection()
        st.rerun()
    rows = db.samples.list_samples(ids=sample_ids[:SHOWN_ROWS], include_filtered=True)
    bundled_model_note([row["model"] for row in rows], "The selected samples")
    table = pd.DataFrame(rows, columns=["id", "source", "status", "filter_reason", "tags", "instruction", "output"])
    table["tags"] = table["tags"].apply(", ".join)
    st.dataframe(table, hide_index=True, width="stretch", height=300)
    if len(sample_ids) > SHOWN_ROWS:
        st.caption(f"Showing {SHOWN_ROWS} of {len(sample_ids):,}; the actions below apply to all of them.")
    note = st.text_input("Note for the review trail (optional)")
    approve, reject, reset, tag_box, tag_button = st.columns([1, 1, 1, 2, 1], vertical_alignment="bottom")
    reviewer = reviewer_name(db)
    states = db.samples.sample_review_states(sample_ids)
    for column, label, status in ((approve, "Approve", "approved"), (reject, "Reject", "rejected"),
                                  (reset, "Reset to pending", "pending")):
        plan = plan_bulk(states, len(sample_ids), status, chosen_seeds)
        if column.button(f"{label} {len(plan.targets):,}", key=f"bulk-{status}", disabled=not plan.targets,
                         help="; ".join(plan.skipped()) or None):
            changed = db.review.set_sample_status(plan.targets, status, reviewer, note or None)
            st.session_state["maps_message"] = outcome(changed, f"set to {status} by {reviewer}", plan)
            st.rerun()
    tags = tag_box.text_input("Tags (comma-separated)")
    if tag_button.button("Add tags", disabled=not tags.strip()):
        plan = plan_bulk(states, len(sample_ids), None, chosen_seeds)
        try:
            changed = db.review.add_sample_tags(plan.targets, tags.split(","), reviewer, note or None)
        except StoreError as exc:
            st.error(str(exc))
        else:
            st.session_state["maps_message"] = outcome(changed, "tagged", plan)
            st.rerun()
    if skipped := plan_bulk(states, len(sample_ids), None, chosen_seeds).skipped():
        st.caption("The actions leave out " + "; ".join(skipped) + ".")

st.subheader("Nearest neighbours")
st.caption("The seeds and samples closest in meaning to one point (cosine similarity of their instructions' embeddings).")
default = f"{chosen[0][0]} {chosen[0][1]}" if chosen else f"{points['item_type'].iat[0]} {points['item_id'].iat[0]}"
with st.form("neighbours"):
    pick, k_column = st.columns([3, 1])
    target = pick.text_input("Point (e.g. `sample 12` or `seed 3`)", value=default)
    k = k_column.number_input("How many", 1, 50, 10)
    find = st.form_submit_button("Find neighbours")
if find:
    parts = target.split()
    if len(parts) != 2 or parts[0] not in ("seed", "sample") or not parts[1].isdigit():
        st.error("Write the point as `seed ID` or `sample ID`, e.g. `sample 12`.")
    elif not (neighbours := nearest_items(db, (parts[0], int(parts[1])), int(k))):
        st.info("That point has no embedding yet (or does not exist). Run **Compute embeddings & metrics**.")
    else:
        frame = pd.DataFrame(neighbours)
        seed_texts = {s["id"]: s["instruction"] for s in db.seeds.list_seeds(ids=frame.loc[frame.item_type == "seed", "item_id"].tolist())}
        sample_texts = {s["id"]: s["instruction"] for s in
                        db.samples.list_samples(ids=frame.loc[frame.item_type == "sample", "item_id"].tolist(), include_filtered=True)}
        frame["text"] = [(seed_texts if t == "seed" else sample_texts).get(i, "")
                         for t, i in zip(frame["item_type"], frame["item_id"], strict=True)]
        st.dataframe(frame, hide_index=True, width="stretch",
                     column_config={"similarity": st.column_config.ProgressColumn("similarity", min_value=0, max_value=1)})
