"""The student in the loop: the model the data is for, what it fails at (the probe), how unsure it is, and the headroom."""
