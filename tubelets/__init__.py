"""Synthetic motion for video batches: tubelet-contrastive positive pairs on any device.

The public surface: :class:`TubeletOverlay` (the ``nn.Module``), :class:`TubeletConfig`
(what to sample, paper defaults), :func:`sample_tubelets` → :class:`Tubelets` (the
parameters), and :func:`composite` (paint them, one op over four backends).
"""
from .stills import Animation, animate
from .captions import describe
from .config import TubeletConfig
from .masks import render_masks
from .ops import composite
from .overlay import TubeletOverlay
from .params import SHAPES, Tubelets
from .sampling import sample_tubelets
from .sprites import load_sprites
from . import collate  # noqa: F401  registers Tubelets with torch's default_collate

__all__ = ["SHAPES", "Animation", "TubeletConfig", "TubeletOverlay", "Tubelets", "animate", "composite", "describe",
           "load_sprites", "render_masks", "sample_tubelets"]
__version__ = "0.1.0"
