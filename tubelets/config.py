"""`TubeletConfig`: what to sample, with the paper's defaults.

Every default reproduces the configuration of the paper: F. M. Thoker, H. Doughty and
C. G. M. Snoek, "Tubelet-Contrastive Self-Supervision for Video-Efficient Generalization",
ICCV 2023, arXiv:2303.11003 (https://arxiv.org/abs/2303.11003). § and Table numbers are
the paper's; "supp." names a table of its supplementary material by title: *combinations*
is "Tubelet Transformation Combinations", *ranges* "Tubelet Transformation Hyperparameters".

==========================  ==========================  ==========================================
field                       default                     source
==========================  ==========================  ==========================================
``num_tubelets``            2                           §4.1; Table 5. A ``(low, high)`` pair
                                                        (ours) draws each clip's count
``motion``                  ``"nonlinear"``             §3.3, Table 3: non-linear motion is best
``transforms``              ``("rotation",)``           §4.2, Table 4, supp. *combinations*:
                                                        rotation
``patch_size``              (16/112, 64/112)            §4.1: H'×W' uniform in [16, 64] px at 112 px
``shapes``                  all of :data:`SHAPES`       §4.1: "a set of predefined shapes"
``keyframes``               3                           §4.1: K=3 for linear motion and transforms
``max_step``                (40/112, 80/112)            §4.1: Δ in [40, 80] px at 112 px
``nonlinear_points``        48                          §4.1: N=48
``nonlinear_sigma``         8.0                         §4.1: σ=8
``nonlinear_extent``        (0.3, 1.0)                  ours: the paper's smoothed path spans a few
                                                        pixels only, so it is stretched to this
                                                        fraction of the frame
``scale_range``             (0.5, 1.5)                  §3.4, supp. *ranges*
``rotation_range``          (-90, 90) degrees           §3.4, supp. *ranges*
``shear_range``             (-1.0, 1.0)                 supp. *ranges* ("we use shear values
                                                        between -1.0 and 1.0"; §3.4 says 1.5)
``opacity``                 (1.0, 1.0)                  §3.2: patches are pasted
``softness``                (0.0, 0.0)                  ours: hard edges as in the paper
``p``                       1.0                         ours: every clip gets tubelets
``same_on_batch``           ``False``                   ours: every clip draws its own tubelets
``interpolation``           ``"linear"``                §3.3, §3.4: "linearly interpolated"
``patch_scales``            ``()``: sizes from           ours: off (§4.1 draws sizes uniformly)
                            ``patch_size``
``patch_ratios``            ``(1.0,)``                  ours: used with ``patch_scales``
``patch_jitter``            0.0                         ours: used with ``patch_scales``
``softness_p``              1.0                         ours: every patch draws a softness
``opacity_keyframes``       ``False``                   §3.2: one opacity per tubelet
``nonlinear_square``        ``False``                   ours: the stretch is drawn per axis
``rotation_step``           ``None``                    §3.4: keyframe angles uniform in
                                                        ``rotation_range``
==========================  ==========================  ==========================================

Per-sample controls (ours, beyond the paper):

* ``num_tubelets=(low, high)``: the batch's :class:`~tubelets.Tubelets` have ``M = high``
  slots and each clip draws its count uniformly from ``low … high`` (both included). The
  slots beyond a clip's count get opacity 0 in every frame, so they are painted nowhere;
  :meth:`tubelets.Tubelets.painted` tells the painted ones (``opacity > 0`` in some frame).
  The active slots are the first ``count`` drawn, before the largest-first sort, so which
  slots are active does not depend on the patch sizes. An int ``n`` is ``(n, n)``.
* ``same_on_batch=True``: every clip of the batch gets clip 0's tubelets, those of a batch
  of one with the same seed.
* ``interpolation``: how values move between two keyframes ``t0 < t1`` (the positions of a
  linear path and the transform parameters), with ``w = (t - t0) / (t1 - t0)``: the value is
  ``v0 + e(w) · (v1 - v0)`` with ``e(w) = w`` for ``"linear"``, ``w²`` for ``"accelerate"``
  (starting at rest), ``1 - (1 - w)²`` for ``"decelerate"`` (coming to rest), and for
  ``"random"`` each tubelet draws one of the three, each with probability 1/3.

Patch sizes, edges, opacity and rotation (ours, to express the released code; see
:meth:`TubeletConfig.official_code`):

* ``patch_scales`` (fractions of the frame, non-empty to use) × ``patch_ratios`` (width
  over height): each patch picks one of the ``len(scales) · len(ratios)`` sizes ``(s·√r,
  s/√r)`` uniformly (fractions of the frame's width and height), multiplies each axis by
  ``exp(U(-j, j))`` with ``j = patch_jitter``, and rounds to at least one pixel;
  ``patch_size`` is then unused.
* ``softness_p``: the probability that a patch has soft edges (its softness drawn from
  ``softness``); the others get softness 0.
* ``opacity_keyframes=True``: the opacity is drawn from ``opacity`` at ``keyframes``
  keyframes of its own (the first included) and interpolated linearly between them,
  instead of one value for the whole tubelet.
* ``nonlinear_square=True``: a non-linear path is stretched by one fraction of
  ``nonlinear_extent`` on both axes (square frames: as many pixels on each).
* ``rotation_step`` (degrees per frame): the rotation is a random walk from 0, whose
  change between keyframes ``t0 < t1`` is uniform in ``±rotation_step · (t1 - t0)``
  (eased by ``interpolation`` in between); ``rotation_range`` is then unused.

Sizes and displacements are fractions of the frame (of its width for x, its height for y),
so the same config works for any ``T × H × W``; the paper's frames are 16 × 112 × 112.

Fields take Python or NumPy numbers (not bools, not tensors) and lists, stored as ints,
floats and tuples. Every range is bounded (:data:`RANGES`, :data:`INTEGERS`) so that the
sampled maps are finite and sampling costs memory and time bounded by its output: a
``nonlinear_sigma`` beyond ``2 · nonlinear_points`` smooths like ``2 · nonlinear_points``
(see :func:`tubelets.trajectories.gaussian_reflect_matrix`), and ``keyframes`` beyond the
frames gives one keyframe per frame.
"""
from __future__ import annotations

import dataclasses
import math
import numbers

from .params import SHAPES

MOTIONS = ("static", "linear", "nonlinear")
INTERPOLATIONS = ("linear", "accelerate", "decelerate", "random")
"""Values of ``interpolation``; the samplers number them in this order."""
TRANSFORMS = ("scale", "rotation", "shear")

INTEGERS = (("keyframes", 2, None), ("nonlinear_points", 2, 1024))
"""``(field, minimum, maximum)``; ``nonlinear_points`` is bounded because the sampler's
memory grows with it (the paper uses 48)."""

RANGES = {
    "patch_size": (0.0, 1.0, True),
    "max_step": (0.0, 10.0, True),
    "nonlinear_extent": (0.0, 1.0, False),
    "scale_range": (1e-3, 1e3, False),
    "rotation_range": (-3600.0, 3600.0, False),
    "shear_range": (-100.0, 100.0, False),
    "opacity": (0.0, 1.0, False),
    "softness": (0.0, 100.0, False),
}
"""``field: (low, high, open_low)`` for every ``(min, max)`` field. The bounds are far beyond
any useful value (the paper's are in the module table) and keep every compiled map finite
in float32: a scale of 1e-50, a rotation of 1e39 degrees or a shear of 1e10 (whose
determinant, 1 + kx·ky - kx·ky, cancels to 0) would not be."""


NUMBER_LISTS = {"patch_scales": (0.0, 1.0), "patch_ratios": (0.0, 100.0)}
"""``field: (low, high)``: every value of these tuples lies in ``(low, high]``."""


@dataclasses.dataclass(frozen=True)
class TubeletConfig:
    """How tubelets are sampled. Validated on construction; see the module table."""

    num_tubelets: int | tuple[int, int] = 2
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
    same_on_batch: bool = False
    interpolation: str = "linear"
    patch_scales: tuple[float, ...] = ()
    patch_ratios: tuple[float, ...] = (1.0,)
    patch_jitter: float = 0.0
    softness_p: float = 1.0
    opacity_keyframes: bool = False
    nonlinear_square: bool = False
    rotation_step: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_tubelets", _check_count(self.num_tubelets))
        for field in ("transforms", "shapes"):
            names = getattr(self, field)
            if isinstance(names, str) or not hasattr(names, "__iter__"):
                default = getattr(TubeletConfig, field)
                raise TypeError(f"{field} must be a tuple of names like {default!r}, got {names!r}")
            # str(): a NumPy string is a str subclass, but prints and pickles as NumPy's.
            object.__setattr__(self, field, tuple(str(n) if isinstance(n, str) else n for n in names))
        for name, minimum, maximum in INTEGERS:
            object.__setattr__(self, name, _check_int(name, getattr(self, name), minimum, maximum))
        for name, choices in (("motion", MOTIONS), ("interpolation", INTERPOLATIONS)):
            _check_choice(name, getattr(self, name), choices)
            object.__setattr__(self, name, str(getattr(self, name)))
        for name in ("same_on_batch", "opacity_keyframes", "nonlinear_square"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, (low, high) in NUMBER_LISTS.items():
            object.__setattr__(self, name, _check_numbers(name, getattr(self, name), low, high))
        if not self.patch_ratios:
            raise ValueError("patch_ratios: give at least one aspect ratio")
        if not (_is_real(self.patch_jitter) and 0.0 <= self.patch_jitter <= 5.0):
            raise ValueError(f"patch_jitter must be a number in [0, 5], got {self.patch_jitter!r}")
        if not (_is_real(self.softness_p) and 0.0 <= self.softness_p <= 1.0):
            raise ValueError(f"softness_p must be a probability in [0, 1], got {self.softness_p!r}")
        step = self.rotation_step
        if step is not None and not (_is_real(step) and 0.0 <= step <= 360.0):
            raise ValueError(f"rotation_step must be None or degrees per frame in [0, 360], got {step!r}")
        object.__setattr__(self, "patch_jitter", float(self.patch_jitter))
        object.__setattr__(self, "softness_p", float(self.softness_p))
        object.__setattr__(self, "rotation_step", None if step is None else float(step))
        for name in self.transforms:
            _check_choice("transforms", name, TRANSFORMS)
        if not self.shapes:
            raise ValueError("shapes: give at least one of " + ", ".join(SHAPES))
        for name in self.shapes:
            _check_choice("shapes", name, SHAPES)
        for name, (low, high, open_low) in RANGES.items():
            object.__setattr__(self, name, _check_range(name, getattr(self, name), low, high, open_low))
        sigma = self.nonlinear_sigma
        if not (_is_real(sigma) and 0 < sigma < math.inf):
            raise ValueError(f"nonlinear_sigma must be a finite positive number, got {sigma!r}")
        if not (_is_real(self.p) and 0.0 <= self.p <= 1.0):
            raise ValueError(f"p must be a probability in [0, 1], got {self.p!r}")
        object.__setattr__(self, "nonlinear_sigma", float(sigma))
        object.__setattr__(self, "p", float(self.p))

    @property
    def tubelet_counts(self) -> tuple[int, int]:
        """``(low, high)``: each clip paints ``low … high`` tubelets (``num_tubelets`` as a pair)."""
        count = self.num_tubelets
        return (count, count) if isinstance(count, int) else count

    @property
    def max_tubelets(self) -> int:
        """``M``, the tubelet slots of every clip: the most tubelets a clip paints."""
        return self.tubelet_counts[1]

    @classmethod
    def paper(cls) -> TubeletConfig:
        """The configuration of the paper's main results (the defaults)."""
        return cls()

    @classmethod
    def paper_linear(cls) -> TubeletConfig:
        """The paper's linear-motion configuration: the "Linear" row of Table 3 (§4.2),
        linear paths through ``K = 3`` keyframes with ``Δ`` in [40, 80] px (§3.3, §4.1),
        without transformations."""
        return cls(motion="linear", transforms=())

    @classmethod
    def official_code(cls) -> TubeletConfig:
        """What the paper's released code samples (github.com/fmthoker/tubelet-contrast,
        configs/moco/r2plus1d_18/pretraining_mini_kinetics.py), which differs from the text;
        the table in the docs' configuration page gives each field's source and what this
        package does not reproduce."""
        return cls(
            patch_scales=tuple(s / 112 for s in (16, 24, 28, 32, 48, 64)),
            patch_ratios=(0.5, 0.67, 0.75, 1.0, 1.33, 1.5, 2.0),
            patch_jitter=0.18,
            softness=(0.1, 0.4),
            softness_p=0.5,
            opacity=(0.8, 1.0),
            opacity_keyframes=True,
            nonlinear_extent=(20 / 111, 89 / 111),
            nonlinear_square=True,
            rotation_step=6.0,
            interpolation="random",
        )


def _check_numbers(name: str, values: object, low: float, high: float) -> tuple[float, ...]:
    """``values`` as a tuple of floats, each in ``(low, high]``."""
    if isinstance(values, str) or not isinstance(values, (tuple, list)) or not all(_is_real(v) for v in values):
        raise ValueError(f"{name} must be a tuple of numbers, got {values!r}")
    numbers_ = tuple(float(v) for v in values)
    if not all(low < v <= high for v in numbers_):
        raise ValueError(f"{name}: every value must lie in ({low}, {high}], got {values!r}")
    return numbers_


def _is_real(value: object) -> bool:
    """A real number (Python's, NumPy's, …) that is not a bool; tensors are not numbers here."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(name: str, value: object, minimum: int, maximum: int | None) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
        if number >= minimum and (maximum is None or number <= maximum):
            return number
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")


def _check_count(value: object) -> int | tuple[int, int]:
    """``num_tubelets``: an int ``>= 0``, or a ``(low, high)`` pair of them with ``low <= high``."""
    if isinstance(value, (tuple, list)):
        if len(value) == 2:
            low, high = (_check_int("num_tubelets", v, 0, None) for v in value)
            if low > high:
                raise ValueError(f"num_tubelets: low {low} is larger than high {high}")
            return low, high
        raise ValueError(f"num_tubelets must be an integer >= 0 or a (low, high) pair of them, got {value!r}")
    return _check_int("num_tubelets", value, 0, None)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}: unknown value {value!r}; choose from {', '.join(choices)}")


def _check_range(name: str, pair: object, low: float, high: float, open_low: bool) -> tuple[float, float]:
    """``pair`` as a ``(min, max)`` tuple of floats with ``low <= min <= max <= high``
    (``low < min`` if ``open_low``)."""
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_real(v) for v in pair)):
        raise ValueError(f"{name} must be a (min, max) pair of numbers, got {pair!r}")
    lo, hi = (float(v) for v in pair)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {pair!r}")
    if lo > hi:
        raise ValueError(f"{name}: min {lo} is larger than max {hi}")
    if lo < low or hi > high or (open_low and lo <= low):
        bound = "(" if open_low else "["
        raise ValueError(f"{name} must lie in {bound}{low}, {high}], got {pair!r}")
    return lo, hi
