"""Smoke tests of examples/: each script answers --help and runs a few steps at tiny sizes,
as a user runs it (a subprocess, ``python examples/NAME.py``); and the held-out probe task
of the ablation paints what its labels say."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ("dataloader", "gpu_batch", "moco", "visualize", "replicate_ablation", "trajectory_labels")
TINY = ["--frames", "8", "--size", "32"]


def run(name: str, *args: str, timeout: float = 120) -> str:
    """Run ``examples/NAME.py`` with ``args`` on one torch thread; its stdout, after checking
    that it exited 0."""
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, f"{name} {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_script_answers_help():
    processes = {name: subprocess.Popen([sys.executable, str(EXAMPLES / f"{name}.py"), "--help"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in SCRIPTS}
    for name, process in processes.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{name} --help exited {process.returncode}: {err}"
        assert out.startswith("usage:") and "--help" in out, out


def test_every_example_is_tested():
    scripts = {path.stem for path in EXAMPLES.glob("*.py")} - {"motion_probe"}  # a module, tested below
    assert scripts == set(SCRIPTS)


def test_dataloader_gives_every_item_of_every_worker_and_rank_its_own_tubelets():
    out = run("dataloader", "--items", "4", "--batch-size", "2", "--ranks", "2", *TINY)
    items, ranks, workers, distinct = map(int, re.search(
        r"(\d+) items over (\d+) rank\(s\) × (\d+) worker\(s\): (\d+) distinct", out).groups())
    assert (items, ranks, workers, distinct) == (8, 2, 2, 8)
    assert "workers [0]" in out and "workers [1]" in out


def test_gpu_batch_paints_after_collation_and_times_both_paths():
    out = run("gpu_batch", "--items", "4", "--batch-size", "2", "--repeats", "1", *TINY)
    assert "painted 4 pairs in batches of 2 on" in out and "q (2, 3, 8, 32, 32) torch.uint8" in out
    per_item, batched = (float(x.replace(",", "")) for x in re.findall(r"([\d,.]+) pairs/s", out))
    assert per_item > 0 and batched > 0


def test_moco_trains_and_saves_the_backbone(tmp_path):
    path = tmp_path / "backbone.pt"
    out = run("moco", "--steps", "2", "--batch-size", "4", "--queue-size", "32", "--save", str(path), *TINY)
    loss = float(re.search(r"trained 2 steps in [\d.]+ s, final loss ([\d.]+)", out).group(1))
    assert 0 < loss < 20
    state = torch.load(path, weights_only=True)
    assert state["features.0.weight"].shape == (16, 3, 3, 5, 5)


def test_visualize_writes_the_gif_and_the_plots(tmp_path):
    from PIL import Image

    run("visualize", "--out", str(tmp_path), *TINY)
    with Image.open(tmp_path / "pair.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (4 * 32 * 2, 32 * 2)  # 4 clips side by side, zoom 2
    with Image.open(tmp_path / "trajectories.png") as plot:
        assert min(plot.size) > 300


def test_trajectory_labels_puts_every_mask_pixel_in_its_box(tmp_path):
    from PIL import Image

    for name, colour in (("a.png", (255, 0, 0, 255)), ("b.png", (0, 0, 255, 128))):
        Image.new("RGBA", (12, 8), colour).save(tmp_path / name)
    for extra in ([], ["--sprites", str(tmp_path)]):
        out = run("trajectory_labels", "--tubelets", "2", *extra, *TINY)
        assert "every mask pixel in its box" in out, out
        lines = [line for line in out.splitlines() if line.startswith("tubelet ")]
        assert len(lines) == 2 and all("visible in" in line for line in lines), out
        assert re.search(r"ids \[-1, 0, 1\]", out), out


def test_replicate_ablation_writes_a_row_per_condition(tmp_path):
    table, log = tmp_path / "table.md", tmp_path / "runs.jsonl"
    run("replicate_ablation", "--budget-seconds", "60", "--steps", "2", "--seeds", "1", "--conditions", "temporal",
        "rotation", "--probe-clips", "16", "--batch-size", "4", "--table", str(table), "--log", str(log), *TINY)
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["condition"], r["steps"]) for r in runs] == [("temporal", 2), ("rotation", 2)]
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ") and "±" in line]
    assert [row.split(" | ")[0] for row in rows] == [
        "| untrained encoder (no pretraining)", "| (a) temporal contrast", "| (e) non-linear + rotation"]
    for row in rows:
        for mean, std in re.findall(r"([\d.]+) ± ([\d.]+)", row):
            assert 0 <= float(mean) <= 100 and float(std) == 0  # one seed: no spread


class Blank:
    """A stand-in for ``ClipPool``: black background clips."""

    def clips(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.zeros(count, 3, 16, 64, 64, dtype=torch.uint8)


def test_probe_sprites_move_the_way_their_labels_say():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import motion_probe
    finally:
        sys.path.remove(str(EXAMPLES))
    clips, labels = motion_probe.make_task("direction", 32, torch.Generator().manual_seed(0), Blank())
    ink = clips.float().sum(1)  # (N, T, H, W): only the sprite is drawn
    assert (ink.flatten(2).sum(-1) > 0).all(), "a sprite left the frame entirely"
    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    centroid = torch.stack([(ink * x).sum((-2, -1)), (ink * y).sum((-2, -1))], -1) / ink.sum((-2, -1))[..., None]
    dx, dy = (centroid[:, -1] - centroid[:, 0]).unbind(-1)
    expected = {0: dx > abs(dy), 1: -dx > abs(dy), 2: dy > abs(dx), 3: -dy > abs(dx)}  # right, left, down, up
    for label, moved in expected.items():
        assert moved[labels == label].all(), f"class {label}"
    assert sorted(labels.bincount().tolist()) == [8, 8, 8, 8]
