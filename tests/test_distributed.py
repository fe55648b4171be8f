"""DDP seeding (tubelets/distributed.py) with two real ranks: gloo process group on the CPU,
both ranks seeded alike with ``torch.manual_seed(0)``, as the common DDP recipe does.

The ranks are this file run as a script (``python tests/test_distributed.py RANK ...``),
started without ``RANK`` in their environment (as ``torch.multiprocessing.spawn`` starts
them); each writes what it sampled to a file, and the test compares the files with a
single-process run of the documented rule: seed ``XOR (rank · 0x9E3779B97F4A7C15 mod 2⁶⁴)``.
"""
import os
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist

from tubelets import TubeletConfig, TubeletOverlay, Tubelets, sample_tubelets
from tubelets import distributed
from tubelets.profiling import count_dispatches
from tubelets.sampling import draw_seed

CONFIG = TubeletConfig(motion="linear")
SIZE = (2, 4, 16, 16)  # clips, frames, height, width
CLIP = (3, 4, 16, 16)  # one clip (C, T, H, W) in a DataLoader worker
WORLD_SIZE = 2
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def documented_seed(raw: int, rank: int) -> int:
    """The rule as the docs state it, written out independently of tubelets.distributed."""
    offset = (rank * 0x9E3779B97F4A7C15) % 2**64
    folded = (raw % 2**64) ^ offset
    return folded - 2**64 if folded >= 2**63 else folded


def first_draw(seed: int) -> int:
    """The 64-bit draw that sampling takes from the global RNG after ``torch.manual_seed(seed)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return int(torch.randint(-(2**63), 2**63 - 1, (), dtype=torch.int64))


def sampled_with(seed: int, batch: int = SIZE[0]) -> Tubelets:
    return sample_tubelets(CONFIG, batch, *SIZE[1:], seed=torch.tensor(seed))


# ---- the rank program (run as a script; also the DataLoader workers' dataset) ----

class OverlayedClips(torch.utils.data.Dataset):
    """Clips painted in the worker, as a training pipeline does; returns what it needs to check."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        _, tubes = TubeletOverlay(CONFIG)(torch.zeros(CLIP, dtype=torch.uint8), return_tubelets=True)
        return {"worker_seed": torch.initial_seed(), "has_group": dist.is_initialized(),
                "tubelets": tubes.to_dict()}


def worker_results(context: str) -> list:
    torch.manual_seed(0)  # the base seed of the workers is drawn from this RNG
    loader = torch.utils.data.DataLoader(OverlayedClips(), batch_size=None, num_workers=2,
                                         multiprocessing_context=context)
    return list(loader)  # item i is made by worker i


def run_rank(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    results = {}
    torch.manual_seed(0)
    results["before_init"] = sample_tubelets(CONFIG, *SIZE).to_dict()
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD_SIZE)
    torch.manual_seed(0)
    results["default"] = sample_tubelets(CONFIG, *SIZE).to_dict()
    torch.manual_seed(0)
    results["generator"] = sample_tubelets(CONFIG, *SIZE, generator=torch.Generator().manual_seed(0)).to_dict()
    compiled = torch.compile(lambda x: draw_seed(x.device), fullgraph=True, backend="aot_eager")
    torch.manual_seed(0)
    results["compiled_seed"] = int(compiled(torch.zeros(1)))
    results["fork_workers"] = worker_results("fork")  # they inherit the process group
    # What torchrun sets; spawned workers have no process group, only this environment.
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE))
    results["spawn_workers"] = worker_results("spawn")
    dist.destroy_process_group()
    torch.save(results, out)


# ---- the tests ----

@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of the two ranks wrote: ``[rank 0's results, rank 1's results]``."""
    folder = tmp_path_factory.mktemp("ranks")
    environment = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    started = time.monotonic()
    processes = [
        subprocess.Popen([sys.executable, __file__, str(rank), str(folder / "store"), str(folder / f"{rank}.pt")],
                         env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in range(WORLD_SIZE)
    ]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    for rank, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f"rank {rank} failed:\n{output}"
    print(f"two ranks ran in {time.monotonic() - started:.1f} s")
    return [torch.load(folder / f"{rank}.pt", weights_only=False) for rank in range(WORLD_SIZE)]


def tubes(fields: dict) -> Tubelets:
    return Tubelets.from_dict(fields)


needs_gloo = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="this torch has no torch.distributed with gloo")


@needs_gloo
def test_without_a_rank_ranks_seeded_alike_sample_alike(ranks):
    """The hazard the fold removes: no process group, no RANK, so both draw the same."""
    expected = sampled_with(first_draw(0))
    assert all(tubes(rank["before_init"]) == expected for rank in ranks)


@needs_gloo
def test_ranks_seeded_alike_sample_different_tubelets(ranks):
    zero, one = (tubes(rank["default"]) for rank in ranks)
    assert zero != one
    assert not torch.equal(zero.centers, one.centers)


@needs_gloo
@pytest.mark.parametrize("rank", range(WORLD_SIZE))
def test_a_rank_samples_the_single_process_draw_folded_with_its_rank(ranks, rank):
    """Rank r = a single process sampling with seed ``draw XOR offset(r)``; rank 0 = the
    undistributed default."""
    assert tubes(ranks[rank]["default"]) == sampled_with(documented_seed(first_draw(0), rank))
    if rank == 0:
        torch.manual_seed(0)
        assert tubes(ranks[0]["default"]) == sample_tubelets(CONFIG, *SIZE)


@needs_gloo
def test_an_explicit_generator_is_not_folded(ranks):
    expected = sample_tubelets(CONFIG, *SIZE, generator=torch.Generator().manual_seed(0))
    assert all(tubes(rank["generator"]) == expected for rank in ranks)


@needs_gloo
def test_the_fold_traces_under_torch_compile_fullgraph(ranks):
    for rank, results in enumerate(ranks):
        assert results["compiled_seed"] == documented_seed(first_draw(0), rank)


@needs_gloo
@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_dataloader_workers_of_ranks_seeded_alike_differ(ranks, start):
    """DataLoader seeds worker w with base + w, base drawn from the rank's RNG: alike across
    ranks seeded alike (checked here); the fold with the rank, from the inherited process
    group (fork) or the RANK variable (spawn), makes their tubelets differ."""
    workers = [rank[f"{start}_workers"] for rank in ranks]
    assert [w["has_group"] for w in workers[0]] == [start == "fork"] * 2
    for worker in range(2):
        seeds = {workers[rank][worker]["worker_seed"] for rank in range(WORLD_SIZE)}
        assert len(seeds) == 1, "DataLoader gave alike-seeded ranks different worker seeds"
        got = [tubes(workers[rank][worker]["tubelets"]) for rank in range(WORLD_SIZE)]
        assert got[0] != got[1]
        for rank in range(WORLD_SIZE):
            raw = first_draw(workers[rank][worker]["worker_seed"])
            assert got[rank] == sampled_with(documented_seed(raw, rank), batch=1)


# ---- one process: the rule's pieces ----

@pytest.mark.parametrize("variables, rank", [
    ({}, 0), ({"RANK": "3", "WORLD_SIZE": "4"}, 3), ({"RANK": "3"}, 0), ({"RANK": "0", "WORLD_SIZE": "4"}, 0),
    ({"RANK": "1", "WORLD_SIZE": "1"}, 0), ({"RANK": "x", "WORLD_SIZE": "2"}, 0),
])
def test_the_environment_gives_the_rank_only_in_a_world_of_several(monkeypatch, variables, rank):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert distributed._rank_from_environment() == rank


def test_offsets_of_distinct_ranks_differ_in_both_key_words():
    offsets = [distributed.offset(rank) % 2**64 for rank in range(1, 1025)]
    assert len(set(offsets)) == len(offsets)
    assert all(o & 0xFFFFFFFF and o >> 32 for o in offsets)


def test_a_rank_above_zero_costs_one_op_on_the_device_and_no_sync(monkeypatch):
    device = torch.device("cpu")
    assert count_dispatches(lambda: draw_seed(device)).kernels == 1
    monkeypatch.setattr(distributed, "ENV_RANK", 1)
    counts = count_dispatches(lambda: draw_seed(device))
    assert counts.kernels == 2 and counts.syncs == 0, str(counts)
    torch.manual_seed(5)
    assert int(draw_seed(device)) == documented_seed(first_draw(5), 1)


def test_the_fold_compiles_with_inductor(monkeypatch):
    monkeypatch.setattr(distributed, "ENV_RANK", 1)
    f = torch.compile(lambda x: draw_seed(x.device), fullgraph=True)
    torch.manual_seed(3)
    assert int(f(torch.zeros(1))) == documented_seed(first_draw(3), 1)


if __name__ == "__main__":
    run_rank(int(sys.argv[1]), sys.argv[2], sys.argv[3])
