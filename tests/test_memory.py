"""Memory bounded by the outputs: the reference compositor paints in chunks, and no config
the constructor takes makes the sampler allocate more than its tubelets need.

Peak memory is measured in a fresh interpreter (``ru_maxrss``, the resident high-water
mark): the inputs and outputs are allocated and written first, so what the measured call
adds to the mark is its scratch space alone.
"""
import sys
import textwrap

import pytest
import torch

from helpers import cpu_backends, run_python
from tubelets import TubeletConfig, composite, reference, sample_tubelets

MEASURE = """
import resource, torch
from tubelets import TubeletConfig, composite, sample_tubelets
{setup}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{call}
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""


def scratch_bytes(setup: str, call: str) -> int:
    """How far ``call`` raises the resident high-water mark after ``setup``, in bytes (Linux)."""
    code = MEASURE.format(setup=textwrap.dedent(setup), call=call)
    result = run_python(code, timeout=600)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1]) * 1024


# Large patches (scaled twice the crop, so each covers the frame): the old reference held
# float32 windows of the whole batch at once, 70 times the outputs (850 MB here).
PAINT = """
B, T, S = {batch}, 16, 64
config = TubeletConfig(patch_size=(0.9, 1.0), transforms=("scale",), scale_range=(2.0, 2.0))
def inputs(batch):
    video = torch.zeros(batch, 3, T, S, S, dtype=torch.uint8)
    return video, torch.ones_like(video), torch.zeros_like(video), sample_tubelets(config, batch, T, S, S)
small = inputs(1)
composite(*small[:2], small[3], out=small[2], backend="torch")  # first-call allocations
video, source, out, tubes = inputs(B)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux only")
def test_the_reference_paints_in_scratch_bounded_by_the_outputs():
    output = 64 * 3 * 16 * 64 * 64  # bytes, uint8
    used = scratch_bytes(PAINT.format(batch=64), 'composite(video, source, tubes, out=out, backend="torch")')
    assert used < 4 * output, f"{used / 2**20:.0f} MB of scratch for {output / 2**20:.0f} MB of output"


@pytest.mark.parametrize("chunk", [1, 5000, 2**18])
def test_chunks_of_any_size_paint_the_same_pixels(chunk, monkeypatch):
    """One frame a chunk (the smallest), a few, and the default give one result."""
    generator = torch.Generator().manual_seed(0)
    video, source = (torch.randint(0, 256, (3, 2, 5, 17, 23), generator=generator, dtype=torch.uint8)
                     for _ in range(2))
    config = TubeletConfig(num_tubelets=3, transforms=("scale", "rotation", "shear"), opacity=(0.3, 1.0),
                           softness=(0.0, 0.5))
    tubes = sample_tubelets(config, 3, 5, 17, 23, seed=torch.tensor(9))
    expected = composite(video, source, tubes, backend=cpu_backends()[-1])  # C++ if built
    monkeypatch.setattr(reference, "CHUNK_ELEMENTS", chunk)
    assert torch.equal(composite(video, source, tubes, backend="torch"), expected)
    assert not torch.equal(expected, video)


CONFIGS = ["nonlinear_sigma=1e6", "nonlinear_sigma=1e300", "motion='linear', keyframes=10**9",
           "nonlinear_points=1024, nonlinear_sigma=1e6"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux only")
@pytest.mark.parametrize("sampler", ["torch", *(["cpu"] if "cpu" in cpu_backends() else [])])
def test_no_config_makes_the_sampler_allocate_more_than_its_tubelets(sampler):
    """σ = 1e6 allocated gigabytes (an unbounded filter radius); now every one of these
    extremes, sampled in turn in one interpreter, stays within a few MB for B = 16."""
    calls = "; ".join(f"sample_tubelets(TubeletConfig({fields}), 16, 16, 112, 112, backend={sampler!r})"
                      for fields in CONFIGS)
    used = scratch_bytes("", calls)
    assert used < 64 * 2**20, f"{used / 2**20:.0f} MB"
