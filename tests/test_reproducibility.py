"""Same seed, same pixels: across runs and thread counts; independent DataLoader workers; threads."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from helpers import bits, cpu_backends
from tubelets import TubeletConfig, TubeletOverlay, sample_tubelets
from tubelets.config import TRANSFORMS

DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


def clips(dtype=torch.uint8, shape=(2, 3, 4, 24, 32), seed=0):
    """Two random clips of ``shape`` ``(B, C, T, H, W)``: uint8, or floats in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    v1, v2 = (torch.randint(0, 256, shape, generator=generator) for _ in range(2))
    if dtype.is_floating_point:
        v1, v2 = v1 / 255, v2 / 255
    return v1.to(dtype), v2.to(dtype)


def overlay_for(backend: str) -> TubeletOverlay:
    return TubeletOverlay(num_tubelets=4, motion="linear", transforms=TRANSFORMS,
                          opacity=(0.5, 1.0), softness=(0.0, 0.5), backend=backend)


def identical(first, second) -> bool:
    """Outputs ``(q, k, tubelets)`` equal bit for bit."""
    q1, k1, t1 = first
    q2, k2, t2 = second
    return (torch.equal(bits(q1), bits(q2)) and torch.equal(bits(k1), bits(k2))
            and all(torch.equal(a, b) for a, b in zip(vars(t1).values(), vars(t2).values())))


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_gives_bit_identical_outputs_across_runs_and_thread_counts(backend, dtype):
    v1, v2 = clips(dtype)
    overlay = overlay_for(backend)
    threads = torch.get_num_threads()
    runs = []
    try:
        for count in (1, 2, 1, 2):
            torch.set_num_threads(count)
            torch.manual_seed(0)
            global_rng = overlay(v1, v2, return_tubelets=True)
            generator = overlay(v1, v2, generator=torch.Generator().manual_seed(0), return_tubelets=True)
            runs.append((global_rng, generator))
    finally:
        torch.set_num_threads(threads)
    assert all(identical(run[0], runs[0][0]) and identical(run[1], runs[0][1]) for run in runs)
    assert not torch.equal(runs[0][0][0], v1)
    other = overlay(v1, v2, generator=torch.Generator().manual_seed(1), return_tubelets=True)
    assert not torch.equal(other[0], runs[0][1][0])


class RandomClips(Dataset):
    """``length`` random uint8 clips ``(C, T, H, W) = (3, 4, 16, 16)``, each overlaid on access.

    Items are ``(clip with tubelets, tubelets.inv_affine (1, M, T, 2, 3))``.
    """

    def __init__(self, length: int):
        self.length = length
        self.overlay = TubeletOverlay()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        clip = torch.randint(0, 256, (3, 4, 16, 16), generator=torch.Generator().manual_seed(index), dtype=torch.uint8)
        painted, tubes = self.overlay(clip, return_tubelets=True)
        return painted, tubes.inv_affine


def seed_alike(worker_id: int) -> None:
    """The mistake the docs warn about: every worker reseeded with the same seed."""
    torch.manual_seed(0)


def loaded_tubelets(worker_init_fn=None) -> list[torch.Tensor]:
    """``inv_affine`` of 6 items from 2 workers; items 0 and 1 are the first of each worker."""
    loader = DataLoader(RandomClips(6), batch_size=None, num_workers=2, worker_init_fn=worker_init_fn)
    return [inv_affine for _, inv_affine in loader]


def test_dataloader_workers_draw_independent_tubelets_by_default():
    torch.manual_seed(0)
    first = loaded_tubelets()
    assert len({a.numpy().tobytes() for a in first}) == len(first)
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(first, loaded_tubelets()))


def test_workers_seeded_alike_repeat_each_others_tubelets():
    items = loaded_tubelets(worker_init_fn=seed_alike)
    assert torch.equal(items[0], items[1])


@pytest.mark.parametrize("backend", cpu_backends())
@pytest.mark.parametrize("randomness", ["tubelets", "generator"])
def test_threads_sharing_one_overlay_match_serial_calls(backend, randomness):
    """Explicit tubelets, or one generator per call: the results do not depend on scheduling."""
    overlay = overlay_for(backend)
    jobs = []
    for seed in range(8):
        v1, v2 = clips(torch.float32, seed=seed)
        tubes = sample_tubelets(overlay.config, 2, 4, 24, 32, generator=torch.Generator().manual_seed(seed))
        jobs.append((v1, v2, tubes, seed))

    def run(job):
        v1, v2, tubes, seed = job
        if randomness == "tubelets":
            return overlay(v1, v2, tubelets=tubes)
        return overlay(v1, v2, generator=torch.Generator().manual_seed(seed))

    serial = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(3):
            concurrent = list(pool.map(run, jobs))
            assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(serial, concurrent))
    assert len({q.numpy().tobytes() for q, _ in serial}) == len(jobs)


DOCUMENTED_DTYPES = {
    "inv_affine": torch.float32, "opacity": torch.float32, "src_box": torch.int32, "src_frame": torch.int32,
    "shape": torch.int32, "softness": torch.float32, "centers": torch.float32, "angles": torch.float32,
    "scales": torch.float32, "shears": torch.float32, "motion_keyframes": torch.int64,
    "transform_keyframes": torch.int64,
}  # the Tubelets docstring


@pytest.fixture
def float64_by_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("sampler", ["torch", *(["cpu"] if "cpu" in cpu_backends() else [])])
@pytest.mark.parametrize("motion", ["static", "linear", "nonlinear"])
def test_the_default_dtype_changes_neither_dtypes_nor_values(sampler, motion, request):
    """``torch.set_default_dtype(torch.float64)`` leaves the documented dtypes and the pixels."""
    config = dict(num_tubelets=3, motion=motion, transforms=TRANSFORMS, opacity=(0.5, 1.0), softness=(0.0, 0.5))
    sample = lambda: sample_tubelets(TubeletConfig(**config), 2, 5, 24, 32, seed=torch.tensor(11), backend=sampler)
    expected = sample()
    v1, v2 = clips(torch.float32)
    pixels = TubeletOverlay(**config)(v1, v2, generator=torch.Generator().manual_seed(3))
    request.getfixturevalue("float64_by_default")
    tubes = sample()
    for name, dtype in DOCUMENTED_DTYPES.items():
        value = getattr(tubes, name)
        if value is not None:
            assert value.dtype == dtype and torch.equal(value, getattr(expected, name)), name
    again = TubeletOverlay(**config)(v1, v2, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(bits(a), bits(b)) for a, b in zip(again, pixels))
