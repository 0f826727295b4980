"""Metrics: named evaluation protocols (:mod:`~ganbench.metrics.protocols`) and where their artifacts live
(:mod:`~ganbench.metrics.paths`, :mod:`~ganbench.metrics.plan`), all three importable without torch; feature
extractors, reference statistics, FID/KID/PR through torch-fidelity, the evaluation of a checkpoint and the
real-data floor (:mod:`~ganbench.metrics.gan_metrics`); segmentation scores shared by every paper
(:mod:`~ganbench.metrics.segmentation`)."""
