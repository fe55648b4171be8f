"""The GPU backends on a GPU: the same bits as the reference on the CPU, on any stream and
device. Skipped without a CUDA device (CI has none; ``tubelets selftest`` runs the same
checks and more on a GPU machine)."""
from __future__ import annotations


import pytest
import torch

from helpers import assert_same_bits, bits, run_python
from tubelets import TubeletConfig, composite, ops, sample_tubelets

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
TWO_GPUS = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs a CUDA device, and a second one")

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
GPU_BACKENDS = ("cuda", "triton")
CONFIG = TubeletConfig(num_tubelets=3, transforms=("rotation", "scale", "shear"), opacity=(0.4, 1.0),
                       softness=(0.0, 0.3))
NAN_PAYLOADS = {torch.float32: [0x7FC00000, 0x7FFFFFFF, -1, 0x7F800001],
                torch.float16: [0x7E00, 0x7FFF, -1, 0x7C01], torch.bfloat16: [0x7FC0, 0x7FFF, -1, 0x7F81]}


def needs(backend: str, device="cuda") -> None:
    reason = ops.unavailable(backend, torch.device(device))
    if reason is not None:
        pytest.fail(f"the {backend} backend is unavailable on a machine with a GPU: {reason}")


def scene(dtype, shape=(2, 3, 5, 37, 45), layout="BCTHW", nans=False, seed=0):
    """``(video, source, tubelets)`` on the CPU; ``layout`` "BTCHW" stores frames major."""
    generator = torch.Generator().manual_seed(seed)
    batch, channels, frames, height, width = shape

    def clip():
        if dtype == torch.uint8:
            values = torch.randint(0, 256, shape, generator=generator, dtype=dtype)
        else:
            values = torch.rand(shape, generator=generator).to(dtype)
        if nans:
            payloads = torch.tensor(NAN_PAYLOADS[dtype]).to({2: torch.int16, 4: torch.int32}[values.element_size()])
            pick = torch.randint(0, len(payloads), shape, generator=generator)
            values = torch.where(torch.rand(shape, generator=generator) < 0.1, payloads[pick].view(dtype), values)
        return values.transpose(1, 2).contiguous().transpose(1, 2) if layout == "BTCHW" else values

    video, source = clip(), clip()
    return video, source, sample_tubelets(CONFIG, batch, frames, height, width, generator=generator)


def on(device, video, source, tubes):
    return video.to(device), source.to(device), tubes.to(device)


@pytest.mark.parametrize("layout", ["BCTHW", "BTCHW"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_gpu_backend_matches_cpu_reference(backend, dtype, layout):
    needs(backend)
    video, source, tubes = scene(dtype, layout=layout)
    expected = composite(video, source, tubes, backend="torch")
    actual = composite(*on("cuda", video, source, tubes), backend=backend)
    assert torch.equal(bits(actual.cpu()), bits(expected))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_masks_and_source_alpha_on_gpu(backend, dtype):
    """Masks, with the videos and alone, and a source alpha channel: the CPU reference's bits."""
    needs(backend)
    video, source, tubes = scene(dtype)
    level = torch.rand(source[:, :1].shape, generator=torch.Generator().manual_seed(1))
    alpha = (level * 3).floor().mul(127.5).round().to(dtype) if dtype == torch.uint8 else (level * 1.6 - 0.3).to(dtype)
    source = torch.cat([source, alpha], 1)
    results = {}
    for device, name in (("cpu", "torch"), ("cuda", backend)):
        v, s, t = on(device, video, source, tubes)
        out, masks = torch.empty_like(v), torch.empty(v.shape[0], *v.shape[2:], dtype=torch.int8, device=device)
        alone = torch.empty_like(masks)
        ops.paint_([out], [v], s, t, backend=name, masks=masks, source_alpha=True)
        ops.paint_([], [], s, t, backend=name, masks=alone, source_alpha=True)
        results[device] = (bits(out.cpu()), masks.cpu(), alone.cpu())
    (want, want_masks, _), (got, masks, alone) = results["cpu"], results["cuda"]
    assert torch.equal(got, want) and torch.equal(masks, want_masks) and torch.equal(alone, want_masks)
    assert (want_masks >= 0).any()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_nan_payloads_on_gpu(backend, dtype):
    """NaN source and canvas pixels of every payload stay NaN (never -0.0) where painted."""
    needs(backend)
    video, source, tubes = scene(dtype, nans=True)
    expected = composite(video, source, tubes, backend="torch")
    painted = bits(expected) != bits(video)
    assert torch.isnan(expected[painted]).any() and not torch.isnan(expected[painted]).all()
    assert_same_bits(composite(*on("cuda", video, source, tubes), backend=backend), expected)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_paints_on_the_current_stream(backend):
    """Read on the side stream right after painting there, while the default stream sleeps:
    a launch on any other stream would not have finished."""
    needs(backend)
    video, source, tubes = on("cuda", *scene(torch.float32))
    expected = composite(video.cpu(), source.cpu(), tubes.to("cpu"), backend="torch")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    torch.cuda._sleep(200_000_000)  # on the default stream
    with torch.cuda.stream(side):
        snapshot = composite(video, source, tubes, backend=backend).clone()
    torch.cuda.synchronize()
    assert torch.equal(snapshot.cpu(), expected)


@TWO_GPUS
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_second_gpu_while_the_first_is_current(backend):
    needs(backend, "cuda:1")
    video, source, tubes = scene(torch.bfloat16)
    expected = composite(video, source, tubes, backend="torch")
    with torch.cuda.device(0):
        actual = composite(*on("cuda:1", video, source, tubes), backend=backend)
        assert torch.cuda.current_device() == 0
    assert actual.device == torch.device("cuda:1")
    assert torch.equal(bits(actual.cpu()), bits(expected))


@TWO_GPUS
def test_painting_on_gpu1_from_a_new_thread_creates_no_context_on_gpu0():
    """A thread that never chose a device reports device 0; the CUDA backend's device guard
    must not create GPU 0's context (hundreds of MB) when it switches back."""
    needs("cuda", "cuda:1")
    code = (
        "import threading, torch\n"
        "from tubelets import native, sample_tubelets, TubeletConfig\n"
        "video = torch.zeros(1, 3, 2, 16, 16, device='cuda:1')\n"
        "source = torch.rand(1, 3, 2, 16, 16, device='cuda:1')\n"
        "t = sample_tubelets(TubeletConfig(), 1, 2, 16, 16, device='cuda:1')\n"
        "args = (t.inv_affine, t.opacity, t.src_box, t.src_frame, t.shape, t.softness)\n"
        "assert not torch._C._cuda_hasPrimaryContext(0)\n"
        "thread = threading.Thread(target=native.paint_cuda_, args=([video], [video], source, *args))\n"
        "thread.start(); thread.join()\n"
        "torch.cuda.synchronize('cuda:1')\n"
        "assert video.any(), 'nothing was painted'\n"
        "assert not torch._C._cuda_hasPrimaryContext(0), 'GPU 0 got a context'\n"
    )
    child = run_python(code)
    assert child.returncode == 0, child.stderr
