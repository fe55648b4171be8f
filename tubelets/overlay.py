"""`TubeletOverlay`: the ``nn.Module`` a contrastive trainer plugs in.

>>> overlay = TubeletOverlay()                       # the paper's configuration
>>> q, k = overlay(v1, v2)                           # positive pair sharing only the tubelets
>>> q, k, tubes = overlay(v1, v2, return_tubelets=True)
>>> q2, k2 = overlay(v1, v2, tubelets=tubes)         # replay the same tubelets
>>> x2 = overlay(x)                                  # one clip; patches cut from x itself
>>> overlay(v1, v2, out=(q, k))                      # into the caller's buffers, reused
>>> q, k, masks = overlay(v1, v2, return_masks=True)  # (B, T, H, W) int8: topmost tubelet, -1 none
>>> TubeletOverlay(source="sprites", sprites=bank)    # paste RGBA sprites (tubelets.sprites)

Where the patches come from is ``source`` (:mod:`tubelets.sources`): ``"pair"`` (from
``v1``, the paper's), ``"self"`` (each clip from itself), ``"batch"`` (from another clip
of the batch) or ``"sprites"``.

Works on batches ``(B, C, T, H, W)`` or ``(B, T, C, H, W)`` (``data_format``) and on single
clips ``(C, T, H, W)`` / ``(T, C, H, W)`` inside ``DataLoader`` workers; on uint8, float16,
bfloat16 and float32; on any device. Inputs are not modified, unless ``inplace=True``:
then ``v1`` and ``v2`` are painted where they are and returned (the crops the patches
are cut from are read first), which moves only the pixels the tubelets touch.
Nothing is differentiated: with grad mode on, clips that require grad are refused (augment
under ``torch.no_grad()``).

Inputs may have any strides (sliced, permuted, ``torch.channels_last_3d``): the pixels are
those of the contiguous input, and new outputs are contiguous, one allocation each (``q``
and ``k`` share no memory); ``out=`` tensors keep their strides. Each output pixel is
written once: the input pixel with the tubelets painted over it. Torch has no negative
strides, so ``torch.from_numpy`` refuses an ``np.flip``-ped array; copy it first
(``torch.from_numpy(a.copy())``) or flip the tensor with ``torch.flip``.

Non-finite float pixels are neither checked nor cleaned. A pixel outside every tubelet
keeps its value, NaN and ±Inf included (a bfloat16 NaN may come back with another
payload, as from torch's float32 → bfloat16 cast); inside a tubelet, a non-finite source
pixel reaches every patch pixel whose bilinear sample touches it, and a non-finite pixel
under a translucent patch stays non-finite.

Randomness: without ``generator``, tubelets come from the global RNG of the video's
device, which ``torch.manual_seed`` seeds. The same seed or generator state gives
bit-identical outputs on the same backend, whatever ``torch.set_num_threads``.
``DataLoader`` workers are independent by default (each worker's RNG is seeded
differently; do not reseed them alike in ``worker_init_fn``). DDP ranks seeded alike
(``torch.manual_seed(seed)`` on every rank) are told apart too: a seed drawn from the
global RNG is XORed with ``rank · 0x9E3779B97F4A7C15`` (mod 2⁶⁴), the rank being that of
the initialised ``torch.distributed`` process group, else ``RANK`` from the environment
when ``WORLD_SIZE`` > 1 (as ``torchrun`` sets them; read at import), else 0
(:mod:`tubelets.distributed`). ``DataLoader`` workers of a rank fold its rank too: forked
ones inherit the group, spawned ones the environment (a rank started without ``RANK`` in
it, as by ``torch.multiprocessing.spawn``, must set ``RANK`` and ``WORLD_SIZE`` before a
``DataLoader`` spawns workers). Rank 0 and a single process draw the same tubelets.
Under ``torch.compile`` the rank is read when tracing: compile after
``init_process_group``. A ``generator`` is used as given, never folded: the same
generator state gives the same tubelets on every rank. The module holds no mutable
state, so threads may share it; give each thread explicit ``tubelets`` or its own
generator, as the global RNG is then drawn in whatever order the threads run.

Under ``torch.compile`` (inductor) the seed is still torch's own draw from the global RNG,
so after the same ``torch.manual_seed`` a compiled call gives bit-identical outputs and
tubelets to an eager one, and leaves the RNG in the same state. That holds while the
compiled function makes no other random op that inductor generates itself (``torch.rand``
of your own, say): inductor then seeds its RNG from the global one, which may change the
draw; set ``torch._inductor.config.fallback_random = True`` to keep eager's draws. A
``generator=`` cannot enter a graph: the seed is drawn outside it (a graph break), so
compile with ``fullgraph=False``; ``fullgraph=True`` raises ``torch._dynamo.exc.Unsupported``
saying so (tests/test_compile.py).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import ops, output_memory, sources
from .config import TubeletConfig
from .layout import check_channels
from .params import Tubelets
from .sampling import sample_tubelets
from .sprites import assign_sprites, check_bank

DATA_FORMATS = ("BCTHW", "BTCHW")


class TubeletOverlay(nn.Module):
    """Overlay the same random moving patches on one clip or on both clips of a pair.

    ``TubeletOverlay(config, *, data_format, backend, inplace, **fields)`` (arguments: see
    ``__init__``), then ``overlay(v1, v2)`` (see :meth:`forward`).
    """

    def __init__(self, config: TubeletConfig | None = None, *, data_format: str = "BCTHW",
                 backend: str = "auto", inplace: bool = False, channels: int | None = None,
                 source: str = "pair", sprites: torch.Tensor | None = None, **fields: Any) -> None:
        """Args:
            config: what to sample, a :class:`TubeletConfig`; ``None``: the paper's
                configuration, or the config that ``fields`` give.
            data_format: the clips' layout, ``"BCTHW"`` (batches ``(B, C, T, H, W)``,
                single clips ``(C, T, H, W)``) or ``"BTCHW"`` (``(B, T, C, H, W)``,
                ``(T, C, H, W)``).
            backend: the compositing backend: ``"auto"`` (the fastest that runs on the clips'
                device) or one of ``tubelets.ops.BACKENDS`` (``"torch"``, ``"cpu"``,
                ``"cuda"``, ``"triton"``); ``tubelets info`` lists those built here.
            inplace: paint ``v1`` (and ``v2``) themselves and return them, instead of new
                tensors.
            channels: the clips' channel count, if more than 4 (see :mod:`tubelets.layout`:
                without it, a clip with more channels is refused as one in another layout,
                e.g. ``(T, H, W, C)``); given, clips must have exactly that many.
            source: where the patches come from, one of :data:`tubelets.sources.SOURCES`:
                ``"pair"`` (from ``v1``, for both clips), ``"self"`` (each clip from
                itself), ``"batch"`` (clip ``b`` from ``v1[b - 1]``), ``"sprites"``.
            sprites: with ``source="sprites"``, the ``(N, 4, h, w)`` RGBA bank
                (:func:`tubelets.load_sprites`; uint8 or float, ideally in the clips'
                dtype and on their device: it is converted on every call otherwise).
                The clips must then have 3 channels.
            **fields: instead of ``config``, its fields (not both), e.g. ``num_tubelets=2,
                motion="nonlinear", transforms=("rotation",)``. Sizes and steps are
                fractions of the frame (``patch_size=(16/112, 64/112)``: 16 to 64 px of a
                112 px frame), angles are in degrees (``rotation_range=(-90.0, 90.0)``),
                scales and shears are factors; see :class:`TubeletConfig`.

        The clips (:meth:`forward`) are uint8, float16, bfloat16 or float32 (any value
        range; the output keeps the dtype), with any strides, on any device.

        Raises:
            ValueError: an unknown ``data_format``, ``backend`` or ``source``, both
                ``config`` and ``fields``, ``channels`` below 1, a field out of its range,
                or ``sprites`` missing for (or given without) ``source="sprites"``.
            TypeError: a non-bool ``inplace``, a non-int ``channels``, or a field of the
                wrong type.
        """
        super().__init__()
        if config is not None and fields:
            raise ValueError("give either config or its fields as keyword arguments, not both")
        if data_format not in DATA_FORMATS:
            raise ValueError(f"data_format: unknown {data_format!r}; choose from {', '.join(DATA_FORMATS)}")
        ops.check_backend_name(backend)
        self.config = config if config is not None else TubeletConfig(**fields)
        if not isinstance(inplace, bool):
            raise TypeError(f"inplace must be a bool, got {type(inplace).__name__}")
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int)):
            raise TypeError(f"channels must be an int or None, got {type(channels).__name__}")
        if channels is not None and channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        if source not in sources.SOURCES:
            raise ValueError(f"source: unknown {source!r}; choose from {', '.join(sources.SOURCES)}")
        if (source == "sprites") != (sprites is not None):
            raise ValueError("sprites: give a bank with source='sprites', and only then")
        self.source = source
        # A buffer: .to(device) moves it with the module; not saved in its state_dict.
        self.register_buffer("sprites", None if sprites is None else check_bank(sprites), persistent=False)
        self.sprites: torch.Tensor | None
        self.data_format = data_format
        self.channels = channels
        self.backend = backend
        self.inplace = inplace

    def forward(
        self,
        v1: torch.Tensor,
        v2: torch.Tensor | None = None,
        *,
        tubelets: Tubelets | None = None,
        generator: torch.Generator | None = None,
        out: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor] | None = None,
        return_tubelets: bool = False,
        return_masks: bool = False,
    ) -> torch.Tensor | tuple[Any, ...]:
        """Paint tubelets cut from ``v1`` onto ``v1`` (and ``v2``).

        Args:
            v1: clips ``(B, C, T, H, W)`` or one clip ``(C, T, H, W)`` (in ``data_format``),
                at least one frame of 1 × 1 pixels; the patches are cut from it.
            v2: ``None``, or clips of ``v1``'s shape, dtype and device to paint the same
                tubelets on.
            tubelets: :class:`Tubelets` for ``B`` clips (1 for a single clip) to replay
                instead of sampling; their values are checked first (see :mod:`tubelets.ops`).
            generator: draws the sampling seed instead of the global RNG of ``v1``'s device.
            out: tensors to write the outputs into instead of new ones: ``o1`` for
                ``overlay(v1)``, ``(o1, o2)`` for ``overlay(v1, v2)``, each of its clip's
                shape, dtype and device, any strides; returned as the outputs. Without it,
                new CPU outputs of a clip's size come from memory reused once freed
                (:mod:`tubelets.output_memory`: no page faults after the first calls; their
                storage cannot be resized). Each must share no memory with the other or with
                the clips, except that ``o1`` may be ``v1`` itself and ``o2`` ``v2`` itself
                (that clip is painted in place). Refused when the overlay was built with
                ``inplace=True``.
            return_tubelets: also return the :class:`Tubelets` painted.
            return_masks: also return the masks the kernels write as they paint:
                ``(B, T, H, W)`` (``(T, H, W)`` for one clip) int8, the index of the topmost
                tubelet on each pixel, ``-1`` where none (:mod:`tubelets.masks`).

        Returns ``v1'`` or ``(v1', v2')`` (tensors of the inputs' shape, dtype and device:
        ``out`` when given), followed by the :class:`Tubelets` when ``return_tubelets``,
        then the masks when ``return_masks``.
        """
        clips = [v1] if v2 is None else [v1, v2]
        self._check_clips(clips)
        if out is not None:
            out = self._check_out(out, clips)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        source = self._logical(v1)
        batch, _, frames, height, width = source.shape
        if 0 in (frames, height, width):
            raise ValueError(f"v1 must have at least one frame of at least 1×1 pixels, "
                             f"got {frames} frames of {height}×{width}")
        sprites = self.sprites  # a buffer: each read goes through nn.Module.__getattr__
        if sprites is not None and source.shape[1] != 3:
            raise ValueError(f"source='sprites' pastes RGB sprites: v1 must have 3 channels, got {source.shape[1]}")
        validate = tubelets is not None  # sampled tubelets are valid by construction
        if tubelets is None:
            tubelets = sample_tubelets(self.config, batch, frames, height, width,
                                       device=v1.device, generator=generator)
            if sprites is not None:
                tubelets = assign_sprites(tubelets, sprites, generator=generator)
        masks = None
        if return_masks:
            masks = torch.empty(batch, frames, height, width, dtype=torch.int8, device=v1.device)
        if self.inplace:  # patches cut from v1 as it is painted: the op reads every crop first
            outputs = clips
            targets, inputs = [self._logical(clip) for clip in clips], []
        elif out is not None:
            outputs = out
            targets, inputs = [self._logical(video) for video in out], [self._logical(clip) for clip in clips]
            ops.check_apart(targets, inputs, tubelets)
        else:
            # Independent outputs (one block each), contiguous in the caller's layout.
            outputs = [output_memory.empty(clip.shape, clip.dtype, clip.device) for clip in clips]
            targets, inputs = [self._logical(video) for video in outputs], [self._logical(clip) for clip in clips]
        logical_clips = [source] if len(clips) == 1 else [source, self._logical(clips[1])]
        for i, cut in enumerate(sources.cuts(self.source, logical_clips, tubelets, sprites,
                                                validate=validate)):
            ops.paint_([targets[p] for p in cut.clips], [inputs[p] for p in cut.clips] if inputs else [],
                       cut.source, cut.tubelets, backend=self.backend, validate=validate,
                       masks=masks if i == 0 else None, source_alpha=cut.source_alpha)
        results: list[Any] = list(outputs)
        if return_tubelets:
            results.append(tubelets)
        if masks is not None:
            results.append(masks if v1.dim() == 5 else masks[0])
        return results[0] if len(results) == 1 else tuple(results)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        channels = f", channels={self.channels}" if self.channels is not None else ""
        source = f", source={self.source!r}" if self.source != "pair" else ""
        if self.sprites is not None:
            source += f", sprites={tuple(self.sprites.shape)}"
        return f"{self.config}, data_format={self.data_format!r}, backend={self.backend!r}{inplace}{channels}{source}"

    def _logical(self, video: torch.Tensor) -> torch.Tensor:
        """A ``(B, C, T, H, W)`` view of a batch, or of a single clip as a batch of one, in
        this module's data format."""
        batch = video if video.dim() == 5 else video.unsqueeze(0)
        return batch if self.data_format == "BCTHW" else batch.transpose(1, 2)

    def _check_out(self, out: object, clips: list[torch.Tensor]) -> list[torch.Tensor]:
        """``out`` as a list of one tensor per clip, each checked against its clip."""
        if self.inplace:
            raise ValueError("out: this overlay paints v1 and v2 themselves (inplace=True); "
                             "give out only to one built with inplace=False")
        outs = [out] if isinstance(out, torch.Tensor) else out
        if not isinstance(outs, (tuple, list)) or len(outs) != len(clips):
            wanted = "a tensor" if len(clips) == 1 else "a pair of tensors (o1, o2)"
            got = type(out).__name__ if not isinstance(out, (tuple, list)) else f"{len(out)} items"
            raise TypeError(f"out must be {wanted}, one per clip, got {got}")
        for p, (target, clip) in enumerate(zip(outs, clips)):
            name = "out" if len(clips) == 1 else f"out[{p}]"
            if not isinstance(target, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(target).__name__}")
            if (target.shape, target.dtype, target.device) != (clip.shape, clip.dtype, clip.device):
                raise ValueError(f"{name} must be {tuple(clip.shape)} {clip.dtype} on {clip.device} like "
                                 f"v{p + 1}, got {tuple(target.shape)} {target.dtype} on {target.device}")
            ops.check_no_grad(name, target)
        return list(outs)

    def _check_clips(self, clips: list) -> None:
        for name, clip in zip(("v1", "v2"), clips):
            if not isinstance(clip, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(clip).__name__}")
        for name, clip in zip(("v1", "v2"), clips):
            ops.check_no_grad(name, clip)
        first = clips[0]
        ops.check_tensor("v1", first, self.data_format, self.data_format[1:])
        layout = self.data_format if first.dim() == len(self.data_format) else self.data_format[1:]
        check_channels("v1", first, layout, self.channels)
        if len(clips) == 2:
            second = clips[1]
            if (second.shape, second.dtype, second.device) != (first.shape, first.dtype, first.device):
                raise ValueError(
                    f"v2 must match v1 in shape, dtype and device: {tuple(second.shape)} {second.dtype} "
                    f"on {second.device} vs {tuple(first.shape)} {first.dtype} on {first.device}"
                )
