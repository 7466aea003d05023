"""Maps: seeds and samples on a UMAP map of their meaning. Select an area to review it; find neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._analysis import METRIC_LABELS, queue_embed_and_project, show_analysis_jobs
from pages._shared import empty_state, stop_without_seeds, store
from workbench import jobs
from workbench.embeddings import model_name, nearest_items
from workbench.maps import METRICS, MapParams, current_params, projection_key, save_params
from workbench.settings import reviewer_name
from workbench.store import StoreError

CATEGORIES = {"Source / evolution depth": "origin", "Operator": "operator", "Review status": "review_status"}
COLOR_METRICS = ["token_entropy_mean", "lexical_entropy", "novelty_seeds", "novelty_accepted", "best_path_score",
                 "entropy_gain_parent", "uncertainty"]
SHOWN_ROWS = 500

st.title("Maps")
st.caption(
    "Every seed (★) and sample placed by meaning (all-MiniLM-L6-v2 embeddings, UMAP). Where synthetic points "
    "spread away from the stars, synthesis expanded the frontier; where they pile onto them, it collapsed."
)
db = store()
if message := st.session_state.pop("maps_message", None):
    st.success(message)

stop_without_seeds(db.item_count() > 0, "Nothing to map yet. Add seeds on the Seeds page, then grow samples with Evolution or Magpie.")

params = current_params(db)
with st.expander("Map settings (UMAP)"), st.form("umap-params"):
    left, middle, right, last = st.columns(4)
    n_neighbors = left.slider("n_neighbors", 2, 100, params.n_neighbors, help="larger = more global structure")
    min_dist = middle.slider("min_dist", 0.0, 0.99, float(params.min_dist), 0.01, help="smaller = tighter clusters")
    metric = right.selectbox("metric", METRICS, index=METRICS.index(params.metric))
    fit_sample = last.number_input("fit on at most", 100, 200_000, params.fit_sample, 500,
                                   help="above this many points UMAP is fitted on a sample; the rest are placed with transform")
    if st.form_submit_button("Save and compute this map", type="primary"):
        new = MapParams(n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, fit_sample=int(fit_sample),
                        random_state=params.random_state)
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
    jobs.submit(db, "embed", {"concurrency": 1})
    st.rerun()
if actions[1].button("Update map", help="place new seeds and samples on the current map with UMAP transform"):
    queue_embed_and_project(db, params)
    st.rerun()
if actions[2].button("Refit map", help="fit UMAP again from scratch on the current data"):
    queue_embed_and_project(db, params, refit=True)
    st.rerun()
show_analysis_jobs(db)

key = projection_key(model_name(db), params)
placed = db.projection_point_count(key)
if placed == 0:
    empty_state("No map for these settings yet. Click **Update map**: a background job embeds every seed and sample "
                "and fits UMAP (the first map takes a minute).")
    st.stop()
if (waiting := db.item_count() - placed) > 0:
    st.caption(f"{waiting:,} new seeds/samples are not on the map yet; **Update map** places them without refitting.")

controls = st.columns([2, 1, 1])
color_label = controls[0].selectbox(
    "Colour by", [*CATEGORIES, *(METRIC_LABELS[m] for m in COLOR_METRICS)], key="map-color"
)
size_by_length = controls[1].toggle("Size by length", value=True)
limit = controls[2].number_input("Points drawn (max)", 1_000, 200_000, 50_000, 10_000,
                                 help="above this, every seed and an even spread of samples are drawn")
metric_name = next((m for m in COLOR_METRICS if METRIC_LABELS[m] == color_label), None)
points = pd.DataFrame(db.map_points(key, metric=metric_name, limit=int(limit)))
if len(points) < placed:
    st.caption(f"Drawing {len(points):,} of {placed:,} points.")


def marker_sizes(frame: pd.DataFrame, base: float) -> np.ndarray | float:
    if not size_by_length:
        return base
    longest = max(1, int(points["length"].max()))
    return (base * 0.6 + base * 1.4 * (frame["length"].to_numpy() / longest) ** 0.5).round(1)


def trace(frame: pd.DataFrame, name: str, seeds: bool, **marker: object) -> go.Scattergl:
    """One WebGL layer; numpy arrays keep plotly's validation and JSON encoding fast at 100k points."""
    return go.Scattergl(
        x=frame["x"].to_numpy(), y=frame["y"].to_numpy(), mode="markers", name=name,
        customdata=frame["item_id"].to_numpy(), hovertext=frame["hover"].to_numpy(),
        hovertemplate=f"<b>{'seed' if seeds else 'sample'} %{{customdata}}</b><br>%{{hovertext}}<extra>%{{fullData.name}}</extra>",
        marker={"symbol": "star" if seeds else "circle", "size": marker_sizes(frame, 14 if seeds else 6),
                "line": {"width": 1 if seeds else 0, "color": "#222"}, "opacity": 1.0 if seeds else 0.7, **marker},
    )


points["hover"] = (points["text"].fillna("").str.replace("&", "&amp;", regex=False)
                   .str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False))
seeds, samples = points[points["item_type"] == "seed"], points[points["item_type"] == "sample"]
traces: list[go.Scattergl] = []
trace_types: list[str] = []
if metric_name is None:
    column = CATEGORIES[color_label]
    for value, group in samples.groupby(samples[column].fillna("(none)"), sort=True):
        traces.append(trace(group, str(value), seeds=False))
        trace_types.append("sample")
    traces.append(trace(seeds, "seeds", seeds=True, color="#111"))
    trace_types.append("seed")
else:
    known = points["value"].notna()
    scale = {"coloraxis": "coloraxis"}
    for frame, name, is_seed in (
        (samples[~known.loc[samples.index]], "samples (no value)", False),
        (samples[known.loc[samples.index]], "samples", False),
        (seeds[~known.loc[seeds.index]], "seeds (no value)", True),
        (seeds[known.loc[seeds.index]], "seeds", True),
    ):
        if len(frame):
            colour = ({"color": "#bbb" if not is_seed else "#111"} if "no value" in name
                      else {**scale, "color": frame["value"].to_numpy()})
            traces.append(trace(frame, name, seeds=is_seed, **colour))
            trace_types.append("seed" if is_seed else "sample")
    if not known.any():
        st.info(f"No item has “{color_label}” yet. Token entropy comes from the generating stages, best-path score "
                "from the verifier, novelty from **Compute embeddings & metrics**, uncertainty from the Distributions page.")

figure = go.Figure(traces)
figure.update_layout(
    height=650, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="lasso", legend={"itemsizing": "constant"},
    xaxis={"visible": False}, yaxis={"visible": False}, coloraxis={"colorscale": "Viridis", "colorbar": {"title": ""}},
)
event = st.plotly_chart(figure, key=f"map-{key}", on_select="rerun", selection_mode=("box", "lasso"),
                        config={"scrollZoom": True, "displaylogo": False})


def selected_items() -> list[tuple[str, int]]:
    chosen = []
    for point in (event.selection.points if event else []) or []:
        curve = point.get("curve_number", 0)
        data = point.get("customdata")
        item_id = data[0] if isinstance(data, list) else data
        if item_id is not None and curve < len(trace_types):
            chosen.append((trace_types[curve], int(item_id)))
    return list(dict.fromkeys(chosen))


chosen = selected_items()
sample_ids = [i for t, i in chosen if t == "sample"]
st.subheader("Selection")
if not chosen:
    st.caption("Draw a box or lasso on the map to review the samples inside it.")
else:
    st.caption(f"{len(chosen):,} points selected: {len(sample_ids):,} samples, {len(chosen) - len(sample_ids):,} seeds.")
if sample_ids:
    rows = db.list_samples(ids=sample_ids[:SHOWN_ROWS], include_filtered=True)
    table = pd.DataFrame(rows, columns=["id", "source", "status", "filter_reason", "tags", "instruction", "output"])
    table["tags"] = table["tags"].apply(", ".join)
    st.dataframe(table, hide_index=True, width="stretch", height=300)
    if len(sample_ids) > SHOWN_ROWS:
        st.caption(f"Showing {SHOWN_ROWS} of {len(sample_ids):,}; the actions below apply to all of them.")
    note = st.text_input("Note for the review trail (optional)")
    approve, reject, reset, tag_box, tag_button = st.columns([1, 1, 1, 2, 1], vertical_alignment="bottom")
    reviewer = reviewer_name(db)
    for column, label, status in ((approve, "Approve", "approved"), (reject, "Reject", "rejected"),
                                  (reset, "Reset to pending", "pending")):
        if column.button(f"{label} {len(sample_ids):,}", key=f"bulk-{status}"):
            changed = db.set_sample_status(sample_ids, status, reviewer, note or None)
            st.session_state["maps_message"] = f"{changed:,} samples set to {status} by {reviewer}."
            st.rerun()
    tags = tag_box.text_input("Tags (comma-separated)")
    if tag_button.button("Add tags", disabled=not tags.strip()):
        try:
            changed = db.add_sample_tags(sample_ids, tags.split(","), reviewer, note or None)
        except StoreError as exc:
            st.error(str(exc))
        else:
            st.session_state["maps_message"] = f"Tagged {changed:,} samples."
            st.rerun()

st.subheader("Nearest neighbours")
st.caption("The seeds and samples closest in meaning to one point (cosine similarity of their embeddings).")
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
        seed_texts = {s["id"]: s["instruction"] for s in db.list_seeds(ids=frame.loc[frame.item_type == "seed", "item_id"].tolist())}
        sample_texts = {s["id"]: s["instruction"] for s in
                        db.list_samples(ids=frame.loc[frame.item_type == "sample", "item_id"].tolist(), include_filtered=True)}
        frame["text"] = [(seed_texts if t == "seed" else sample_texts).get(i, "")
                         for t, i in zip(frame["item_type"], frame["item_id"], strict=True)]
        st.dataframe(frame, hide_index=True, width="stretch",
                     column_config={"similarity": st.column_config.ProgressColumn("similarity", min_value=0, max_value=1)})
