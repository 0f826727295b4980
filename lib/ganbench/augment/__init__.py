"""Differentiable image augmentation for GAN discriminators.

Two families, both differentiable w.r.t. the images (the generator is trained through
``D(augment(G(z)))``) and both drawing every per-sample random number through an optional
``rng`` (a :class:`ganbench.train.batch_random.BatchRandom`), so that a global batch split
across DDP ranks is augmented exactly as in one process: :class:`AugmentPipe`, the ADA ``bgc``
pipeline of Karras et al. 2020 (blit, geometric and colour transforms, each applied with
probability ``p`` times a per-transform multiplier) with :class:`AdaptiveP`, the controller
that tunes ``p`` from the sign of the discriminator's outputs on reals; and
:func:`diff_augment`, DiffAugment of Zhao et al. 2020 (colour, translation, cutout, always on).
"""

from ganbench.augment.ada import DEFAULT_STRENGTHS, TRANSFORMS, AdaptiveP, AugmentPipe
from ganbench.augment.diffaugment import POLICIES, diff_augment

__all__ = ["AugmentPipe", "AdaptiveP", "diff_augment", "TRANSFORMS", "DEFAULT_STRENGTHS", "POLICIES"]
