"""Sphinx configuration of globalhook's documentation (``tox -e docs``).

Pages are MyST markdown, so the text that used to be the README moved over
as it was.  Every ``.md`` in tutorials/, howto/, reference/ and explanation/
joins the site through the glob toctrees of index.md: a new page needs no
edit elsewhere.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout's globalhook, for autodoc and the command line

import globalhook  # noqa: E402

project = "globalhook"
author = "the globalhook authors"
copyright = "the globalhook authors"
release = globalhook.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "globalhook_cli",
    "example_files",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

myst_heading_anchors = 3  # links such as (../reference/data-file.md#data-file) keep working
myst_enable_extensions = ["colon_fence", "deflist"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = f"globalhook {release}"
html_static_path = []
