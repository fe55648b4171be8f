"""The API reference (docs/, Sphinx): every public name has an autodoc entry, every page is
in the index, every entry names a real object, and CI builds it with warnings as errors.

These are cheap checks of the sources; the build itself runs in CI (.ci/run), after the
``docs`` extra is installed."""
import importlib
import re
from pathlib import Path

import pytest

import tubelets

from conftest import TORCHVISION_VENV
from helpers import build_script

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
AUTODOC = re.compile(r"^\.\. auto(module|class|function|data|method|attribute|exception)::\s*(\S+)", re.M)


def directives() -> list[tuple[str, str, str]]:
    """``(page, kind, target)`` of every autodoc directive."""
    return [(page.name, kind, target) for page in PAGES for kind, target in AUTODOC.findall(page.read_text())]


def resolve(target: str) -> object:
    """The object ``target`` (``package.module.name.attribute``) names, importing what it must."""
    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise ImportError(target)


def test_there_are_pages():
    assert {"index.rst", "overlay.rst", "config.rst", "sampling.rst", "compositing.rst"} <= {p.name for p in PAGES}


@pytest.mark.parametrize("name", tubelets.__all__)
def test_every_public_name_has_an_autodoc_entry(name):
    targets = [target for _, kind, target in directives() if kind != "module"]
    assert any(target.startswith("tubelets.") and target.split(".")[-1] == name for target in targets), (
        f"tubelets.{name} is public (tubelets.__all__) but no docs/*.rst page has an "
        f".. auto*:: directive for it")


def test_every_page_is_in_the_index_toctree():
    index = (DOCS / "index.rst").read_text()
    toctree = re.search(r"^\.\. toctree::\n((?:[ \t]+.*\n|\n)*)", index, re.M)
    assert toctree, "docs/index.rst has no toctree"
    entries = [line.strip() for line in toctree[1].splitlines() if line.strip() and not line.strip().startswith(":")]
    pages = {page.stem for page in PAGES if page.name != "index.rst"}
    assert set(entries) == pages, f"in the toctree but no page: {set(entries) - pages}; " \
                                  f"a page not in the toctree: {pages - set(entries)}"


@pytest.mark.parametrize("page, kind, target", directives())
def test_every_autodoc_entry_names_a_real_object(page, kind, target):
    if target.startswith("tubelets.integrations.torchvision"):  # the docs build reads it with a stand-in
        pytest.importorskip("torchvision", reason=TORCHVISION_VENV)
    found = resolve(target)
    if kind == "module":
        assert type(found).__name__ == "module", f"{page}: {target} is not a module"


def test_ci_builds_the_docs_with_warnings_as_errors():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^python -m sphinx -W --keep-going -b html docs ", ci, re.M), \
        ".ci/run does not build docs/ with Sphinx, warnings as errors"
    extras = re.findall(r"""^pip install -q "\.\[([\w,]+)\]"$""", ci, re.M)
    assert any("docs" in found.split(",") for found in extras), ".ci/run does not install the docs extra"
    assert any(requirement.startswith("sphinx") for requirement in build_script().EXTRAS["docs"])
