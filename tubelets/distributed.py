"""The rank that seeds differ by, so that DDP ranks seeded alike sample different tubelets.

The common DDP recipe seeds every rank alike (``torch.manual_seed(0)`` on each), which
would give every rank the same seed and so the same tubelets. A seed drawn from the global
RNG is therefore folded with the rank (:func:`fold`, applied by
:func:`tubelets.sampling.draw_seed`); an explicit ``generator=`` or ``seed=`` is used as
given.

Where the rank comes from (:func:`rank_for_seeding`), first match wins:

1. the default process group of :mod:`torch.distributed`, when it is initialised and
   has more than one rank: :func:`torch.distributed.get_rank`. It is read on every call,
   so a group initialised after ``import tubelets`` counts. ``DataLoader`` workers
   started by ``fork`` (the default on Linux up to Python 3.13) inherit the group and so
   the rank;
2. else the environment variables ``RANK`` and ``WORLD_SIZE`` that ``torchrun`` sets, when
   ``WORLD_SIZE`` is above 1: :data:`ENV_RANK`, read once when tubelets is imported.
   Workers started by ``spawn`` or ``forkserver`` have no process group but inherit the
   environment and import tubelets afresh, so they get the rank from there;
3. else 0.

Rank 0 folds nothing: it draws exactly what a single process would. A ``DataLoader``
worker draws from its own RNG, which DataLoader seeds ``base_seed + worker_id``, with
``base_seed`` drawn from the rank's RNG; ranks seeded alike thus have alike workers, and
the fold with the rank tells them apart. A process started without a ``RANK`` in its
environment (``torch.multiprocessing.spawn``) whose workers are spawned has no rank in
them: set ``RANK`` and ``WORLD_SIZE`` before the ``DataLoader`` starts them, or pass a
``generator`` seeded per rank and worker.

Under ``torch.compile`` the rank is read when the function is traced and becomes a
constant of the graph: compile after ``init_process_group``.
"""
from __future__ import annotations

import os

import torch

RANK_MULTIPLIER = 0x9E3779B97F4A7C15
"""An odd 64-bit constant, 2⁶⁴ divided by the golden ratio. Multiplying by it modulo 2⁶⁴ is
a bijection, so distinct ranks get distinct offsets; those of ranks 1 to 1024 each flip
bits in both 32-bit words of the Philox key (tests/test_distributed.py)."""


def _rank_from_environment() -> int:
    """``RANK`` when ``WORLD_SIZE`` is above 1 (as ``torchrun`` sets them), else 0."""
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0
    return rank if world_size > 1 and rank > 0 else 0


# Read once: under torch.compile, os.environ would be traced and guarded key by key.
ENV_RANK = _rank_from_environment()
"""The rank that ``RANK`` and ``WORLD_SIZE`` gave when tubelets was imported (0 unless
``WORLD_SIZE`` is above 1)."""


def rank_for_seeding() -> int:
    """The rank that :func:`tubelets.sampling.draw_seed` folds into seeds drawn from the
    global RNG: the process group's rank, else ``RANK`` from the environment, else 0 (see
    the module docstring). No communication: the group's rank is stored locally."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() if torch.distributed.get_world_size() > 1 else 0
    return ENV_RANK


def offset(rank: int) -> int:
    """``rank · RANK_MULTIPLIER`` modulo 2⁶⁴, as the signed 64-bit integer a seed XORs with."""
    value = (rank * RANK_MULTIPLIER) % 2**64
    return value - 2**64 if value >= 2**63 else value


def fold(seed: torch.Tensor, rank: int) -> torch.Tensor:
    """The seed of ``rank``: ``seed XOR offset(rank)``, one elementwise op on ``seed``'s
    device (no host read); rank 0 returns ``seed`` itself. A pure function of the 64 bits
    of ``seed`` and of ``rank``: a single process reproduces rank ``r``'s tubelets by
    sampling with ``seed=fold(seed, r)``."""
    return seed ^ offset(rank) if rank else seed
