"""Stage 3, reasoning and verification: reasoning paths, step verifiers, the gate, human step labels, calibration against people, the reason job."""
