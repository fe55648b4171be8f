"""``tubelets selftest`` on the CPU: it passes here, and it fails when a backend is wrong."""
from __future__ import annotations

import json

import pytest
import torch

from tubelets import __main__, native, ops, selftest


def run_selftest(tmp_path) -> tuple[int, dict]:
    path = tmp_path / "report.json"
    status = selftest.main(["--device", "cpu", "--quick", "--json", str(path)])
    return status, json.loads(path.read_text())


def test_quick_cpu_selftest_passes_and_writes_its_report(tmp_path):
    status, report = run_selftest(tmp_path)
    assert status == 0 and report["passed"] and report["quick"]
    assert report["device"] == "cpu" and report["torch"] == torch.__version__ and report["benchmark"] is None
    checks = {check["name"]: check for check in report["checks"]}
    assert not [c for c in checks.values() if c["status"] == "fail"]
    painting = [b for b in ops.BACKENDS if b != "torch" and ops.unavailable(b, torch.device("cpu")) is None]
    assert painting, "no backend but the reference paints CPU tensors here"
    for backend in painting:
        for family in ("dtypes × layouts", "awkward shapes", "tubelet configs", "NaN sources and canvases",
                       "torch.compile(overlay)"):
            assert checks[f"{backend}: {family}"]["status"] == "pass", checks[f"{backend}: {family}"]
    for backend in set(ops.BACKENDS) - set(painting) - {"torch"}:
        assert checks[f"{backend}: available"]["status"] == "skip"
    assert checks["CUDA module: driver check"]["status"] == ("skip" if native._cuda is None else "pass")
    if native._C is not None:
        kernels = checks["cpu: other span kernels"]
        assert kernels["status"] == "pass", kernels
        assert kernels["detail"].startswith(", ".join(k for k in native._C.simds() if k != native._C.simd()))


@pytest.fixture
def off_by_one_cpu_backend(monkeypatch):
    """The C++ backend, but the first pixel of every output it paints comes back one higher."""
    if native._C is None:
        pytest.skip(native.CPU_UNAVAILABLE)
    paint = native.paint_cpu_

    def off_by_one(outs, *args):
        paint(outs, *args)
        for out in outs:
            out[(0,) * out.dim()] += 1

    monkeypatch.setattr(native, "paint_cpu_", off_by_one)
    ops._implementation.cache_clear()  # the op looks the backend's function up once
    yield
    monkeypatch.undo()
    ops._implementation.cache_clear()


def test_selftest_fails_when_a_backend_is_off(tmp_path, off_by_one_cpu_backend):
    status, report = run_selftest(tmp_path)
    assert status == 1 and not report["passed"]
    failed = {check["name"]: check["detail"] for check in report["checks"] if check["status"] == "fail"}
    assert "cpu: dtypes × layouts" in failed and "values differ" in failed["cpu: dtypes × layouts"]
    assert "cpu: other span kernels" in failed and "values differ" in failed["cpu: other span kernels"]


@pytest.mark.parametrize("actual, expected, same", [
    ([0x7FC0], [0xFFFF], True),  # NaNs of other payloads: torch's own casts disagree on them
    ([0x8000], [0x7FC0], False),  # -0.0 where the reference has NaN
    ([0x7FC0], [0x0000], False),  # NaN where the reference has a number
    ([0x8000], [0x0000], False),  # -0.0 for +0.0
    ([0x3F80, 0x7F80], [0x3F80, 0x7F80], True),
])
def test_bits_are_compared_with_any_nan_matching_a_nan(actual, expected, same):
    as_bfloat16 = [torch.tensor(v, dtype=torch.int32).to(torch.int16).view(torch.bfloat16) for v in (actual, expected)]
    assert (selftest.mismatch(*as_bfloat16) is None) == same


def test_uint8_values_are_compared_exactly():
    assert selftest.mismatch(torch.tensor([3], dtype=torch.uint8), torch.tensor([3], dtype=torch.uint8)) is None
    assert "1 of 2 values differ" in selftest.mismatch(torch.tensor([3, 4], dtype=torch.uint8),
                                                       torch.tensor([3, 5], dtype=torch.uint8))


def test_selftest_is_a_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        __main__.main(["selftest", "--help"])
    assert exit_.value.code == 0 and "--quick" in capsys.readouterr().out
