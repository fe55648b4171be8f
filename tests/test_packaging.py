"""What a user installs: the wheel's metadata and files, and the README's quick start."""
from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import build_script

ROOT = Path(__file__).resolve().parent.parent
# Left out of the copy the wheel is built from: environments, earlier builds, caches and
# compiled modules (the build makes its own).
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                     ".hypothesis", ".pytest_cache", "out", "*.so")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel ``pip wheel`` builds from a copy of this checkout (C++ backend, no CUDA),
    as a user's ``pip install .`` would; built once for the module (~20 s)."""
    pytest.importorskip("pybind11", reason="setup.py needs its build requirements")
    base = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, base / "src", ignore=NOT_SOURCES)
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
               "--quiet", "-w", str(base / "dist")]
    environment = {**os.environ, "TUBELETS_BUILD_CUDA": "0"}
    result = subprocess.run(command, cwd=base / "src", env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = (base / "dist").glob("tubelets-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.split("/")[0].endswith(".dist-info") and n.endswith("/" + name)]
    return wheel.read(path).decode()


def test_wheel_metadata_names_the_license_the_readme_and_the_paper(wheel):
    metadata = email.message_from_string(dist_info(wheel, "METADATA"))
    # setuptools >= 77 writes PEP 639's expression; older ones the field and the classifier.
    assert metadata["License-Expression"] == "Apache-2.0" or (
        metadata["License"] == "Apache-2.0"
        and "License :: OSI Approved :: Apache Software License" in metadata.get_all("Classifier"))
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().lstrip().startswith("# tubelets")
    assert "Paper, https://arxiv.org/abs/2303.11003" in metadata.get_all("Project-URL")
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    assert {"demo", "test"} <= set(metadata.get_all("Provides-Extra"))


def test_wheel_holds_the_license_and_py_typed(wheel):
    assert dist_info(wheel, "LICENSE") == (ROOT / "LICENSE").read_text()
    assert "tubelets/py.typed" in wheel.namelist()
    assert any(n.startswith("tubelets/_C.") and n.endswith(".so") for n in wheel.namelist())


def test_license_is_apache_2_with_the_projects_copyright():
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "   Copyright 2026 The tubelets authors\n" in text and "[yyyy]" not in text


@pytest.mark.parametrize("version, expression", [("66.1.0", False), ("76.1.0", False), ("77.0.3", True),
                                                 ("84.2.1", True)])
def test_license_arguments_suit_the_setuptools_building(version, expression):
    """The classifier only where setuptools cannot write License-Expression: from 77 on it
    deprecates license classifiers."""
    pytest.importorskip("pybind11", reason="setup.py needs its build requirements")
    arguments = build_script().license_metadata(version)
    classifier = "License :: OSI Approved :: Apache Software License"
    if expression:
        assert arguments["license_expression"] == "Apache-2.0" and "license" not in arguments
        assert classifier not in arguments["classifiers"]
    else:
        assert arguments["license"] == "Apache-2.0" and "license_expression" not in arguments
        assert classifier in arguments["classifiers"]


def _public_functions():
    """Every function and method of ``tubelets.__all__`` that is the package's own."""
    import inspect

    import tubelets

    for name in tubelets.__all__:
        exported = getattr(tubelets, name)
        if inspect.isfunction(exported):
            yield name, exported
        elif inspect.isclass(exported):
            for attribute, member in vars(exported).items():
                member = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                member = member.fget if isinstance(member, property) else member
                if inspect.isfunction(member) and (attribute in ("__init__", "__call__", "forward")
                                                   or not attribute.startswith("_")):
                    yield f"{name}.{attribute}", member


def test_public_api_is_annotated():
    """What py.typed promises: every parameter and return of the exports is annotated."""
    import inspect

    missing = []
    for name, function in _public_functions():
        signature = inspect.signature(function)
        if signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{name} -> ?")
        missing += [f"{name}({p})" for p in signature.parameters.values()
                    if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    assert not missing


def test_overlay_init_documents_its_arguments():
    """help(TubeletOverlay) shows __init__'s own docstring, not torch's "Initialize
    internal Module state"."""
    from tubelets import TubeletOverlay

    doc = TubeletOverlay.__init__.__doc__
    assert doc and "Initialize internal Module state" not in doc
    for argument in ("config", "data_format", "backend", "inplace", "**fields", "uint8", "degrees", "fractions"):
        assert argument in doc


def test_user_facing_text_cites_nothing_outside_the_repository():
    """Docstrings and docs cite the paper (arXiv:2303.11003), not files that only the
    authors' workspace has (a folder named shared beside the checkout)."""
    outside = "shared" + "/"
    texts = [ROOT / "README.md", ROOT / "setup.py"]
    for folder in ("tubelets", "kernels", "benchmarks", "examples", "tests", "csrc"):
        texts += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".h", ".cpp", ".cu")]
    assert not [str(p.relative_to(ROOT)) for p in texts if outside in p.read_text(encoding="utf-8")]
    assert "arXiv:2303.11003" in (ROOT / "tubelets" / "config.py").read_text(encoding="utf-8")


def _quick_start() -> list[str]:
    """README.md's "Quick start" section, as lines."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return section.splitlines()


def test_quick_start_is_two_commands_under_their_headings():
    """One command sets everything up and runs the demo, one runs the tests."""
    lines = _quick_start()
    commands = [(i, line.strip()) for i, line in enumerate(lines) if line.startswith("    ") and line.strip()]
    assert "```" not in "\n".join(lines) and len(commands) == 2, commands
    (demo_at, demo), (tests_at, tests) = commands
    heading = lambda at: next(line for line in reversed(lines[:at]) if line.strip())  # noqa: E731
    assert heading(demo_at).startswith("Set up and run the demo") and heading(demo_at).endswith(":")
    assert heading(tests_at) == "Run the tests:"
    steps = demo.split(" && ")
    assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert steps[2] == "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert steps[3].startswith("pip install \".[") and "demo" in steps[3] and "test" in steps[3]
    assert steps[4:] == ["tubelets demo"]
    assert tests.startswith((".venv/bin/python -m pytest ", "python -m pytest ")) and " tests" in tests


def test_ci_runs_the_readmes_test_command():
    """.ci/run's extraction of the test command, run on this README, gives the README's
    command itself, whole."""
    script = (ROOT / ".ci" / "run").read_text()
    (extraction,) = [line for line in script.splitlines() if line.startswith("test_command=")]
    result = subprocess.run(["bash", "-c", f'{extraction}\nprintf %s "$test_command"'], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    command = result.stdout
    assert command.startswith((".venv/bin/python -m pytest", "python -m pytest"))
    assert command == [line.strip() for line in _quick_start() if line.startswith("    ")][-1]
    assert 'bash -c "$test_command"' in script or "\n$test_command\n" in script
