"""Shared test settings: the installed package, and hypothesis without deadlines (first
calls compile/warm up)."""
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `python -m pytest` puts the current folder first on sys.path: in the repository root that
# is the source tree, which would shadow the installed package and lacks its compiled
# modules (and tubelets.kernels, installed from kernels/). The tests import the installed one.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != ROOT]

settings.register_profile(
    "default", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# With TUBELETS_NO_SKIP=1 (set by CI) a skip is a failure, unless it is for want of a GPU or
# of torchvision (whose wheels need their own torch: .ci/integrations builds that venv and
# checks torchvision imports there): a backend that failed to build or a test dependency that
# did not install must not turn whole test files into silent skips.
NO_SKIP = os.environ.get("TUBELETS_NO_SKIP") == "1"
GPU_ONLY = "needs a CUDA device"
TORCHVISION_VENV = "needs torchvision: run in the venv of .ci/integrations"
ALLOWED_SKIPS = (GPU_ONLY, TORCHVISION_VENV)


def _fail_skip(report) -> None:
    allowed = any(reason in str(report.longrepr) for reason in ALLOWED_SKIPS)
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail") and not allowed:
        report.outcome = "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip(outcome.get_result())
