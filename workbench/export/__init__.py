"""The export stage: approved samples written as training data (chat, preference, stepwise, Parquet) with
their lineage and a dataset card.
"""
