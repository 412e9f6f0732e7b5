"""Portfolio optimisation: requests, estimates and constraints, the optimisers, diagnosis."""
