"""`TubeletConfig`: what to sample, with the paper's defaults.

Every default reproduces the configuration of Tubelet-Contrastive Self-Supervision
(ICCV 2023; section numbers refer to ``shared/paper/tubelet_contrast.md``):

==========================  ==========================  ==========================================
field                       default                     source
==========================  ==========================  ==========================================
``num_tubelets``            2                           §5.4.1; Table 5.5
``motion``                  ``"nonlinear"``             §5.3.3, Table 5.3: non-linear motion is best
``transforms``              ``("rotation",)``           §5.4.2, Tables 5.4 and C.5: rotation
``patch_size``              (16/112, 64/112)            §5.4.1: H'×W' uniform in [16, 64] px at 112 px
``shapes``                  all of :data:`SHAPES`       §5.4.1: "a set of predefined shapes"
``keyframes``               3                           §5.4.1: K=3 for linear motion and transforms
``max_step``                (40/112, 80/112)            §5.4.1: Δ in [40, 80] px at 112 px
``nonlinear_points``        48                          §5.4.1: N=48
``nonlinear_sigma``         8.0                         §5.4.1: σ=8
``nonlinear_extent``        (0.3, 1.0)                  ours: the paper's smoothed path spans a few
                                                        pixels only, so it is stretched to this
                                                        fraction of the frame
``scale_range``             (0.5, 1.5)                  §5.3.4, Table C.6
``rotation_range``          (-90, 90) degrees           §5.3.4, Table C.6
``shear_range``             (-1.0, 1.0)                 Table C.6 ("we use shear values between
                                                        -1.0 and 1.0"; §5.3.4 says 1.5)
``opacity``                 (1.0, 1.0)                  §5.3.2: patches are pasted
``softness``                (0.0, 0.0)                  ours: hard edges as in the paper
``p``                       1.0                         ours: every clip gets tubelets
==========================  ==========================  ==========================================

Sizes and displacements are fractions of the frame (of its width for x, its height for y),
so the same config works for any ``T × H × W``; the paper's frames are 16 × 112 × 112.
"""
from __future__ import annotations

import dataclasses
import math

from .params import SHAPES

MOTIONS = ("static", "linear", "nonlinear")
TRANSFORMS = ("scale", "rotation", "shear")


@dataclasses.dataclass(frozen=True)
class TubeletConfig:
    """How tubelets are sampled. Validated on construction; see the module table."""

    num_tubelets: int = 2
    motion: str = "nonlinear"
    transforms: tuple[str, ...] = ("rotation",)
    patch_size: tuple[float, float] = (16 / 112, 64 / 112)
    shapes: tuple[str, ...] = SHAPES
    keyframes: int = 3
    max_step: tuple[float, float] = (40 / 112, 80 / 112)
    nonlinear_points: int = 48
    nonlinear_sigma: float = 8.0
    nonlinear_extent: tuple[float, float] = (0.3, 1.0)
    scale_range: tuple[float, float] = (0.5, 1.5)
    rotation_range: tuple[float, float] = (-90.0, 90.0)
    shear_range: tuple[float, float] = (-1.0, 1.0)
    opacity: tuple[float, float] = (1.0, 1.0)
    softness: tuple[float, float] = (0.0, 0.0)
    p: float = 1.0

    def __post_init__(self):
        for field in ("transforms", "shapes"):
            names = getattr(self, field)
            if isinstance(names, str) or not hasattr(names, "__iter__"):
                default = getattr(TubeletConfig, field)
                raise TypeError(f"{field} must be a tuple of names like {default!r}, got {names!r}")
            object.__setattr__(self, field, tuple(names))
        _check_int("num_tubelets", self.num_tubelets, minimum=0)
        _check_int("keyframes", self.keyframes, minimum=2)
        _check_int("nonlinear_points", self.nonlinear_points, minimum=2)
        _check_choice("motion", self.motion, MOTIONS)
        for name in self.transforms:
            _check_choice("transforms", name, TRANSFORMS)
        if not self.shapes:
            raise ValueError("shapes: give at least one of " + ", ".join(SHAPES))
        for name in self.shapes:
            _check_choice("shapes", name, SHAPES)
        _check_range("patch_size", self.patch_size, low=0.0, high=1.0, open_low=True)
        _check_range("max_step", self.max_step, low=0.0, open_low=True)
        _check_range("nonlinear_extent", self.nonlinear_extent, low=0.0, high=1.0)
        _check_range("scale_range", self.scale_range, low=0.0, open_low=True)
        _check_range("rotation_range", self.rotation_range)
        _check_range("shear_range", self.shear_range)
        _check_range("opacity", self.opacity, low=0.0, high=1.0)
        _check_range("softness", self.softness, low=0.0)
        if not (isinstance(self.nonlinear_sigma, (int, float)) and 0 < self.nonlinear_sigma < math.inf):
            raise ValueError(f"nonlinear_sigma must be a finite positive number, got {self.nonlinear_sigma!r}")
        if not (isinstance(self.p, (int, float)) and 0.0 <= self.p <= 1.0):
            raise ValueError(f"p must be a probability in [0, 1], got {self.p!r}")

    @classmethod
    def paper(cls) -> TubeletConfig:
        """The configuration of the paper's main results (the defaults)."""
        return cls()


def _check_int(name: str, value, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}: unknown value {value!r}; choose from {', '.join(choices)}")


def _check_range(name, pair, *, low=-math.inf, high=math.inf, open_low=False) -> None:
    """A ``(min, max)`` pair of finite numbers with ``low <= min <= max <= high``."""
    try:
        lo, hi = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (min, max) pair of numbers, got {pair!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {pair!r}")
    if lo > hi:
        raise ValueError(f"{name}: min {lo} is larger than max {hi}")
    if lo < low or hi > high or (open_low and lo <= low):
        bound = "(" if open_low else "["
        raise ValueError(f"{name} must lie in {bound}{low}, {high}], got {pair!r}")
