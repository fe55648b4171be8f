"""``tubelets {demo, info, selftest, bench}``, also as ``python -m tubelets``.

Run from a checkout, prefer the ``tubelets`` command: ``python -m`` puts the current folder
first on ``sys.path``, so inside the repository it imports the source tree, which lacks
the compiled backends of the installed package.
"""
from __future__ import annotations

import argparse
import sys

import torch

COMMANDS = {
    "demo": "a positive pair from two real clips: writes pair.png and pair.gif, prints timings",
    "info": "which compositing backends were built, and why not; which sampler runs",
    "selftest": "every backend against the reference here, then timings",
    "bench": "benchmarks against the official transform, an OpenCV pipeline and grid_sample "
             "(from a source checkout)",
}
FORWARDED = ("demo", "selftest", "bench")
"""Commands that parse their own arguments (``tubelets demo --help`` is demo's help)."""


def parser() -> argparse.ArgumentParser:
    """The top-level parser: ``--help``, ``--version`` and the commands (with their help)."""
    from . import __version__

    top = argparse.ArgumentParser(
        prog="tubelets", description="Synthetic motion for video batches: tubelet-contrastive positive pairs.",
        epilog="tubelets COMMAND --help shows a command's options.")
    top.add_argument("--version", action="version", version=f"tubelets {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        # The forwarded commands' own parsers give their help, so none here.
        commands.add_parser(name, help=summary, description=summary, add_help=name not in FORWARDED)
    return top


def info() -> None:
    from . import __version__, cuda_driver, native, ops, sampling

    print(f"tubelets {__version__}, torch {torch.__version__} (CUDA {torch.version.cuda})")
    cuda_module = None if native._cuda is None else cuda_driver.report(native._cuda)
    if cuda_module is not None:
        print(f"CUDA module: {cuda_module}")
    if native._C is not None:
        print(f"C++ module: spans painted by the {native._C.simd()} kernel (this CPU: {', '.join(native._C.simds())})")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        print(f"{device.type} tensors (auto → {ops.resolve_backend('auto', device)}):")
        if device.type == "cuda" and cuda_module is not None:
            capability = torch.cuda.get_device_capability(device)
            image = cuda_driver.kernel_image(cuda_module.archs, capability)
            print(f"  ({torch.cuda.get_device_name(device)}, sm_{capability[0]}{capability[1]}: "
                  f"CUDA module kernel {image or 'none'})")
        for backend in ops.BACKENDS:
            reason = ops.unavailable(backend, device)
            print(f"  {backend:<8}{'available' if reason is None else 'unavailable: ' + reason}")
        print(f"  sampler: auto → {sampling.resolve_sampler('auto', device)} (of {', '.join(sampling.SAMPLERS)})")


def main(argv: list[str]) -> int:
    """Run ``tubelets ARGV``; returns the exit status (``--help``, ``--version`` and usage
    errors exit through ``SystemExit``, as argparse does: 0 and 2)."""
    if argv and argv[0] in FORWARDED:
        command, args = argv[0], argv[1:]
    else:
        command, args = parser().parse_args(argv).command, []
    if command == "demo":
        from .demo import main as demo
        return demo(args)
    if command == "info":
        info()
        return 0
    if command == "selftest":
        from .selftest import main as selftest
        return selftest(args)
    return _bench(args)


def _bench(args: list[str]) -> int:
    """Run ``benchmarks/run.py`` of the checkout this package was installed from or is run in."""
    import runpy
    from pathlib import Path

    script = Path("benchmarks") / "run.py"
    if not script.is_file():
        print("tubelets bench runs benchmarks/run.py, which ships with the source repository, not "
              "the package: run it from the root of a checkout", file=sys.stderr)
        return 2
    sys.argv = [str(script), *args]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def run() -> None:
    """The ``tubelets`` console command."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
