"""Stage 4, analysis: metrics over the store, embeddings on UMAP maps, the map selection."""
