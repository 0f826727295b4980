"""The one training loop shared by every method: data, DDP, EMA, checkpoints, logging, NaN guard.

``ganbench.train.launch.train_experiment`` starts a run (torchrun for several ranks);
``ganbench.train.loop.training_loop`` is the loop itself. Submodules are imported explicitly
(nothing here) so that networks can use ``ganbench.train.batch_random`` without importing the loop.
"""
