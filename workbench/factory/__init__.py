"""The factory at a glance: the overview of every stage and the demo project that runs them all."""
