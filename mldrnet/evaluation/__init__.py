"""Evaluation: the paper's metrics (top-1, per-class true positive rate, confusion), the small-set protocol of
Figs. 8-10, and the statistics of comparisons (statistics: Wilson intervals, McNemar, the paired bootstrap,
Student's t over seeds, TOST, Nadeau-Bengio over folds, Holm). The top concern of mldrnet: may import any of it."""
