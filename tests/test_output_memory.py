"""New CPU outputs over reused memory (tubelets.output_memory): a block is handed out again
only once no tensor uses it, what is kept stays bounded, and pooled outputs paint, pickle,
share and fork like any tensor."""
import math
import mmap
import os
import pickle
import threading
import types

import pytest
import torch

from helpers import random_pair
from tubelets import TubeletConfig, TubeletOverlay, composite, output_memory, sample_tubelets

CLIP = (3, 16, 112, 112)  # one clip: 602,112 uint8 bytes, above SMALLEST_BLOCK


@pytest.fixture(autouse=True)
def empty_pool():
    output_memory.release()
    yield
    output_memory.release()


def clips(shape=CLIP, dtype=torch.uint8, seed=0):
    """Two random clips of ``shape`` (one clip, ``CLIP``, unless given): see helpers.random_pair."""
    return random_pair(shape, dtype, seed)


def addresses(*tensors):
    return {tensor.untyped_storage().data_ptr() for tensor in tensors}


def test_freed_outputs_are_reused_and_live_ones_never():
    overlay = TubeletOverlay()
    v1, v2 = clips()
    first = overlay(v1, v2)
    kept = [output.clone() for output in first]
    second = overlay(v1, v2)  # `first` is alive: new blocks, and its pixels stay
    assert addresses(*first).isdisjoint(addresses(*second))
    assert all(torch.equal(output, copy) for output, copy in zip(first, kept))
    old = addresses(*first)
    del first
    assert output_memory.free_bytes() == 2 * v1.numel()
    assert addresses(*overlay(v1, v2)) == old


@pytest.mark.parametrize("hold", ["view", "numpy", "storage", "list"])
def test_memory_held_any_way_is_not_handed_out(hold):
    """Whatever still reaches an output's memory keeps its block out of the pool."""
    overlay = TubeletOverlay()
    v1, v2 = clips()
    o1, o2 = overlay(v1, v2)
    expected = o1.clone()
    holder = {"view": lambda: o1[1:, 3:], "numpy": lambda: o1.numpy(), "storage": lambda: o1.untyped_storage(),
              "list": lambda: [o1]}[hold]()
    address = o1.untyped_storage().data_ptr()
    del o1, o2
    assert output_memory.free_bytes() == v1.numel()  # o2's block only
    for _ in range(3):
        outputs = overlay(v1, v2)
        assert address not in addresses(*outputs)
    held = {"view": lambda: holder, "numpy": lambda: torch.from_numpy(holder)[1:, 3:],
            "storage": lambda: torch.tensor([], dtype=torch.uint8).set_(holder).view(CLIP)[1:, 3:],
            "list": lambda: holder[0][1:, 3:]}[hold]()
    assert torch.equal(held, expected[1:, 3:])


def test_what_is_kept_is_bounded_and_follows_the_size_asked_for():
    overlay = TubeletOverlay()
    v1, v2 = clips()
    outputs = [overlay(v1, v2) for _ in range(4)]  # eight blocks in use
    del outputs
    assert output_memory.free_bytes() == output_memory.KEPT_BLOCKS * v1.numel()
    w1, w2 = clips((3, 16, 120, 120))
    outputs = overlay(w1, w2)  # another size: the free blocks of the first are released
    assert output_memory.free_bytes() == 0
    del outputs
    assert output_memory.free_bytes() == 2 * w1.numel()
    output_memory.release()
    assert output_memory.free_bytes() == 0


def test_small_outputs_are_plain_tensors():
    v1, v2 = clips((3, 4, 20, 24))
    o1, o2 = TubeletOverlay()(v1, v2)
    assert o1.untyped_storage().resizable() and o2.untyped_storage().resizable()
    del o1, o2
    assert output_memory.free_bytes() == 0


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32])
def test_pooled_outputs_hold_what_outputs_into_caller_buffers_hold(dtype):
    v1, v2 = clips(dtype=dtype)
    tubes = sample_tubelets(TubeletConfig(), 1, *CLIP[1:], generator=torch.Generator().manual_seed(3))
    overlay = TubeletOverlay()
    for _ in range(2):  # the second call paints into the first call's freed blocks
        pooled = overlay(v1, v2, tubelets=tubes)
        assert not pooled[0].untyped_storage().resizable()
        mine = overlay(v1, v2, tubelets=tubes, out=(torch.full_like(v1, 7), torch.full_like(v2, 7)))
        assert all(torch.equal(a, b) for a, b in zip(pooled, mine))
        del pooled


def test_composite_keeps_the_layout_of_its_video():
    video, source = clips((1, *CLIP))
    video = video.to(memory_format=torch.channels_last_3d)
    tubes = sample_tubelets(TubeletConfig(), 1, *CLIP[1:], generator=torch.Generator().manual_seed(1))
    out = composite(video, source, tubes)
    assert out.stride() == video.stride() and not out.untyped_storage().resizable()
    assert torch.equal(out, composite(video.contiguous(), source, tubes, out=torch.empty_like(video)))


def test_pooled_outputs_pickle_and_move_to_shared_memory():
    o1, _ = TubeletOverlay()(*clips())
    assert torch.equal(pickle.loads(pickle.dumps(o1)), o1)
    expected = o1.clone()
    o1.share_memory_()  # as a DataLoader worker's reply does: a copy into shared memory
    assert o1.is_shared() and torch.equal(o1, expected)
    assert output_memory.free_bytes() == o1.numel()  # its block came back


def test_outputs_freed_on_another_thread_come_back():
    outputs = list(TubeletOverlay()(*clips()))
    thread = threading.Thread(target=outputs.clear)
    thread.start()
    thread.join()
    assert output_memory.free_bytes() == 2 * math.prod(CLIP)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_writes_its_own_copies():
    """Blocks are private mappings: a DataLoader worker forked with a block in use, or a
    free one, cannot write into the parent's memory."""
    o1, o2 = TubeletOverlay()(*clips())
    expected, free = o1.clone(), o2.clone()
    del o2  # now a free block
    pid = os.fork()
    if pid == 0:  # the child overwrites both blocks through NumPy (no torch threads after a fork)
        code = 1
        try:
            o1.numpy().fill(0)
            output_memory.empty(CLIP, torch.uint8, torch.device("cpu")).numpy().fill(0)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert torch.equal(o1, expected)
    assert torch.equal(output_memory.empty(CLIP, torch.uint8, torch.device("cpu")), free)  # o2's block, as it was


def test_a_kernel_without_huge_pages_still_gives_outputs(monkeypatch):
    """madvise(MADV_HUGEPAGE) fails with EINVAL where the kernel has no transparent huge
    pages; the block is used with 4 KiB pages."""
    asked = []

    class NoHugePages(mmap.mmap):
        def madvise(self, *args):
            asked.append(args)
            raise OSError(22, "Invalid argument")

    fake = types.SimpleNamespace(**{name: getattr(mmap, name) for name in dir(mmap) if name.isupper()})
    fake.mmap = NoHugePages
    monkeypatch.setattr(output_memory, "mmap", fake)
    v1, v2 = clips((3, 16, 224, 224))  # 2.4 MB a clip: blocks that ask for huge pages
    o1, o2 = TubeletOverlay()(v1, v2, tubelets=sample_tubelets(TubeletConfig(), 1, 16, 224, 224))
    assert asked and o1.shape == v1.shape and not o1.untyped_storage().resizable()


def test_threads_making_outputs_of_two_sizes_at_once():
    """Each thread's outputs are its own memory while the pool switches sizes under it."""
    sizes = [(3, 16, 112, 112), (3, 16, 120, 120)]
    failures = []

    def work(size, seed):
        overlay = TubeletOverlay()
        v1, v2 = clips(size, seed=seed)
        tubes = sample_tubelets(TubeletConfig(), 1, *size[1:], generator=torch.Generator().manual_seed(seed))
        expected = overlay(v1, v2, tubelets=tubes, out=(torch.empty_like(v1), torch.empty_like(v2)))
        try:
            for _ in range(30):
                outputs = overlay(v1, v2, tubelets=tubes)
                if not all(torch.equal(a, b) for a, b in zip(outputs, expected)):
                    failures.append(size)
        except Exception as error:  # noqa: BLE001 - reported below, on the test's thread
            failures.append(repr(error))

    threads = [threading.Thread(target=work, args=(size, seed)) for seed, size in enumerate(sizes * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
