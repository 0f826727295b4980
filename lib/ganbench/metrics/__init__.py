"""Metrics: feature extractors (Inception, the trained probe), reference statistics, FID/KID/PR
through torch-fidelity, and the evaluation of a checkpoint."""
