"""Stage 2, Evol-Instruct: operators, evolution chains, elimination, the evolve job."""
