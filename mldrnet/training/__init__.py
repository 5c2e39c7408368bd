"""Training: the loop in reference-script shape (loop), its configuration and profiles (config), what a model needs
besides the epochs (hooks), and torchrun/DDP (distributed). May import everything in mldrnet below it (errors, io,
data, checkpoint, baselines, models); never mldrnet.evaluation."""
