"""Sphinx configuration: the API reference, built from the docstrings of the installed package.

Build (CI does, with warnings as errors): ``python -m sphinx -W --keep-going -b html docs OUT``
after ``pip install ".[docs]"``.
"""
import os
import sys
from pathlib import Path

# As in tests/conftest.py: document the installed package, not the source tree that
# `python -m sphinx` run from the repository root would put first on sys.path.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != ROOT]

import tubelets  # noqa: E402

project = "tubelets"
author = "the tubelets authors"
copyright = "the tubelets authors, Apache-2.0"
release = tubelets.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
# torchvision's wheels pair with CUDA builds of torch only, so the docs venv (torch's CPU
# build) cannot import it: autodoc reads tubelets.integrations.torchvision against a
# stand-in for it. Its tests run against the real library (.ci/integrations).
autodoc_mock_imports = ["torchvision"]
exclude_patterns = ["_build"]

# The docstrings are Google style (Args:, Returns:, Raises:) with reST inline markup.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autoclass_content = "both"  # TubeletOverlay documents its arguments in __init__
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": False}
default_role = "code"  # `name` in a docstring is code, as in the module docstrings

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"tubelets {release}"
toc_object_entries = False  # the toctree lists pages and sections, not every function
