"""Tubelet positive pairs made inside DataLoader workers, one clip pair at a time.

Each worker draws from its own torch RNG stream (DataLoader seeds every worker
differently), so no two items share tubelets. Run: ``python examples/dataloader_pairs.py``.
"""
import torch
from torch.utils.data import DataLoader, Dataset

from tubelets import TubeletOverlay
from tubelets.video import bundled_clip, read_clip


class TubeletPairs(Dataset):
    """Item ``i``: a ``(C, T, H, W)`` uint8 pair from two different videos with shared tubelets."""

    def __init__(self, length: int = 8):
        self.first = [read_clip(bundled_clip("bikes.mp4"), start=8 * i) for i in range(length)]
        self.second = [read_clip(bundled_clip("bigbuckbunny.mp4"), start=8 * i) for i in range(length)]
        self.overlay = TubeletOverlay()  # the paper's configuration

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, index: int):
        return self.overlay(self.first[index], self.second[index])


if __name__ == "__main__":
    loader = DataLoader(TubeletPairs(), batch_size=4, num_workers=2)
    for q, k in loader:
        painted = (q != k).any(1).float().mean().item()
        print(f"batch {tuple(q.shape)} {q.dtype}: the two views differ on {painted:.0%} of pixels")
