"""Evaluation: the paper's metrics (top-1, per-class true positive rate, confusion) and the small-set protocol of
Figs. 8-10. The top concern of mldrnet: may import any of it."""
