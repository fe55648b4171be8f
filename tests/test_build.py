"""Rules for the native sources and the build script, checked without building."""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETWORK_MODULES = {"urllib", "urllib2", "urllib3", "http", "requests", "socket", "ftplib", "httpx",
                   "git", "pygit2", "dulwich", "setuptools_scm", "pip"}


def test_no_two_native_sources_share_a_stem():
    """foo.cpp beside foo.cu would build two objects named foo.o, one silently replacing
    the other."""
    stems = Counter(path.stem for path in (ROOT / "csrc").iterdir() if path.is_file())
    assert not [stem for stem, count in stems.items() if count > 1]


def test_setup_py_makes_no_network_or_git_calls():
    tree = ast.parse((ROOT / "setup.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & NETWORK_MODULES
    # The project's addresses are metadata for the index page, never fetched.
    metadata = {id(node) for assign in ast.walk(tree) if isinstance(assign, ast.Assign)
                and [ast.unparse(t) for t in assign.targets] == ["PROJECT_URLS"]
                for node in ast.walk(assign.value)}
    strings = [node.value for node in ast.walk(tree) if id(node) not in metadata
               and isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert not [s for s in strings if "://" in s or s == "git" or s.startswith("git ")]
    calls = [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert not [c for c in calls if c.split(".")[-1] in {"urlopen", "urlretrieve", "system"}]


def test_kernels_are_installed_inside_the_package(tmp_path):
    """kernels/ lands as tubelets.kernels, and nothing named ``kernels`` at the top level."""
    pytest.importorskip("pybind11", reason="setup.py needs its build requirements")
    command = [sys.executable, "setup.py", "--quiet", "build_py", "--build-lib", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tubelets"]
    installed = {p.relative_to(tmp_path / "tubelets").as_posix()
                 for p in (tmp_path / "tubelets").rglob("*.py")}
    sources = {p.relative_to(ROOT / "kernels").as_posix() for p in (ROOT / "kernels").rglob("*.py")}
    assert {f"kernels/{name}" for name in sources} <= installed


@pytest.fixture
def build():
    pytest.importorskip("pybind11", reason="setup.py needs its build requirements")
    from helpers import build_script
    return build_script()


TOOLKITS = [("/usr/bin/nvcc", (13, 0)), ("/usr/local/cuda-12.1/bin/nvcc", (12, 1)),
            ("/usr/local/cuda-12.4/bin/nvcc", (12, 4)), ("/usr/local/cuda-11.8/bin/nvcc", (11, 8))]


@pytest.mark.parametrize("torch_cuda, chosen", [
    ("12.4", "/usr/local/cuda-12.4/bin/nvcc"),  # torch's major.minor, wherever it comes
    ("11.8", "/usr/local/cuda-11.8/bin/nvcc"),
    ("12.6", "/usr/local/cuda-12.1/bin/nvcc"),  # none of 12.6: the first of CUDA 12
    ("12.4.1", "/usr/local/cuda-12.4/bin/nvcc"),
    ("10.2", "/usr/bin/nvcc"),  # nothing of its major: the first candidate
    (None, "/usr/bin/nvcc"),  # a CPU torch, or none at build time
])
def test_toolkit_matching_torch_is_chosen(build, torch_cuda, chosen):
    assert build.choose_toolkit(TOOLKITS, torch_cuda) == chosen


def test_toolkit_of_unknown_release_is_only_a_fallback(build):
    candidates = [("/opt/odd/nvcc", None), ("/usr/local/cuda-12.4/bin/nvcc", (12, 4))]
    assert build.choose_toolkit(candidates, "12.4") == "/usr/local/cuda-12.4/bin/nvcc"
    assert build.choose_toolkit(candidates, "13.0") == "/opt/odd/nvcc"
    assert build.choose_toolkit([], "12.4") is None


def test_nvcc_release_is_read_from_its_version_report(build, tmp_path):
    fake = tmp_path / "nvcc"
    fake.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n")
    fake.chmod(0o755)
    assert build.nvcc_release(str(fake)) == (12, 4)
    assert build.nvcc_release(str(tmp_path / "missing")) is None


def test_gencode_has_a_cubin_per_arch_and_ptx_of_the_last(build, monkeypatch):
    monkeypatch.setenv("TUBELETS_CUDA_ARCHS", "8.0;90a")
    assert build.gencode_targets(build.cuda_archs()) == [
        ("compute_80", "sm_80"), ("compute_90a", "sm_90a"), ("compute_90a", "compute_90a")]
