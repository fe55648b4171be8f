"""Tubelet pairs made per item inside ``DataLoader`` workers, from real clips decoded with PyAV.

Each item cuts two clips, ``v1`` and ``v2``, from two different videos at random starts
(``tubelets.video.read_clip`` decodes them with PyAV) and paints the same tubelets on both
with :class:`tubelets.TubeletOverlay`, in the worker; ``default_collate`` batches the clips
and the per-item :class:`tubelets.Tubelets` alike.

The seeding rule, for distinct tubelets in every worker, epoch and DDP rank:

* Inside a worker, ``TubeletOverlay`` draws from the worker's torch RNG, which the
  ``DataLoader`` seeds with ``base_seed + worker_id``; ``base_seed`` is drawn from the
  loader's ``generator`` each time an epoch starts. So workers and epochs differ as they
  are; do not reseed workers alike in a ``worker_init_fn``.
* Ranks do not: each runs this same code, usually after the same ``torch.manual_seed``, so
  rank 1's worker 0 would draw what rank 0's worker 0 draws. Give each rank's loader its
  own generator, ``torch.Generator().manual_seed(seed + rank)`` (:func:`make_loader`). That
  holds whether or not anything else folds the rank into a seed. (tubelets folds the rank
  into every seed it draws from the global RNG when ``torch.distributed`` is initialised,
  or when torchrun's ``RANK`` and ``WORLD_SIZE`` are set; see :mod:`tubelets.distributed`.
  The loader's own generator per rank needs neither, and gives the workers' other random
  draws, such as the clip starts here, distinct streams too.)

``--ranks 2`` builds the loaders of two ranks in one process and checks that no two items
got the same tubelets. Run: ``python examples/dataloader.py`` (``--help`` for the rest).
"""
from __future__ import annotations

import argparse
import sys

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, get_worker_info

from tubelets import TubeletOverlay
from tubelets.video import bundled_clip, read_clip

VIDEOS = ("bikes.mp4", "bigbuckbunny.mp4")


class ClipPairs(Dataset):
    """Item ``i``: ``{"q", "k"}`` (two ``(3, T, size, size)`` uint8 clips with the same
    tubelets, ``v1`` from ``VIDEOS[i % 2]``, ``v2`` from the other), ``"tubelets"`` (a
    :class:`Tubelets` of one clip) and ``"worker"`` (the id of the worker that made it).

    ``overlay=None``: ``q``, ``k`` are the plain clips and ``"tubelets"`` is absent (to paint
    the batch later, as ``examples/gpu_batch.py`` does)."""

    def __init__(self, length: int, overlay: TubeletOverlay | None, frames: int = 16, size: int = 112):
        import av  # PyAV: the frame counts (read_clip decodes with it too)

        self.paths = [bundled_clip(name) for name in VIDEOS]
        self.counts = []
        for path in self.paths:
            with av.open(str(path)) as container:
                self.counts.append(container.streams.video[0].frames)
        self.length, self.frames, self.size, self.overlay = length, frames, size, overlay

    def __len__(self) -> int:
        return self.length

    def _clip(self, video: int) -> torch.Tensor:
        start = int(torch.randint(self.counts[video] - self.frames + 1, ()))  # the worker's RNG
        return read_clip(self.paths[video], frames=self.frames, size=self.size, start=start)

    def __getitem__(self, index: int) -> dict:
        first = index % len(self.paths)
        v1, v2 = self._clip(first), self._clip((first + 1) % len(self.paths))
        worker = get_worker_info()
        item = {"worker": worker.id if worker is not None else -1}
        if self.overlay is None:
            return {**item, "q": v1, "k": v2}
        q, k, tubes = self.overlay(v1, v2, return_tubelets=True)  # (3, T, H, W) each: one clip, no batch
        return {**item, "q": q, "k": k, "tubelets": tubes}


def current_rank() -> int:
    """This process's DDP rank, 0 without ``torch.distributed``."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def make_loader(dataset: Dataset, batch_size: int, workers: int, seed: int, rank: int) -> DataLoader:
    """The loader of one rank: shuffled, ``workers`` processes, and the seeding rule —
    worker seeds drawn from a generator of its own per rank."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                      generator=torch.Generator().manual_seed(seed + rank))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16, help="items per rank (default 16)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112, help="frame side in pixels (default 112, the paper's)")
    parser.add_argument("--ranks", type=int, help="simulate this many DDP ranks in this process "
                        "(default: this process's rank only)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)  # the same on every rank, as in most training scripts
    dataset = ClipPairs(args.items, TubeletOverlay(), frames=args.frames, size=args.size)  # the paper's tubelets
    ranks = range(args.ranks) if args.ranks else [current_rank()]
    draws = []
    for rank in ranks:
        for batch in make_loader(dataset, args.batch_size, args.workers, args.seed, rank):
            tubes = batch["tubelets"]  # collated: a Tubelets of the whole batch
            # A draw's fingerprint: where its tubelets start (px) and which frame they come from.
            draws += [tuple(tubes.centers[b, :, 0].flatten().tolist() + tubes.src_frame[b].tolist())
                      for b in range(tubes.batch_size)]
            print(f"rank {rank}: batch q {tuple(batch['q'].shape)} {batch['q'].dtype}, tubelets "
                  f"{tuple(tubes.inv_affine.shape[:3])}, workers {sorted(set(batch['worker'].tolist()))}, "
                  f"q and k share {(batch['q'] == batch['k']).all(1).float().mean():.0%} of their pixels (the tubelets)")
    print(f"{len(draws)} items over {len(ranks)} rank(s) × {args.workers} worker(s): "
          f"{len(set(draws))} distinct tubelet draws")
    return 0 if len(set(draws)) == len(draws) else 1


if __name__ == "__main__":
    sys.exit(main())
