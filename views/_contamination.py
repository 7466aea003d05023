"""The benchmark items a seed or sample matches (the decontamination scan's hits), for the pages that show one."""

from __future__ import annotations

import streamlit as st

from workbench.store import Store


def show_benchmark_matches(db: Store, item_type: str, item_id: int) -> None:
    """One bordered box per benchmark the item matches: the benchmark item's text, the n-gram overlap and the
    cosine similarity, and what an export does with it. Nothing when the item matches none."""
    for hit in db.safety.contamination_hits(item_type, [item_id]):
        box = st.container(border=True)
        similarity = "not computed" if hit["similarity"] is None else f"{hit['similarity']:.3f}"
        box.error(
            f"Matches **{hit['benchmark']}** item {hit['item_index'] + 1}: word n-gram overlap "
            f"{hit['ngram_overlap']:.0%}, cosine similarity {similarity}."
            + (" Left out of exports unless you let matches through on the Export page." if item_type == "sample" else ""),
            icon=":material/policy:",
        )
        box.caption(f"{hit['benchmark']} item {hit['item_index'] + 1}")
        box.text(hit["match"])
