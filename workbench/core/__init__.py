"""Shared parts of every stage: the store core (connection, schema, migrations), the Teacher and its clients, jobs, metrics, embeddings, settings and the environment."""
