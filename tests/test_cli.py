"""The ``tubelets`` command: help, version, usage errors, and clear messages where the
demo's or the benchmarks' files are not installed."""
import pytest

import tubelets
from tubelets import __main__, demo
from helpers import build_script, run_python

MAIN = "import sys; from tubelets.__main__ import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_goes_to_stdout_and_exits_0(flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        __main__.main([flag])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0 and err == ""
    assert out.startswith("usage: tubelets")
    for command in ("demo", "info", "selftest", "bench", "--version"):
        assert command in out


def test_version_is_printed_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_:
        __main__.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"tubelets {tubelets.__version__}"


def test_info_help_is_help_not_info(capsys):
    with pytest.raises(SystemExit) as exit_:
        __main__.main(["info", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith("usage: tubelets info")
    assert "available" not in out  # info itself lists the backends


def test_demo_help_is_the_demos(capsys):
    with pytest.raises(SystemExit) as exit_:
        __main__.main(["demo", "--help"])
    assert exit_.value.code == 0 and "--batch" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["--nonsense"], ["info", "extra"]])
def test_usage_errors_go_to_stderr_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        __main__.main(argv)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == "" and err.startswith("usage: tubelets")


def test_the_console_command_exits_with_mains_status():
    child = run_python(MAIN, "--version")
    assert child.returncode == 0 and child.stdout.strip() == f"tubelets {tubelets.__version__}"
    child = run_python(MAIN, "nonsense")
    assert child.returncode == 2 and "invalid choice: 'nonsense'" in child.stderr and child.stdout == ""


@pytest.mark.parametrize("module", sorted(demo.DEPENDENCIES))
def test_demo_without_a_dependency_names_the_extra(module):
    """Installed from a wheel without the demo extra: one line naming it, status 2, no traceback."""
    child = run_python(f"import sys; sys.modules[{module!r}] = None\n{MAIN}", "demo", "--batch", "1")
    assert child.returncode == 2, child.stderr
    lines = child.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "tubelets[demo]"' in lines[0]
    assert demo.DEPENDENCIES[module] in lines[0].split("missing:")[1]
    assert "Traceback" not in child.stderr


def test_the_demo_extra_lists_what_the_demo_imports():
    assert sorted(build_script().EXTRAS["demo"]) == sorted(demo.DEPENDENCIES.values())
    assert set(build_script().EXTRAS["demo"]) <= set(build_script().EXTRAS["test"])


def test_bench_outside_a_checkout_says_where_to_run_it():
    child = run_python(MAIN, "bench", "--quick")  # from a neutral folder: no benchmarks/run.py
    assert child.returncode == 2 and child.stdout == ""
    assert "benchmarks/run.py" in child.stderr and "repository" in child.stderr
    assert "Traceback" not in child.stderr
