"""Safety checks before export: PII (scan, policy, recognizers) and benchmark decontamination."""
