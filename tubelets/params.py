"""`Tubelets`: the sampled parameters, the one format every backend consumes.

Conventions (shared by every backend, the reference included):

* Pixel ``(row i, column j)`` has its centre at ``(x, y) = (j, i)``; coordinates are
  in pixels, the y axis points down.
* A tubelet ``m`` of clip ``b`` in frame ``t`` is one affine map ``inv_affine[b, m, t]``
  (2×3) from an output pixel ``(x, y, 1)`` to patch coordinates ``u ∈ [-1, 1]²``.
  Pixels with ``max(|u_x|, |u_y|) > 1`` are outside the patch.
* The patch pixels come from the crop ``src_box[b, m] = (x0, y0, x1, y1)`` (inclusive
  pixel indices) of source frame ``src_frame[b, m]``: ``s = centre + u · half`` with
  ``centre = ((x0 + x1) / 2, (y0 + y1) / 2)`` and ``half = ((x1 - x0 + 1) / 2,
  (y1 - y0 + 1) / 2)``, clamped to the crop, then sampled bilinearly. Content therefore
  never comes from outside the crop, however the patch is rotated or sheared.
* Tubelets are painted in index order ``m = 0 … M-1``; the sampler sorts them largest
  first so small patches stay visible.

The raw motion (centres, angles, scales, shears, keyframes) is kept beside the compiled
maps so that boxes for trackers, captions and replays can be derived later.
"""
from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any, SupportsIndex, cast

import torch

SHAPES = ("rectangle", "ellipse", "rhombus")
"""Patch shapes; ``Tubelets.shape`` holds an index into this tuple."""


# eq=False: __eq__ below compares tensor values (see there), and no hash is generated.
@dataclasses.dataclass(frozen=True, eq=False)
class Tubelets:
    """Parameters of ``M`` tubelets for each of ``B`` clips of ``T`` frames.

    Compiled fields (read by the compositing kernels):

    * ``inv_affine``: ``(B, M, T, 2, 3)`` float32, output pixel → patch coordinates.
    * ``opacity``: ``(B, M, T)`` float32 in ``[0, 1]``.
    * ``src_box``: ``(B, M, 4)`` int32, crop ``(x0, y0, x1, y1)`` in source pixels, inclusive.
    * ``src_frame``: ``(B, M)`` int32, frame of the source clip the patch is cut from.
    * ``shape``: ``(B, M)`` int32, index into :data:`SHAPES`.
    * ``softness``: ``(B, M)`` float32 ≥ 0, width of the edge ramp in patch units (0 = hard).

    Raw motion (kept for labels, captions and replay):

    * ``centers``: ``(B, M, T, 2)`` float32, patch centre ``(x, y)`` in output pixels.
    * ``angles``: ``(B, M, T)`` float32, rotation in degrees, clockwise on screen.
    * ``scales``: ``(B, M, T, 2)`` float32, ``(sx, sy)`` factors.
    * ``shears``: ``(B, M, T, 2)`` float32, ``(x-shear, y-shear)`` factors.
    * ``motion_keyframes``: ``(B, M, K)`` int64 frame indices of a linear path, or ``None``.
    * ``transform_keyframes``: ``(B, M, K)`` int64 frame indices of the transforms, or ``None``.

    In data pipelines: ``tubes[i]``, ``tubes[i:j]`` and ``tubes[indices]`` select clips,
    :meth:`cat` / :meth:`collate` join them (``torch.utils.data.default_collate`` batches
    per-clip tubelets once :mod:`tubelets` is imported), ``==`` compares values, and
    :meth:`to_dict` / :meth:`from_dict` convert to and from a plain dict of tensors.
    """

    inv_affine: torch.Tensor
    opacity: torch.Tensor
    src_box: torch.Tensor
    src_frame: torch.Tensor
    shape: torch.Tensor
    softness: torch.Tensor
    centers: torch.Tensor
    angles: torch.Tensor
    scales: torch.Tensor
    shears: torch.Tensor
    motion_keyframes: torch.Tensor | None = None
    transform_keyframes: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        """The number of clips, ``B``."""
        return self.inv_affine.shape[0]

    @property
    def num_tubelets(self) -> int:
        """The number of tubelets per clip, ``M``."""
        return self.inv_affine.shape[1]

    @property
    def num_frames(self) -> int:
        """The number of frames, ``T``."""
        return self.inv_affine.shape[2]

    @property
    def device(self) -> torch.device:
        """The device of the tensors (that of ``inv_affine``)."""
        return self.inv_affine.device

    @property
    def patch_size(self) -> torch.Tensor:
        """Crop width and height in pixels, ``(B, M, 2)`` int32."""
        return crop_size(self.src_box)

    def painted(self) -> torch.Tensor:
        """``(B, M)`` bool: the tubelets painted in some frame (opacity above 0 there).

        A clip that draws fewer tubelets than ``M`` (``num_tubelets=(low, high)``) has
        opacity 0 in every frame of its other slots, as has every slot of a clip left
        without tubelets (``p < 1``)."""
        return (self.opacity > 0).any(-1)

    def to(self, device: torch.device | str) -> Tubelets:
        """The same tubelets with every tensor on ``device``."""
        return self._map(lambda tensor: tensor.to(device))

    def frame_boxes(self, height: int, width: int) -> torch.Tensor:
        """``(B, M, T, 4)`` int32 boxes holding each patch in a ``height × width`` frame."""
        return frame_boxes(self.inv_affine, height, width)

    def boxes(self, height: int, width: int) -> torch.Tensor:
        """``(B, M, T, 4)`` int64 tight boxes ``(x0, y0, x1, y1)``, inclusive pixel indices,
        of the pixels each tubelet paints in each frame of a ``height × width`` frame;
        ``(0, 0, -1, -1)`` where it paints none (off the frame, or opacity 0).

        Unlike :meth:`frame_boxes` (the compositors' box around the whole patch square, a
        pixel of margin on each side) these follow the shape: see :func:`tubelets.footprint.boxes`.
        """
        # Imported here: footprint builds on this module (the spine), which never imports it.
        from .footprint import boxes

        return boxes(self.inv_affine, self.opacity, self.shape, self.softness, height, width)

    def visible(self, height: int, width: int) -> torch.Tensor:
        """``(B, M, T)`` bool: whether each tubelet paints a pixel of a ``height × width``
        frame in each frame (its :meth:`boxes` box is not empty; opacity 0 is invisible)."""
        from .footprint import visible

        return visible(self.inv_affine, self.opacity, self.shape, self.softness, height, width)

    def __getitem__(self, index: SupportsIndex | slice | list[int] | list[bool] | torch.Tensor) -> Tubelets:
        """The tubelets of the clips ``index`` selects along ``B``; every field keeps its
        batch dimension.

        ``index`` is an int, a slice, a list of ints or bools, or a 1-D integer or bool
        tensor (a 0-dim integer tensor counts as an int). An int keeps a batch of one:
        ``tubes[i]`` is ``(1, M, T, 2, 3)`` and so on, not ``(M, T, 2, 3)``. Every consumer
        here (:func:`tubelets.composite`, :class:`tubelets.TubeletOverlay`, :meth:`cat`,
        collation) takes a batch, a per-clip ``sample_tubelets(config, 1, ...)`` is a batch
        of one too, and so ``tubes[i]`` is a per-clip tubelets that goes wherever ``tubes``
        goes, with ``Tubelets.cat([tubes[i] for i in range(B)]) == tubes``. An int out of
        range raises ``IndexError``, so ``for clip in tubes`` yields the ``B`` clips.

        Like tensor indexing, ints and slices give views of these tensors; lists and
        tensors give copies. A tuple is refused: it would index more than ``B``.
        """
        if isinstance(index, torch.Tensor) and index.dim() == 0 and _is_integer(index.dtype):
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, (numbers.Integral, slice, list, torch.Tensor)):
            raise TypeError(f"Tubelets index must be an int, slice, list or 1-D tensor of clips, "
                            f"got {type(index).__name__}")
        if isinstance(index, numbers.Integral):
            clips, number = self.batch_size, int(index)
            if not -clips <= number < clips:
                raise IndexError(f"Tubelets index {index} is out of range for {clips} clips")
            start = number % clips
            index = slice(start, start + 1)
        elif isinstance(index, list):
            index = torch.as_tensor(index, dtype=None if index else torch.int64)
        if isinstance(index, torch.Tensor) and index.dim() != 1:
            raise IndexError(f"Tubelets index tensor must be 1-D (clips along B), got shape {tuple(index.shape)}")
        return self._map(lambda tensor: tensor[index])

    def __eq__(self, other: object) -> bool:
        """``True`` when every field matches: both ``None``, or tensors of the same shape,
        dtype and device with equal values (``torch.equal``, so a NaN equals nothing).
        Tubelets on different devices are unequal; reading the values of CUDA tubelets
        waits for the device."""
        if not isinstance(other, Tubelets):
            return NotImplemented
        return all(_same_tensor(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    # Unhashable, like a list: ``frozen`` only stops fields being rebound, while the tensors
    # stay mutable in place (``tubes.opacity.mul_(0)``), so a hash of the values could change
    # under a dict or set holding it (and would read every value from the device). A hash of
    # the tensors' identities, which a frozen dataclass would otherwise generate, would give
    # equal tubelets different hashes. (mypy cannot type a None __hash__, hence the ignore.)
    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def cat(cls, tubelets: Iterable[Tubelets]) -> Tubelets:
        """Join tubelets of ``B_1, B_2, ...`` clips into one of ``B_1 + B_2 + ...`` clips.

        All must agree in ``M``, ``T``, device, which keyframes they hold (and their ``K``),
        and every field's dtype; a ``ValueError`` names what differs.
        """
        parts = list(tubelets)
        if not parts:
            raise ValueError("Tubelets.cat needs at least one Tubelets, got none")
        for i, part in enumerate(parts):
            if not isinstance(part, Tubelets):
                raise TypeError(f"Tubelets.cat: tubelets[{i}] must be Tubelets, got {type(part).__name__}")
        first = parts[0]
        for i, part in enumerate(parts[1:], 1):
            _check_joinable(first, part, i)
        return cls.from_dict({
            f.name: None if getattr(first, f.name) is None else torch.cat([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(cls)
        })

    @classmethod
    def collate(cls, batch: list[Tubelets], *, collate_fn_map: dict | None = None) -> Tubelets:
        """The tubelets of a batch of samples: :meth:`cat` of the per-sample tubelets.

        The signature is that of a ``torch.utils.data.default_collate`` hook, which
        :mod:`tubelets.collate` registers this as (``collate_fn_map`` is unused: the
        fields are tensors and are concatenated, not collated further).
        """
        return cls.cat(batch)

    def to_dict(self) -> dict[str, torch.Tensor | None]:
        """Every field by name: these very tensors (no copy), ``None`` for absent keyframes.

        ``Tubelets.from_dict(tubes.to_dict()) == tubes``. A plain dict of tensors is what
        ``torch.save`` / ``torch.load(weights_only=True)`` and other serialisers accept.
        ``dataclasses.asdict(tubes)`` works too, ``None`` keyframes included, but deep-copies
        every tensor: memory on the device, and an error for a tensor in an autograd graph.
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, fields: Mapping[str, torch.Tensor | None]) -> Tubelets:
        """Tubelets from a dict like :meth:`to_dict` returns (absent keyframes may be left
        out). A missing or unknown field raises ``ValueError`` naming it."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [name for name in fields if name not in names]
        if unknown:
            raise ValueError(f"Tubelets.from_dict: unknown fields {unknown}; the fields are {names}")
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.name not in fields]
        if missing:
            raise ValueError(f"Tubelets.from_dict: missing fields {missing}")
        # The names are checked above; the values, as by the constructor, are not.
        return cls(**cast("dict[str, Any]", fields))

    def _map(self, function: Callable[[torch.Tensor], torch.Tensor]) -> Tubelets:
        """``function`` applied to every tensor field; ``None`` keyframes stay ``None``."""
        return dataclasses.replace(self, **{
            f.name: function(v) for f in dataclasses.fields(self) if (v := getattr(self, f.name)) is not None
        })


def _is_integer(dtype: torch.dtype) -> bool:
    """Whether ``dtype`` holds integers (``bool`` is not one: it indexes as a mask)."""
    return not (dtype == torch.bool or dtype.is_floating_point or dtype.is_complex)


def _same_tensor(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    """Both ``None``, or the same shape, dtype, device and values."""
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)


def _check_joinable(first: Tubelets, other: Tubelets, i: int) -> None:
    """Raise ``ValueError`` naming what keeps ``tubelets[i]`` (``other``) from joining
    ``tubelets[0]`` (``first``) along ``B``."""
    if other.device != first.device:
        raise ValueError(f"Tubelets.cat: device differs: tubelets[0] is on {first.device}, "
                         f"tubelets[{i}] on {other.device}")
    sizes = {"num_tubelets (M)": (first.num_tubelets, other.num_tubelets),
             "num_frames (T)": (first.num_frames, other.num_frames)}
    for what, (a, b) in sizes.items():
        if a != b:
            raise ValueError(f"Tubelets.cat: {what} differs: tubelets[0] has {a}, tubelets[{i}] has {b}")
    for f in dataclasses.fields(Tubelets):
        a, b = getattr(first, f.name), getattr(other, f.name)
        if (a is None) != (b is None):
            raise ValueError(f"Tubelets.cat: {f.name} is {'None' if a is None else 'a tensor'} in tubelets[0] "
                             f"but {'None' if b is None else 'a tensor'} in tubelets[{i}]")
        if a is None:
            continue
        if a.shape[1:] != b.shape[1:] or a.dtype != b.dtype or a.device != b.device:
            raise ValueError(f"Tubelets.cat: {f.name} differs: {tuple(a.shape)} {a.dtype} on {a.device} in "
                             f"tubelets[0], {tuple(b.shape)} {b.dtype} on {b.device} in tubelets[{i}]; "
                             f"all but the size of dim 0 (B) must agree")


def compile_inv_affine(
    centers: torch.Tensor,
    half_size: torch.Tensor,
    angles: torch.Tensor,
    scales: torch.Tensor,
    shears: torch.Tensor,
) -> torch.Tensor:
    """Fold motion and transforms into ``(..., 2, 3)`` maps output pixel → patch coordinates.

    The forward map sends patch coordinates ``u`` to the pixel
    ``centre + R(angle) · Y(shear_y) · X(shear_x) · diag(scale) · diag(half_size) · u``:
    the patch is scaled, then sheared along x and then along y (each shear keeps area),
    then rotated clockwise on screen.

    Args:
        centers: ``(..., 2)`` patch centre ``(x, y)``, pixels.
        half_size: ``(..., 2)`` half the patch width and height, pixels (broadcasts).
        angles: ``(...)`` degrees.
        scales: ``(..., 2)`` ``(sx, sy)``.
        shears: ``(..., 2)`` ``(x-shear, y-shear)``.
    """
    theta = torch.deg2rad(angles.double())
    cos, sin = torch.cos(theta), torch.sin(theta)
    sx, sy = (scales.double() * half_size.double()).unbind(-1)
    kx, ky = shears.double().unbind(-1)
    # Y · X = [[1, kx], [ky, 1 + kx·ky]]; then multiplied by diag(sx, sy) on the right.
    a00, a01 = sx, kx * sy
    a10, a11 = ky * sx, (1 + kx * ky) * sy
    f00, f01 = cos * a00 - sin * a10, cos * a01 - sin * a11
    f10, f11 = sin * a00 + cos * a10, sin * a01 + cos * a11
    det = f00 * f11 - f01 * f10
    i00, i01, i10, i11 = f11 / det, -f01 / det, -f10 / det, f00 / det
    cx, cy = centers.double().unbind(-1)
    rows = [
        torch.stack([i00, i01, -(i00 * cx + i01 * cy)], -1),
        torch.stack([i10, i11, -(i10 * cx + i11 * cy)], -1),
    ]
    return torch.stack(rows, -2).float()


def forward_map(inv_affine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The patch → output pixel maps of ``(..., 2, 3)`` maps ``inv_affine``, in float64.

    Returns ``(forward, centre)``: ``forward`` ``(..., 2, 2)``, the inverse of the 2×2 part
    (pixels per patch unit), and ``centre`` ``(..., 2)``, where ``u = 0`` lands, pixels; a
    pixel is ``centre + forward · u``. A singular 2×2 part leaves infinities or NaN in both.
    """
    m = inv_affine.double()
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    forward = torch.stack([d, -b, -c, a], -1).unflatten(-1, (2, 2)) / det[..., None, None]
    centre = -(forward @ m[..., 2:]).squeeze(-1)
    return forward, centre


def frame_boxes(inv_affine: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(..., 4)`` int32 boxes ``(x0, y0, x1, y1)``, inclusive, that hold each patch.

    ``inv_affine`` is ``(..., 2, 3)``. Boxes are clipped to a ``height × width`` frame; a
    patch off the frame gets ``x1 < x0``. One pixel of margin keeps them conservative
    against rounding in ``inv_affine``.
    """
    forward, centre = forward_map(inv_affine)
    extent = forward.abs().sum(-1)  # half-size of the box around the patch square
    low = torch.floor(centre - extent) - 1
    high = torch.ceil(centre + extent) + 1
    # A singular map stretches the patch over a whole strip: take the whole frame.
    low = torch.where(torch.isfinite(low), low, torch.zeros_like(low))
    limit = torch.tensor([width - 1, height - 1], dtype=torch.float64, device=low.device)
    high = torch.where(torch.isfinite(high), high, limit)
    low = torch.maximum(low, torch.zeros_like(low))
    high = torch.minimum(high, limit)
    boxes = torch.cat([low, high], -1)
    empty = (low > high).any(-1, keepdim=True)
    nothing = torch.tensor([0.0, 0.0, -1.0, -1.0], dtype=boxes.dtype, device=boxes.device)
    return torch.where(empty, nothing, boxes).to(torch.int32)


def crop_size(src_box: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` width and height, in pixels, of inclusive crops ``(..., 4)``."""
    return src_box[..., 2:] - src_box[..., :2] + 1


def half_size_of(src_box: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` float half width/height of inclusive crops ``(..., 4)``."""
    return crop_size(src_box).float() / 2
