"""A held-out motion task for linear probes: which way does a drawn sprite move, and which
way does it turn?

Nothing here comes from the pretraining pipeline of ``examples/moco.py``:

* the sprites are polygons drawn with torch (an arrow, an L, an F, a wedge) in one solid
  colour, not patches cut from video in the tubelets' rectangle, ellipse and rhombus shapes;
* they move along straight lines at constant speed and turn at constant angular speed,
  where tubelets follow keyframed linear paths or smoothed random ones;
* the backgrounds are clips of ``carphone_pristine.mp4``, a video pretraining never sees.

Tasks (labels balanced):

=============  =======  ==========================================================
task           classes  what differs
=============  =======  ==========================================================
``direction``  4        travel right, left, down or up (±20°), 2.5% to 4.5% of the
                        frame's width a frame (1.6 to 2.9 px at 64 px), no rotation
``rotation``   2        turning clockwise or anticlockwise, 8 to 20° a frame, while
                        drifting up to 1.5% of the width a frame in any direction
=============  =======  ==========================================================

The sprite's position in any one frame says nothing about the class (the path's midpoint
is uniform over the frame), so a probe must read motion across frames.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from moco import ClipPool, normalize

TASKS = {"direction": 4, "rotation": 2}
PROBE_VIDEOS = ("carphone_pristine.mp4",)

# Polygons in sprite coordinates [-1, 1]² (x right, y down); none has a rotational symmetry.
POLYGONS = (
    ((-1, -0.3), (0.2, -0.3), (0.2, -0.8), (1, 0), (0.2, 0.8), (0.2, 0.3), (-1, 0.3)),  # arrow
    ((-0.8, -1), (-0.2, -1), (-0.2, 0.4), (0.8, 0.4), (0.8, 1), (-0.8, 1)),  # L
    ((-0.7, -1), (0.8, -1), (0.8, -0.5), (-0.2, -0.5), (-0.2, -0.1), (0.5, -0.1), (0.5, 0.35),
     (-0.2, 0.35), (-0.2, 1), (-0.7, 1)),  # F
    ((-0.9, -0.9), (0.9, 0.0), (-0.9, 0.9), (-0.4, 0.0)),  # wedge
)


def polygon_mask(vertices: tuple, size: int = 32) -> torch.Tensor:
    """``(size, size)`` float mask, 1 inside the polygon (even-odd rule at pixel centres)."""
    axis = (torch.arange(size) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    inside = torch.zeros(size, size, dtype=torch.bool)
    for (x1, y1), (x2, y2) in zip(vertices, vertices[1:] + vertices[:1]):
        if y1 == y2:
            continue
        crosses = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / (y2 - y1) + x1)
        inside ^= crosses
    return inside.float()


def make_task(task: str, count: int, generator: torch.Generator, pool: ClipPool) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` clips ``(count, 3, T, H, W)`` uint8 (``pool``'s clip size) and their labels
    ``(count,)`` int64 in ``range(TASKS[task])``."""
    classes = TASKS[task]
    labels = torch.arange(count) % classes
    labels = labels[torch.randperm(count, generator=generator)]

    def uniform(low: float, high: float, n: int = count) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)

    if task == "direction":
        # right, left, down, up on screen (y points down)
        heading = torch.tensor([0.0, 180.0, 90.0, 270.0], dtype=torch.float64)[labels] + uniform(-20, 20)
        speed, spin = uniform(0.025, 0.045), torch.zeros(count, dtype=torch.float64)
    elif task == "rotation":
        heading, speed = uniform(0, 360), uniform(0, 0.015)
        spin = uniform(8, 20) * torch.where(labels == 0, 1.0, -1.0).double()  # degrees a frame, + = clockwise
    else:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    backgrounds = pool.clips(count, generator)
    _, _, frames, height, width = backgrounds.shape
    velocity = speed[:, None] * width * torch.stack([torch.cos(torch.deg2rad(heading)), torch.sin(torch.deg2rad(heading))], 1)
    travel = velocity * (frames - 1)  # (count, 2) px from first to last frame
    side = uniform(0.28, 0.42) * width  # sprite side, px
    frame_size = torch.tensor([width, height], dtype=torch.float64)
    low = side[:, None] * 0.4 + travel.abs() / 2
    middle = low + torch.rand(count, 2, generator=generator, dtype=torch.float64) * (frame_size - 2 * low).clamp(min=0)
    steps = torch.arange(frames, dtype=torch.float64)
    centres = middle[:, None] + velocity[:, None] * (steps - (frames - 1) / 2)[None, :, None]  # (count, T, 2) px
    angles = uniform(0, 360)[:, None] + spin[:, None] * steps  # (count, T) degrees
    shapes = torch.randint(len(POLYGONS), (count,), generator=generator)
    colours = torch.rand(count, 3, generator=generator)
    masks = torch.stack([polygon_mask(p) for p in POLYGONS])
    clips = torch.empty_like(backgrounds)
    for chunk in torch.arange(count).split(64):
        clips[chunk] = _paint(backgrounds[chunk], masks[shapes[chunk]], colours[chunk], centres[chunk],
                              angles[chunk], side[chunk])
    return clips, labels


def _paint(backgrounds: torch.Tensor, masks: torch.Tensor, colours: torch.Tensor, centres: torch.Tensor,
           angles: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """Sprites pasted on ``(n, 3, T, H, W)`` uint8 clips: ``masks`` ``(n, S, S)``, turned by
    ``angles`` ``(n, T)`` degrees clockwise, centred at ``centres`` ``(n, T, 2)`` px."""
    n, _, frames, height, width = backgrounds.shape
    theta = torch.deg2rad(angles).reshape(-1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    inverse = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # R(-θ), (nT, 2, 2)
    scale = (2 / side).repeat_interleave(frames)[:, None, None]
    offset = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float64) - centres.reshape(-1, 2)
    # affine_grid maps normalised output coordinates to normalised sprite coordinates.
    linear = scale * inverse @ torch.diag(torch.tensor([width / 2, height / 2], dtype=torch.float64))
    translation = scale * inverse @ offset[..., None]
    grid = F.affine_grid(torch.cat([linear, translation], -1).float(), [n * frames, 1, height, width],
                         align_corners=False)
    alpha = F.grid_sample(masks.repeat_interleave(frames, 0)[:, None], grid, align_corners=False)  # (nT, 1, H, W)
    alpha = alpha.view(n, frames, 1, height, width).transpose(1, 2)
    painted = backgrounds.float() * (1 - alpha) + 255 * colours.view(n, 3, 1, 1, 1) * alpha
    return painted.round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def features(backbone: torch.nn.Module, clips: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """``(N, D)`` features of ``(N, 3, T, H, W)`` uint8 clips from a frozen ``backbone``."""
    backbone.eval()
    return torch.cat([backbone(normalize(part)) for part in clips.split(batch)])


def linear_probe(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                 classes: int, decays: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)) -> float:
    """Test accuracy in [0, 1] of a logistic regression on standardised features;
    ``train``, ``test``: ``(features (N, D), labels (N,))``. The L2 weight is the one of
    ``decays`` that does best on the last quarter of ``train`` when fitted on the rest; the
    probe is then refitted on all of ``train``."""
    (x, y), (x_test, y_test) = train, test
    mean, std = x.mean(0), x.std(0) + 1e-6
    x, x_test = (x - mean) / std, (x_test - mean) / std
    split = len(x) * 3 // 4
    best = max(decays, key=lambda decay: _accuracy(_fit(x[:split], y[:split], classes, decay), x[split:], y[split:]))
    return _accuracy(_fit(x, y, classes, best), x_test, y_test)


def _fit(x: torch.Tensor, y: torch.Tensor, classes: int, decay: float) -> torch.nn.Linear:
    """Logistic regression by L-BFGS with L2 weight ``decay``."""
    layer = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x), y) + decay * layer.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return layer


@torch.no_grad()
def _accuracy(layer: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    return (layer(x).argmax(1) == y).float().mean().item()
