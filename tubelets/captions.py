"""`describe`: one English sentence per clip from the motion parameters of :class:`Tubelets`.

The sentence says, for every visible tubelet of a clip, how large the patch is, where it
goes (or that it stays still), how fast and along what kind of path, and how it rotates,
grows, shrinks, stretches or shears, e.g. "A large patch moves quickly to the upper right
along a curving path while rotating clockwise by about 40 degrees, and a small patch stays
still while growing." (captions from the motion parameters, as in LocoMotion, the
successor of Thoker et al., ICCV 2023, arXiv:2303.11003).

Everything is measured from the raw motion (``centers``, ``angles``, ``scales``,
``shears``, ``opacity``) and the crop (``src_box``), vectorised over ``(B, M)`` in float64;
only the assembly of the words loops. Screen conventions are those of
:mod:`tubelets.params`: x points right, y points down, angles are degrees clockwise on
screen.

Measures (per tubelet, over its ``T`` frames):

* **path length**: the sum of the per-frame steps of the centre, pixels; **net
  displacement**: last centre minus first, pixels.
* **still** when the path length is at most :data:`STILL_PX`.
* **returns** (no direction is named) when the net displacement is under
  :data:`RETURN_RATIO` of the path length.
* **direction** of the net displacement, in pixels, rounded to the nearest of 8 screen
  directions (:data:`DIRECTIONS`; "up" is y decreasing).
* **path shape**: the path is re-sampled at :data:`CHORDS` equal lengths of arc (each at
  least :data:`MIN_CHORD_PX`, so that the rounding of sampled centres to the pixel grid
  cannot fake a turn); a *sharp turn* is a run of chords whose heading differs from that
  of the chord two further on by more than :data:`SHARP_TURN_DEG`. *Straight*: no sharp
  turn and every centre within ``max(STRAIGHT_TOLERANCE_PX, STRAIGHT_TOLERANCE · net)``
  of the segment from the first centre to the last; *zigzag*: at least
  :data:`ZIGZAG_MIN_TURNS` sharp turns; *turning*: one; *curving* otherwise.
* **speed**: path length per frame in frame sizes (x steps over the frame width, y steps
  over its height), bucketed by :data:`SPEED_THRESHOLDS`.
* **rotation**: net change of the angle, last frame minus first, rounded to
  :data:`ROTATION_STEP_DEG`; named when it is at least :data:`ROTATION_MIN_DEG`, else
  "rocking" when the angle strays that far from its start and comes back.
* **growing / shrinking**: ratio of the geometric-mean scale ``sqrt(sx · sy)``, last frame
  over first, beyond :data:`SCALE_MIN_RATIO` either way; else **stretching** when the
  aspect ratio ``sx / sy`` changes by :data:`ASPECT_MIN_RATIO` either way.
* **shearing** when a shear factor strays at least :data:`SHEAR_MIN` from its start.
* **size**: side of the crop relative to the frame, ``sqrt(w · h / (W · H))``, bucketed by
  :data:`SIZE_THRESHOLDS`.
* Tubelets whose opacity is 0 in every frame are invisible and left out.

Frame size: ``height`` and ``width`` (pixels) calibrate the speed and size words; pass
those given to :func:`tubelets.sample_tubelets`. When either is omitted it is inferred per
clip as the smallest frame holding the clip's crops and centres (the sampler keeps both
inside the frame), a lower bound of the true frame: words may then read faster or larger.

Words: with ``seed=None`` every slot takes the first phrase of its table below, always the
same text for the same tubelets. With ``seed=int`` each slot draws one phrase of its table
(``random.Random(seed)``, one stream for the batch, slots in a fixed order, clips in batch
order), so the same seed and tubelets give the same text; phrases of one table mean the same.
"""
from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable

import torch

from .params import Tubelets

# --- thresholds (units in each name or comment) -------------------------------------------

STILL_PX = 1.0
"""Path length, pixels over the whole clip, up to which a tubelet is still."""
RETURN_RATIO = 0.25
"""Net displacement over path length below which a moving tubelet "returns" (no direction)."""
CHORDS = 12
"""Equal arc-length chords the path is re-sampled at to find sharp turns."""
MIN_CHORD_PX = 4.0
"""Shortest chord, pixels. Centres are snapped to the pixel grid (±0.5 px), so a 4 px chord
has its heading wrong by at most about 21 degrees."""
SHARP_TURN_DEG = 75.0
"""Heading change, degrees, between a chord and the one two further on that makes a sharp turn."""
ZIGZAG_MIN_TURNS = 2
"""Sharp turns from which a path is a zigzag."""
STRAIGHT_TOLERANCE_PX = 1.5
"""Distance, pixels, from the start-to-end segment within which every centre of a straight path lies..."""
STRAIGHT_TOLERANCE = 0.1
"""...or this fraction of the net displacement, if larger."""
SPEED_THRESHOLDS = (0.02, 0.06)
"""Mean speed, frame sizes per frame (2.2 and 6.7 px per frame at 112 px); below the first
"slow", from the second "quick", "moderate" between."""
ROTATION_MIN_DEG = 5.0
"""Net rotation, degrees, from which the rotation is named."""
ROTATION_STEP_DEG = 5.0
"""Degrees the named rotation is rounded to."""
SCALE_MIN_RATIO = 1.1
"""Geometric-mean scale ratio, last frame over first, from which a patch grows (or below
whose inverse it shrinks)."""
ASPECT_MIN_RATIO = 1.25
"""Aspect-ratio change, either way, from which a patch that neither grows nor shrinks stretches."""
SHEAR_MIN = 0.1
"""Change of a shear factor (dimensionless) from which a patch shears."""
SIZE_THRESHOLDS = (0.25, 0.45)
"""Crop side relative to the frame side (16 px is 0.14, 64 px is 0.57 at 112 px, the
paper's range): below the first "small", from the second "large", "medium" between."""

# --- vocabulary: the first phrase of each is the default; all of one table mean the same --

DIRECTION_NAMES = ("right", "upper right", "up", "upper left", "left", "lower left", "down", "lower right")
"""The 8 screen directions counter-clockwise from right, 45 degrees apart (up is y decreasing)."""
DIRECTIONS: dict[str, tuple[str, ...]] = {
    "right": ("to the right", "rightward", "toward the right"),
    "upper right": ("to the upper right", "up and to the right", "toward the top right"),
    "up": ("up", "upward", "toward the top"),
    "upper left": ("to the upper left", "up and to the left", "toward the top left"),
    "left": ("to the left", "leftward", "toward the left"),
    "lower left": ("to the lower left", "down and to the left", "toward the bottom left"),
    "down": ("down", "downward", "toward the bottom"),
    "lower right": ("to the lower right", "down and to the right", "toward the bottom right"),
}
SPEEDS: dict[str, tuple[str, ...]] = {
    "slow": ("slowly", "gently", "unhurriedly"),
    "moderate": ("at a moderate pace", "at a medium pace", "at a moderate speed"),
    "quick": ("quickly", "rapidly", "swiftly"),
}
"""One-word speeds go before the direction ("moves quickly up"), longer ones after it
("moves up at a moderate pace")."""
PATHS: dict[str, tuple[str, ...]] = {
    "straight": ("in a straight line", "along a straight path", "on a straight course"),
    "curving": ("along a curving path", "along a bending path", "on a curved course"),
    "turning": ("with one sharp turn", "with a single sharp turn", "with one abrupt turn"),
    "zigzag": ("along a zigzag path", "in a zigzag", "on a zigzag course"),
}
SIZES: dict[str, tuple[str, ...]] = {
    "small": ("small", "little"),
    "medium": ("medium-sized", "mid-sized"),
    "large": ("large", "big"),
}
NOUNS = ("patch", "piece")
MOVES = ("moves", "travels", "heads")
"""Verbs of a tubelet with a direction."""
STILL = ("stays still", "stays in place", "holds still", "remains still")
RETURNS = ("moves around {speed} and ends near where it started",
           "wanders {speed} and comes back close to its start",
           "travels {speed} in a loop back near its starting point")
"""A moving tubelet whose net displacement is small next to its path (``{speed}`` is a
phrase of :data:`SPEEDS`)."""
ROTATIONS: dict[str, tuple[str, ...]] = {
    "clockwise": ("rotating clockwise", "turning clockwise", "spinning clockwise"),
    "counter-clockwise": ("rotating counter-clockwise", "turning counter-clockwise", "rotating anticlockwise"),
    "rocking": ("rocking back and forth", "wobbling", "swaying from side to side"),
}
AMOUNTS = ("by about {degrees} degrees", "by roughly {degrees} degrees", "through about {degrees} degrees")
SCALINGS: dict[str, tuple[str, ...]] = {
    "growing": ("growing", "getting bigger", "expanding"),
    "shrinking": ("shrinking", "getting smaller", "contracting"),
    "stretching": ("stretching", "changing its proportions"),
}
SHEARS = ("shearing", "skewing", "slanting")
NO_PATCH = ("No patch appears.", "There is no patch.", "No patch is shown.")
"""The sentence of a clip without visible tubelets."""

_SPEED_NAMES = ("slow", "moderate", "quick")
_PATH_NAMES = ("straight", "curving", "turning", "zigzag")
_SIZE_NAMES = ("small", "medium", "large")
_ROTATION_NAMES = (None, "clockwise", "counter-clockwise", "rocking")
_SCALING_NAMES = (None, "growing", "shrinking", "stretching")
_STILL, _RETURNS, _MOVES = 0, 1, 2


def describe(tubes: Tubelets, height: int | None = None, width: int | None = None, *,
             seed: int | None = None) -> list[str]:
    """One English sentence per clip of ``tubes`` describing its tubelets' motion.

    Args:
        tubes: the tubelets of ``B`` clips (any device; the measures are read back once).
        height, width: the frame size in pixels, for the speed and size words; either
            omitted infers it per clip (see the module docstring).
        seed: ``None`` for the default words; an int draws paraphrases from the module's
            vocabulary tables, the same for the same seed.

    Returns:
        ``B`` strings, each one sentence starting with a capital and ending with ".".
    """
    if not isinstance(tubes, Tubelets):
        raise TypeError(f"tubes must be Tubelets, got {type(tubes).__name__}")
    for name, value in (("height", height), ("width", width)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    rng = None if seed is None else random.Random(int(seed))
    frame = _frame_size(tubes, height, width)
    rows = _measure(tubes, frame)
    return [_sentence(clip, rng) for clip in rows]


def _frame_size(tubes: Tubelets, height: int | None, width: int | None) -> torch.Tensor:
    """``(B, 2)`` float64 frame ``(width, height)`` per clip, given or inferred."""
    batch = tubes.batch_size
    device = tubes.centers.device
    if height is not None and width is not None:
        return torch.tensor([[float(width), float(height)]], dtype=torch.float64, device=device).expand(batch, 2)
    if tubes.num_tubelets == 0 or tubes.centers.shape[2] == 0:
        inferred = torch.ones(batch, 2, dtype=torch.float64, device=device)
    else:
        crops = tubes.src_box[..., 2:].double().amax(1) + 1  # (B, 2)
        centres = tubes.centers.double().flatten(1, 2).amax(1).ceil() + 1  # (B, 2)
        inferred = torch.maximum(crops, centres).nan_to_num(1.0).clamp(min=1.0)
    if width is not None:
        inferred[:, 0] = float(width)
    if height is not None:
        inferred[:, 1] = float(height)
    return inferred


def _measure(tubes: Tubelets, frame: torch.Tensor) -> list[list[list[int]]]:
    """Per clip, per visible tubelet: ``[motion, direction, path, speed, size, rotation,
    degrees, scaling, shear]`` codes (indices into the name tuples above), all computed
    over ``(B, M)`` at once and read back in one transfer."""
    batch, tubelets = tubes.batch_size, tubes.num_tubelets
    if tubelets == 0:
        return [[] for _ in range(batch)]
    centers = tubes.centers.double()
    angles, scales, shears = tubes.angles.double(), tubes.scales.double(), tubes.shears.double()
    opacity = tubes.opacity.double()
    if centers.shape[2] < 2:  # one frame (or none): no motion to measure
        centers, angles, shears = _hold(centers, 0.0), _hold(angles, 0.0), _hold(shears, 0.0)
        scales = _hold(scales, 1.0)
    frames = centers.shape[2]

    # Translation.
    steps = centers.diff(dim=2)  # (B, M, T-1, 2)
    lengths = steps.norm(dim=-1)
    path = lengths.sum(-1)
    displacement = centers[:, :, -1] - centers[:, :, 0]
    net = displacement.norm(dim=-1)
    heading = torch.rad2deg(torch.atan2(-displacement[..., 1], displacement[..., 0]))  # up is +90
    direction = torch.remainder(torch.round(heading / 45.0), 8)
    speed = (steps / frame[:, None, None, :]).norm(dim=-1).sum(-1) / (frames - 1)
    speed_code = torch.bucketize(speed, torch.tensor(SPEED_THRESHOLDS, dtype=torch.float64, device=speed.device),
                                 right=True)

    # Straightness: every centre near the segment from the first centre to the last.
    start = centers[:, :, :1]
    offset = centers - start
    along = (offset * displacement[:, :, None]).sum(-1) / (net**2).clamp(min=1e-12)[..., None]
    closest = start + along.clamp(0.0, 1.0)[..., None] * displacement[:, :, None]
    deviation = (centers - closest).norm(dim=-1).amax(-1)
    tolerance = torch.clamp(STRAIGHT_TOLERANCE * net, min=STRAIGHT_TOLERANCE_PX)

    turns = _sharp_turns(centers, steps, lengths, path)
    shape = torch.where(turns >= ZIGZAG_MIN_TURNS, 3, torch.where(turns == 1, 2, 1))
    shape = torch.where((turns == 0) & (deviation <= tolerance), 0, shape)
    motion = torch.where(path <= STILL_PX, _STILL, torch.where(net < RETURN_RATIO * path, _RETURNS, _MOVES))

    # Rotation (degrees, clockwise positive).
    turned = angles[:, :, -1] - angles[:, :, 0]
    excursion = (angles - angles[:, :, :1]).abs().amax(-1)
    degrees = torch.round(turned.abs() / ROTATION_STEP_DEG) * ROTATION_STEP_DEG
    rotation = torch.where(turned.abs() >= ROTATION_MIN_DEG, torch.where(turned > 0, 1, 2),
                           torch.where(excursion >= ROTATION_MIN_DEG, 3, 0))

    # Scale and shear.
    positive = scales.clamp(min=1e-12)
    log_size = positive.log().mean(-1)  # log sqrt(sx * sy)
    log_aspect = positive[..., 0].log() - positive[..., 1].log()
    grown = log_size[:, :, -1] - log_size[:, :, 0]
    stretched = (log_aspect[:, :, -1] - log_aspect[:, :, 0]).abs()
    scaling = torch.where(grown >= math.log(SCALE_MIN_RATIO), 1, torch.where(grown <= -math.log(SCALE_MIN_RATIO), 2,
                          torch.where(stretched >= math.log(ASPECT_MIN_RATIO), 3, 0)))
    sheared = (shears - shears[:, :, :1]).abs().flatten(2).amax(-1) >= SHEAR_MIN

    # Size of the crop relative to the frame.
    crop = tubes.patch_size.double()
    side = (crop.prod(-1) / frame.prod(-1)[:, None]).clamp(min=0).sqrt()
    size = torch.bucketize(side, torch.tensor(SIZE_THRESHOLDS, dtype=torch.float64, device=side.device), right=True)

    visible = opacity.amax(-1) > 0 if opacity.shape[-1] else torch.zeros_like(path, dtype=torch.bool)
    codes = torch.stack([motion, direction, shape, speed_code, size, rotation, degrees, scaling, sheared], -1)
    codes = codes.nan_to_num(0.0).long()
    keep = visible.tolist()
    return [[row for row, shown in zip(clip, shown_row) if shown] for clip, shown_row in zip(codes.tolist(), keep)]


def _hold(values: torch.Tensor, fill: float) -> torch.Tensor:
    """``values`` ``(B, M, T, ...)`` with ``T < 2`` as two equal frames (``fill`` if none)."""
    if values.shape[2] == 0:
        values = values.new_full((*values.shape[:2], 1, *values.shape[3:]), fill)
    return values[:, :, :1].expand(*values.shape[:2], 2, *values.shape[3:])


def _sharp_turns(centers: torch.Tensor, steps: torch.Tensor, lengths: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """``(B, M)`` number of sharp turns: runs of chords whose heading differs from the
    chord two further on by more than :data:`SHARP_TURN_DEG` (see the module docstring)."""
    cumulative = torch.cat([torch.zeros_like(path)[..., None], lengths.cumsum(-1)], -1)  # (B, M, T)
    chord = torch.clamp(path / CHORDS, min=MIN_CHORD_PX)
    arc = torch.arange(CHORDS + 1, dtype=torch.float64, device=path.device) * chord[..., None]  # (B, M, N+1)
    valid = arc <= path[..., None] + 1e-9
    arc = torch.minimum(arc, path[..., None])
    index = (torch.searchsorted(cumulative.contiguous(), arc.contiguous(), right=True) - 1)
    index = index.clamp(0, steps.shape[2] - 1)
    base = cumulative.gather(-1, index)
    length = lengths.gather(-1, index)
    fraction = torch.where(length > 0, (arc - base) / length.clamp(min=1e-12), torch.zeros_like(arc)).clamp(0, 1)
    pick = index[..., None].expand(*index.shape, 2)
    points = centers.gather(2, pick) + fraction[..., None] * steps.gather(2, pick)
    chords = points.diff(dim=2)  # (B, M, N, 2)
    chord_valid = valid[..., 1:]
    first, later = chords[..., :-2, :], chords[..., 2:, :]
    cross = first[..., 0] * later[..., 1] - first[..., 1] * later[..., 0]
    dot = (first * later).sum(-1)
    change = torch.rad2deg(torch.atan2(cross, dot)).abs()
    sharp = (change > SHARP_TURN_DEG) & chord_valid[..., 2:]
    if sharp.shape[-1] == 0:
        return torch.zeros_like(path, dtype=torch.long)
    starts = sharp[..., 1:] & ~sharp[..., :-1]
    return sharp[..., 0].long() + starts.long().sum(-1)


def _sentence(clip: list[list[int]], rng: random.Random | None) -> str:
    """The sentence of one clip from its tubelets' codes (see :func:`_measure`)."""
    def pick(options: tuple[str, ...]) -> str:
        return options[0] if rng is None else rng.choice(options)

    if not clip:
        return pick(NO_PATCH)
    clauses = [_clause(codes, pick) for codes in clip]
    if len(clauses) == 1:
        text = clauses[0]
    else:
        text = ", ".join(clauses[:-1]) + ", and " + clauses[-1]
    return text[0].upper() + text[1:] + "."


def _clause(codes: list[int], pick: Callable[[tuple[str, ...]], str]) -> str:
    """One tubelet's clause, lower case, without the full stop."""
    motion, direction, shape, speed, size, rotation, degrees, scaling, sheared = codes
    adjective = pick(SIZES[_SIZE_NAMES[size]])
    article = "an" if adjective[0] in "aeiou" else "a"
    subject = f"{article} {adjective} {pick(NOUNS)}"
    if motion == _STILL:
        verb = pick(STILL)
    elif motion == _RETURNS:
        verb = pick(RETURNS).format(speed=pick(SPEEDS[_SPEED_NAMES[speed]]))
    else:
        pace, heading = pick(SPEEDS[_SPEED_NAMES[speed]]), pick(DIRECTIONS[DIRECTION_NAMES[direction]])
        route = f"{heading} {pace}" if " " in pace else f"{pace} {heading}"
        verb = f"{pick(MOVES)} {route} {pick(PATHS[_PATH_NAMES[shape]])}"
    changes = []
    name = _ROTATION_NAMES[rotation]
    if name is not None:
        phrase = pick(ROTATIONS[name])
        if name != "rocking":
            phrase += " " + pick(AMOUNTS).format(degrees=int(degrees))
        changes.append(phrase)
    scale_name = _SCALING_NAMES[scaling]
    if scale_name is not None:
        changes.append(pick(SCALINGS[scale_name]))
    if sheared:
        changes.append(pick(SHEARS))
    clause = f"{subject} {verb}"
    if changes:
        listed = changes[0] if len(changes) == 1 else ", ".join(changes[:-1]) + " and " + changes[-1]
        clause += f" while {listed}"
    return clause

