"""Stage 1, seeds: gold seeds read from the field's formats, validated, deduplicated and stored."""
