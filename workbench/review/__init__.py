"""Stage 5, review and export: human review, sample import and formats, PII, decontamination, the natural mix, export and the dataset card."""
