"""The driver check of the CUDA module (``tubelets.cuda_driver``), with made-up versions."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from helpers import run_python
from tubelets import cuda_driver, native
from tubelets.cuda_driver import driver_problem, kernel_image

BUILT = ("sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120", "compute_120")


@pytest.mark.parametrize("runtime, driver", [
    (13000, 13000), (13000, 13020), (13020, 13000),  # a newer minor runtime: minor version compatibility
    (12080, 12020), (12040, 13000), (11080, 12040),
])
def test_a_driver_of_the_same_major_or_newer_suffices(runtime, driver):
    assert driver_problem(runtime, driver) is None


@pytest.mark.parametrize("runtime, driver, branch", [
    (13000, 12090, "R580+"), (13000, 12040, "R580+"), (12040, 11080, "R525+"), (14000, 13000, None),
])
def test_an_older_major_is_insufficient_and_both_versions_are_named(runtime, driver, branch):
    problem = driver_problem(runtime, driver)
    runtime_name, driver_name = (f"{v // 1000}.{v % 1000 // 10}" for v in (runtime, driver))
    assert f"built with CUDA {runtime_name}" in problem and f"supports CUDA {driver_name}" in problem
    assert branch is None or branch in problem


def test_no_driver():
    assert driver_problem(13000, 0) == "no NVIDIA driver was found"


@pytest.mark.parametrize("capability, image", [
    ((7, 5), "sm_75"), ((8, 0), "sm_80"), ((8, 7), "sm_86"), ((8, 9), "sm_89"), ((9, 0), "sm_90"),
    ((10, 0), "sm_100"), ((10, 3), "sm_100"), ((12, 1), "sm_120"),
    ((13, 0), "compute_120"),  # a later GPU compiles the PTX
    ((11, 0), None), ((7, 0), None),  # sm_110 is older than the PTX; CUDA 13 has no sm_70
])
def test_kernel_image_for_each_gpu(capability, image):
    assert kernel_image(BUILT, capability) == image


def test_arch_specific_cubins_run_on_their_own_arch_only():
    assert kernel_image(("sm_90a",), (9, 0)) == "sm_90a"
    assert kernel_image(("sm_90a",), (10, 0)) is None
    assert kernel_image(("sm_90a", "compute_90a"), (10, 0)) is None  # nor does arch-specific PTX


def fake_module(runtime, driver, archs=BUILT):
    return SimpleNamespace(runtime_version=lambda: runtime, driver_version=lambda: driver,
                           archs=lambda: list(archs))


def test_ptx_needs_a_driver_for_the_full_runtime_version():
    """Cubins run on an older minor driver; PTX from a newer toolkit does not compile there."""
    report = cuda_driver.report(fake_module(13020, 13000))
    assert report.problem is None
    assert report.device_problem((12, 0)) is None
    assert "needs the PTX compute_120" in report.device_problem((13, 0))
    assert cuda_driver.report(fake_module(13020, 13020)).device_problem((13, 0)) is None
    assert "no kernel for sm_70" in report.device_problem((7, 0))


FAKE_MODULE = """
import sys, types
fake = types.ModuleType("tubelets._cuda")
fake.runtime_version = lambda: {runtime}
fake.driver_version = lambda: {driver}
fake.archs = lambda: ["sm_80", "sm_90", "compute_90"]
sys.modules["tubelets._cuda"] = fake
sys.modules["triton"] = None  # so that auto has only cuda and torch to choose from
import torch
from tubelets import native, ops
from tubelets.__main__ import info
"""




def test_an_old_driver_makes_the_backend_unavailable_and_auto_skips_it():
    code = FAKE_MODULE.format(runtime=13000, driver=12040) + (
        "cuda = torch.device('cuda')\n"
        "print('reason:', native.CUDA_UNAVAILABLE)\n"
        "assert ops.unavailable('cuda', cuda) == native.CUDA_UNAVAILABLE\n"
        "assert ops.resolve_backend('auto', cuda) == 'torch'\n"
        "info()\n"
    )
    child = run_python(code)
    assert child.returncode == 0, child.stderr
    reason = re.search(r"reason: (.*)", child.stdout)[1]
    assert "CUDA 13.0" in reason and "CUDA 12.4" in reason
    assert ("CUDA module: built with CUDA 13.0 for sm_80 sm_90 compute_90, needs a driver for CUDA "
            "13.0 or newer (R580+); this machine's driver: CUDA 12.4, insufficient") in child.stdout


def test_a_sufficient_driver_leaves_the_backend_available():
    code = FAKE_MODULE.format(runtime=12040, driver=12080) + (
        "assert native.CUDA_UNAVAILABLE is None, native.CUDA_UNAVAILABLE\n"
        "assert ops.resolve_backend('auto', torch.device('cuda')) == 'cuda'\n"
        "info()\n"
    )
    child = run_python(code)
    assert child.returncode == 0, child.stderr
    assert "this machine's driver: CUDA 12.8, suffices" in child.stdout


@pytest.mark.skipif(native._cuda is None, reason=f"{native.CUDA_UNAVAILABLE}")
def test_the_built_module_reports_what_it_was_built_for():
    report = cuda_driver.report(native._cuda)
    assert report.runtime >= 11000 and report.driver >= 0
    assert report.archs and all(re.fullmatch(r"(sm|compute)_\d+[a-z]?", a) for a in report.archs)
    assert native.CUDA_UNAVAILABLE == report.problem
