"""The owners of the tables every stage shares (reached as store.<name>)."""
