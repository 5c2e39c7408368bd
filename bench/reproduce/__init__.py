"""`bench reproduce`: the paper's tables and figures as experiments. Imports bench, engines and mldrnet."""
