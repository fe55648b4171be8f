"""The batched PyTorch baselines (grid_sample, kornia): :mod:`tubelets.baselines`, installed
with the package so that ``tubelets selftest`` times them too."""
from tubelets.baselines import overlay_grid_sample, overlay_kornia, shape_coverage

__all__ = ["overlay_grid_sample", "overlay_kornia", "shape_coverage"]
