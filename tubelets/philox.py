"""Counter-based random numbers: Philox4x32-10, in plain PyTorch integer ops.

Every random number of a tubelet is a pure function of ``(seed, clip b, tubelet m, stream,
index)``: block ``index // 4`` of Philox4x32-10 with key ``seed`` (64 bits) and counter
``(index // 4, b, m, stream)`` gives four 32-bit words, and word ``index % 4`` becomes the
uniform ``word · 2⁻³²`` in ``[0, 1)``, exact in float64. The native samplers
(``csrc/sampler.h``) compute the same function, so every implementation draws the same
numbers, on any device, and a clip's tubelets do not depend on the batch size.

Philox4x32-10 is the generator of Salmon et al., "Parallel random numbers: as easy as
1, 2, 3" (SC 2011), with its published round and key constants; Triton's ``tl.randint4x``
and cuRAND implement it too.
"""
from __future__ import annotations

import enum

import torch

MASK = 0xFFFFFFFF
ROUND_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
KEY_INCREMENTS = (0x9E3779B9, 0xBB67AE85)  # the golden ratio and sqrt(3) - 1, as 32-bit fractions
ROUNDS = 10


class Stream(enum.IntEnum):
    """What each draw of a tubelet is for; ``csrc/sampler.h`` numbers them alike."""

    CROP_SIZE = 0  # 2: width, height fractions
    CROP_CORNER = 1  # 2: x, y of the top-left corner
    SOURCE_FRAME = 2  # 1
    SHAPE = 3  # 1
    SOFTNESS = 4  # 1
    OPACITY = 5  # 1, or K with opacity_keyframes
    APPLIED = 6  # 1 per clip (tubelet 0): are tubelets painted on this clip (config.p)
    STATIC_START = 7  # 2
    MOTION_TIMES = 8  # T - 2: keyframes of a linear path
    LINEAR_STEP = 9  # 1: Δ
    LINEAR_RADIUS = 10  # K - 1
    LINEAR_ANGLE = 11  # K - 1
    LINEAR_START = 12  # 2
    NONLINEAR_POINTS = 13  # 2 N: x then y
    NONLINEAR_LENGTH = 14  # 2
    NONLINEAR_START = 15  # 2
    TRANSFORM_TIMES = 16  # T - 2
    ROTATION = 17  # K
    SCALE = 18  # 2 K
    SHEAR = 19  # 2 K
    COUNT = 20  # 1 per clip (tubelet 0): how many tubelets it paints (num_tubelets as a pair)
    EASING = 21  # 1: the interpolation of interpolation="random"
    PATCH_ANCHOR = 22  # 1: which scale × aspect ratio (patch_scales)
    SOFT_EDGE = 23  # 1: are the edges soft (softness_p)
    OPACITY_TIMES = 24  # T - 2: keyframes of the opacity (opacity_keyframes)


def _mulhilo(multiplier: int, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low 32 bits of ``multiplier · value`` (both < 2³²) without int64 overflow:
    the product is assembled from 16-bit halves."""
    m_hi, m_lo = multiplier >> 16, multiplier & 0xFFFF
    v_hi, v_lo = value >> 16, value & 0xFFFF
    middle = m_hi * v_lo + m_lo * v_hi  # < 2³³
    low = m_lo * v_lo + ((middle & 0xFFFF) << 16)  # < 2³³
    high = m_hi * v_hi + (middle >> 16) + (low >> 32)
    return high, low & MASK


def philox4x32(counter: tuple[torch.Tensor, ...], key: tuple[torch.Tensor, torch.Tensor]) -> list[torch.Tensor]:
    """Philox4x32-10 of a counter of four words and a key of two, each an int64 tensor of
    values in ``[0, 2³²)`` (broadcast together); returns the four output words alike."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(ROUNDS):
        hi0, lo0 = _mulhilo(ROUND_MULTIPLIERS[0], c0)
        hi1, lo1 = _mulhilo(ROUND_MULTIPLIERS[1], c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = (k0 + KEY_INCREMENTS[0]) & MASK, (k1 + KEY_INCREMENTS[1]) & MASK
    return [c0, c1, c2, c3]


def uniform(seed: torch.Tensor, batch: int, count: int, streams: int, draws: int) -> torch.Tensor:
    """``(batch, count, streams, draws)`` float64 uniforms in ``[0, 1)``: the first ``draws``
    of streams ``0 … streams-1`` for clips ``0 … batch-1`` and tubelets ``0 … count-1``, on
    ``seed``'s device, in one pass of tensor ops.

    ``seed`` is a 0-dim int64 tensor; its 64 bits are the key.
    """
    device = seed.device
    key = (seed & MASK, (seed >> 32) & MASK)
    arange = lambda n: torch.arange(n, device=device)  # noqa: E731
    counter = (
        arange((draws + 3) // 4),
        arange(batch)[:, None, None, None],
        arange(count)[None, :, None, None],
        arange(streams)[None, None, :, None],
    )
    words = torch.broadcast_tensors(*philox4x32(counter, key))
    return torch.stack(words, -1).flatten(-2)[..., :draws].double() * 2.0**-32
