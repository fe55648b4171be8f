"""`RandomTubelets3D`: tubelets as a kornia 3D augmentation.

>>> import torch
>>> import kornia.augmentation as K
>>> from tubelets.integrations.kornia import RandomTubelets3D
>>> clips = torch.randint(0, 256, (4, 3, 16, 112, 112), dtype=torch.uint8)
>>> x = clips.float() / 255                          # kornia's 3D augmentations take floats
>>> seq = K.AugmentationSequential(RandomTubelets3D(), K.RandomHorizontalFlip3D(), data_keys=["input"])
>>> y = seq(x)                                       # (B, C, T, H, W), patches cut from x
>>> torch.equal(seq(x, params=seq._params), y)      # kornia's replay: the same tubelets
True
>>> tubes = RandomTubelets3D.tubelets(seq._params[0].data)   # the Tubelets drawn for x

Conventions:

* **Layout.** kornia's 3D layout ``(B, C, D, H, W)`` with ``D = T`` frames: clips
  ``(B, C, T, H, W)``, or one clip ``(C, T, H, W)`` called bare (kornia adds the batch;
  ``keepdim=True`` removes it). float16, bfloat16 or float32 (kornia's 3D dtype guard
  refuses uint8; float64 is not painted): convert uint8 clips with ``x.float() / 255``.
  A tensor with more than 4 channels is refused as another layout (see
  :mod:`tubelets.layout`) unless ``channels=`` says so.
* **One clip, not a pair.** kornia hands an augmentation one tensor, so the patches are cut
  from the clip they are painted on, as :class:`~tubelets.TubeletOverlay` does for
  ``overlay(x)``. Replaying ``params=`` on another batch paints the same motion with that
  batch's own pixels. For the paper's pairs (patches from ``v1`` on ``v1`` and ``v2``) use
  :class:`~tubelets.TubeletOverlay` or :mod:`tubelets.integrations.torchvision`.
* **Parameters.** :meth:`generate_parameters` samples :class:`~tubelets.Tubelets` for the
  batch (one draw from the global RNG of the augmentation's device, kornia's
  ``set_rng_device_and_dtype``, which ``torch.manual_seed`` seeds) and returns their fields
  as a plain dict of tensors, keyed by field name (``inv_affine``, ``opacity``, ...; absent
  keyframes are left out), beside kornia's own ``batch_prob`` and ``forward_input_shape``.
  That dict is what ``aug._params`` and ``AugmentationSequential._params`` hold and what
  ``params=`` replays; :meth:`tubelets` turns it back into :class:`~tubelets.Tubelets`.
  Replayed values are checked before painting. ``same_on_batch=True`` gives every clip the
  first clip's tubelets.
* **Probability.** ``p`` is kornia's per-clip gate (default 1.0: every clip, as in the
  paper); a gated-off clip is returned as it came. ``TubeletConfig.p`` also applies.
* **Coordinates.** Painting moves no pixel, so this is an intensity augmentation for kornia
  (:class:`~kornia.augmentation.IntensityAugmentationBase3D`): its transform matrix is the
  identity and an inverse leaves it applied. Only the ``input`` data key is painted.
* **Not inside ``VideoSequential``.** kornia's ``VideoSequential`` flattens the frames of
  ``(B, C, T, H, W)`` into a batch of images ``(B·T, C, H, W)`` and runs each child on
  those; tubelets cut there would stand still within each frame and differ per channel
  (the frames read as channels). That is refused with a ``ValueError``: put
  ``RandomTubelets3D`` in ``AugmentationSequential`` beside, not inside, the
  ``VideoSequential``.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import kornia.augmentation  # type: ignore[import-not-found, import-untyped, unused-ignore]
import torch

from ..config import TubeletConfig
from ..overlay import TubeletOverlay
from ..params import Tubelets
from ..sampling import sample_tubelets

__all__ = ["RandomTubelets3D"]

FIELDS = tuple(field.name for field in dataclasses.fields(Tubelets))
"""The keys of the parameter dict: the fields of :class:`~tubelets.Tubelets`."""


class RandomTubelets3D(kornia.augmentation.IntensityAugmentationBase3D):
    """Paint random moving patches, cut from each clip, on that clip ``(B, C, T, H, W)``.

    Args:
        config: what to sample, a :class:`~tubelets.TubeletConfig`; ``None``: the paper's
            configuration, or the config that ``fields`` give.
        p: probability that a clip is painted (kornia's per-clip gate).
        same_on_batch: give every clip of a batch the same tubelets.
        keepdim: return a bare clip ``(C, T, H, W)`` without the batch kornia added.
        backend: as for :class:`~tubelets.TubeletOverlay`.
        channels: as for :class:`~tubelets.TubeletOverlay`.
        **fields: instead of ``config``, its fields, as for :class:`~tubelets.TubeletOverlay`.

    Shape:
        - Input: ``(C, T, H, W)`` or ``(B, C, T, H, W)``, float16, bfloat16 or float32.
        - Output: ``(B, C, T, H, W)`` (``keepdim=True``: the input's shape), same dtype.

    See the module docstring for the conventions and an example.
    """

    def __init__(self, config: TubeletConfig | None = None, *, p: float = 1.0, same_on_batch: bool = False,
                 keepdim: bool = False, backend: str = "auto", channels: int | None = None,
                 **fields: Any) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        # Paints each clip with patches cut from itself; validates the arguments as its own.
        self.overlay = TubeletOverlay(config, data_format="BCTHW", backend=backend, channels=channels, **fields)
        self.flags = {"config": self.overlay.config, "backend": backend}  # kornia's repr lists its flags

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """The fields of freshly sampled :class:`~tubelets.Tubelets` for ``batch_shape``
        ``(B, C, T, H, W)``, by name."""
        if len(batch_shape) != 5:
            raise ValueError(
                f"RandomTubelets3D needs clips (B, C, T, H, W), but its parameters were asked for shape "
                f"{tuple(batch_shape)}: inside kornia's VideoSequential, which flattens frames to (B·T, C, H, W), "
                f"tubelets would not move and would differ per channel. Put RandomTubelets3D in "
                f"AugmentationSequential directly, not inside VideoSequential")
        batch, _, frames, height, width = batch_shape
        tubelets = sample_tubelets(self.overlay.config, 1 if self.same_on_batch else batch, frames, height, width,
                                   device=self.device)
        if self.same_on_batch:
            tubelets = tubelets[[0] * batch]
        return {name: value for name, value in tubelets.to_dict().items() if value is not None}

    @staticmethod
    def tubelets(params: dict[str, torch.Tensor]) -> Tubelets:
        """The :class:`~tubelets.Tubelets` a parameter dict of this augmentation holds (its
        ``_params``, or ``AugmentationSequential._params[i].data``)."""
        return Tubelets.from_dict({name: value for name, value in params.items() if name in FIELDS})

    def compute_transformation(self, input: torch.Tensor, params: dict[str, torch.Tensor],
                               flags: dict[str, Any]) -> torch.Tensor:
        return self.identity_matrix(input)

    def apply_transform(self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any],
                        transform: torch.Tensor | None = None) -> torch.Tensor:
        return self.overlay(input, tubelets=self.tubelets(params).to(input.device))
