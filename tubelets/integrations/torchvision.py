"""`TubeletTransform`: tubelets as a ``torchvision.transforms.v2`` transform.

>>> import torch
>>> from torchvision import tv_tensors
>>> from torchvision.transforms import v2
>>> from tubelets.integrations.torchvision import TubeletTransform
>>> clip1 = tv_tensors.Video(torch.randint(0, 256, (16, 3, 112, 112), dtype=torch.uint8))
>>> clip2 = tv_tensors.Video(torch.randint(0, 256, (16, 3, 112, 112), dtype=torch.uint8))
>>> pipeline = v2.Compose([
...     TubeletTransform(),                            # the paper's configuration
...     v2.RandomHorizontalFlip(),
...     v2.ToDtype(torch.float32, scale=True),
...     v2.Normalize(mean=[0.45] * 3, std=[0.225] * 3),
... ])
>>> q, k = pipeline(clip1, clip2)                     # a positive pair, both still Videos
>>> type(q).__name__, q.dtype
('Video', torch.float32)
>>> sample = {"video": clip1, "label": 3}
>>> out = pipeline(sample)                             # one clip: patches cut from itself
>>> out["label"]
3
>>> (q, k), boxes = TubeletTransform(boxes=True)(clip1, clip2)
>>> boxes.shape, boxes.canvas_size                     # T·M boxes: 16 frames × 2 tubelets
(torch.Size([32, 4]), (112, 112))

Conventions:

* **Videos.** The transform paints the ``tv_tensors.Video`` entries of a sample, in
  torchvision's layout ``(..., T, C, H, W)``: one clip ``(T, C, H, W)`` (as a ``Dataset``
  returns it) or a batch ``(B, T, C, H, W)``; uint8, float16, bfloat16 or float32, kept.
  Outputs are ``tv_tensors.Video`` again. Every other entry (labels, plain tensors,
  ``BoundingBoxes``, masks, strings) is returned as it is, the very object. A sample with
  no ``Video`` is refused (wrap clips with ``tv_tensors.Video(clip)``): painting nothing
  silently is the failure this adapter exists to prevent.
* **Pairs.** A sample holding two Videos, in any structure (``(v1, v2)``, ``(v1, v2,
  label)``, ``{"video": v1, "video2": v2, ...}``), is a positive pair (§3.2 of the paper):
  the same tubelets, cut from the **first** Video (in ``tree_flatten`` order: positional
  order, dict insertion order), are painted on both. The two must match in shape, dtype and
  device. A sample with one Video gets tubelets cut from itself; more than two are refused.
  Later transforms in a ``v2.Compose`` see both clips as Videos, so a random flip or crop
  after this one applies the same draw to both (torchvision draws once per call).
* **Randomness.** One draw per call from the global RNG of the clips' device
  (``torch.manual_seed``, or each ``DataLoader`` worker's own seed), as for
  :class:`~tubelets.TubeletOverlay` without ``generator`` (see :mod:`tubelets.overlay`);
  a batch gets independent tubelets per clip.
* **Extras.** ``boxes=True`` and ``return_tubelets=True`` change what a call returns:
  ``(sample, boxes)``, ``(sample, tubelets)`` or ``(sample, boxes, tubelets)``, where
  ``sample`` is the painted sample in its own structure. Inside ``v2.Compose`` the boxes
  then pass through the later transforms beside the clips (a flip flips them too) and the
  :class:`~tubelets.Tubelets` pass through untouched. ``boxes`` is one
  ``tv_tensors.BoundingBoxes`` of shape ``(B·T·M, 4)`` (``(T·M, 4)`` for one clip), float32
  pixels, ``format=XYXY``, ``canvas_size=(H, W)``, rows ordered clip, frame, tubelet:
  ``boxes.reshape(B, T, M, 4)[b, t, m]`` holds tubelet ``m`` of clip ``b`` in frame ``t``.
  They are :meth:`tubelets.Tubelets.frame_boxes` (conservative, clipped to the frame) in
  torchvision's convention, where pixel ``j`` spans ``[j, j + 1)``: a box over pixel
  columns ``x0 … x1`` and rows ``y0 … y1`` reads ``(x0, y0, x1 + 1, y1 + 1)``. A tubelet
  entirely off the frame gets the empty box ``(0, 0, 0, 0)``. torchvision
  expects one ``BoundingBoxes`` per sample in transforms that drop or crop boxes
  (``SanitizeBoundingBoxes``, ``RandomIoUCrop``); a sample of your own boxes plus these
  has two.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision import tv_tensors  # type: ignore[import-not-found, import-untyped, unused-ignore]
from torchvision.transforms import v2  # type: ignore[import-not-found, import-untyped, unused-ignore]

from .. import ops
from ..config import TubeletConfig
from ..layout import check_channels
from ..overlay import TubeletOverlay
from ..params import Tubelets
from ..sampling import sample_tubelets

__all__ = ["TubeletTransform"]


class TubeletTransform(v2.Transform):
    """Paint the same random moving patches on the one or two ``tv_tensors.Video`` of a sample.

    ``TubeletTransform(config, *, boxes, return_tubelets, backend, channels, **fields)``,
    then ``transform(sample)`` or ``transform(v1, v2, ...)``; see the module docstring.

    Args:
        config: what to sample, a :class:`~tubelets.TubeletConfig`; ``None``: the
            paper's configuration, or the config that ``fields`` give.
        boxes: also return the tubelets' per-frame boxes as one
            ``tv_tensors.BoundingBoxes`` (see the module docstring).
        return_tubelets: also return the :class:`~tubelets.Tubelets` painted.
        backend: as for :class:`~tubelets.TubeletOverlay`.
        channels: the clips' channel count if more than 4, as for
            :class:`~tubelets.TubeletOverlay`.
        **fields: instead of ``config``, its fields, as for :class:`~tubelets.TubeletOverlay`.
    """

    _transformed_types = (tv_tensors.Video,)

    def __init__(self, config: TubeletConfig | None = None, *, boxes: bool = False,
                 return_tubelets: bool = False, backend: str = "auto", channels: int | None = None,
                 **fields: Any) -> None:
        super().__init__()
        for name, flag in (("boxes", boxes), ("return_tubelets", return_tubelets)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        # The overlay validates the configuration, backend and channel count as it does its own.
        overlay = TubeletOverlay(config, data_format="BTCHW", backend=backend, channels=channels, **fields)
        self.config = overlay.config
        self.backend = overlay.backend
        self.channels = overlay.channels
        self.boxes = boxes
        self.return_tubelets = return_tubelets

    def forward(self, *inputs: Any) -> Any:
        """The sample with its Videos painted, followed by the boxes and the tubelets when
        asked for. ``v2.Transform.forward`` is replaced only to return those extras; the
        Videos go through :meth:`make_params` and :meth:`transform` as it would send them."""
        flat, spec = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        self.check_inputs(flat)
        params = self.make_params([item for item in flat if isinstance(item, tv_tensors.Video)])
        sample = tree_unflatten(
            [self.transform(item, params) if isinstance(item, tv_tensors.Video) else item for item in flat], spec
        )
        tubelets: Tubelets = params["tubelets"]
        extras: list[Any] = []
        if self.boxes:
            height, width = params["source"].shape[-2:]
            extras.append(_bounding_boxes(tubelets, height, width))
        if self.return_tubelets:
            extras.append(tubelets)
        return (sample, *extras) if extras else sample

    def extra_repr(self) -> str:
        channels = f", channels={self.channels}" if self.channels is not None else ""
        return (f"{self.config}, boxes={self.boxes}, return_tubelets={self.return_tubelets}, "
                f"backend={self.backend!r}{channels}")

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        videos = [item for item in flat_inputs if isinstance(item, tv_tensors.Video)]
        if not videos:
            kinds = ", ".join(sorted({type(item).__name__ for item in flat_inputs})) or "nothing"
            raise TypeError(f"TubeletTransform paints tv_tensors.Video entries, and the sample has none "
                            f"(it holds {kinds}); wrap each clip (T, C, H, W) as tv_tensors.Video(clip)")
        if len(videos) > 2:
            raise ValueError(f"TubeletTransform paints one Video or a pair, got {len(videos)} Videos in one sample")
        for index, video in enumerate(videos):
            name = f"Video {index + 1} of the sample"
            ops.check_tensor(name, video, "BTCHW", "TCHW")
            check_channels(name, video, "BTCHW" if video.dim() == 5 else "TCHW", self.channels)
            first = videos[0]
            if (video.shape, video.dtype, video.device) != (first.shape, first.dtype, first.device):
                raise ValueError(f"the two Videos of a pair must match in shape, dtype and device: "
                                 f"{tuple(first.shape)} {first.dtype} on {first.device} vs "
                                 f"{tuple(video.shape)} {video.dtype} on {video.device}")

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """``{"source": the first Video as (B, C, T, H, W), "tubelets": Tubelets for its B
        clips}``: one draw for the whole sample."""
        source = _as_batch(flat_inputs[0])
        batch, _, frames, height, width = source.shape
        tubelets = sample_tubelets(self.config, batch, frames, height, width, device=source.device)
        return {"source": source, "tubelets": tubelets}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """``inpt`` (a Video) with the tubelets painted on, patches cut from the source."""
        # Sampled tubelets are valid by construction: nothing to check (no host sync).
        painted = ops.composite(_as_batch(inpt), params["source"], params["tubelets"],
                                backend=self.backend, validate=False)
        video = painted.transpose(1, 2)
        return tv_tensors.wrap(video if inpt.dim() == 5 else video.squeeze(0), like=inpt)


def _as_batch(video: torch.Tensor) -> torch.Tensor:
    """A plain ``(B, C, T, H, W)`` view of a Video ``(B, T, C, H, W)`` or ``(T, C, H, W)``."""
    plain = video.as_subclass(torch.Tensor)
    return (plain if plain.dim() == 5 else plain.unsqueeze(0)).transpose(1, 2)


def _bounding_boxes(tubelets: Tubelets, height: int, width: int) -> Any:
    """The ``(B·T·M, 4)`` XYXY ``BoundingBoxes`` of every tubelet in every frame."""
    inclusive = tubelets.frame_boxes(height, width).transpose(1, 2).reshape(-1, 4).float()
    # Inclusive pixel indices to torchvision's pixel edges; the empty (0, 0, -1, -1) becomes (0, 0, 0, 0).
    boxes = torch.cat([inclusive[:, :2], inclusive[:, 2:] + 1], dim=1)
    return tv_tensors.BoundingBoxes(boxes, format=tv_tensors.BoundingBoxFormat.XYXY, canvas_size=(height, width))
