"""Storage: atomic writes (atomic), one writer per folder (lock), where every file of a run lives (layout), and how
a model was trained in one phrase (provenance). No torch. May import mldrnet.errors only."""
