"""Training: the loop in reference-script shape (loop), its configuration and profiles (config), what a model needs
besides the epochs (hooks), torchrun/DDP (distributed), the per-image test predictions every run keeps
(predictions) and the hash of the code a run depended on (source). May import everything in mldrnet below it
(errors, io, data, checkpoint, baselines, models); never mldrnet.evaluation."""
