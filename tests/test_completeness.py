"""The docs' completeness table says the truth on this interpreter and core.

The probe (tests/probes/completeness) reads a global in every place Python
can; tools/completeness.py runs it under ``globalhook run`` and classifies
each place.  The column of docs/explanation/limits.md for this Python and the
running core must be what the probe sees here, and its list of what cannot be observed must be
exactly the places its tables mark ``no`` or ``static``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from globalhook import tracking

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "completeness.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("globalhook_completeness_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture(scope="module")
def page_results(tool):
    return tool.parse_table((ROOT / tool.PAGE).read_text(encoding="utf-8"))


def test_page_column_matches_the_probe(tool, page_results):
    label = tool.version_label(sys.executable)
    column = page_results.get((label, tracking.CORE))
    if column is None:
        pytest.skip(f"the completeness table has no column for Python {label} ({tracking.CORE} core)")
    seen = tool.run_probe(sys.executable, tracking.CORE)
    differences = {key: (column.get(key), status) for key, status in seen.items() if column.get(key) != status}
    assert not differences, f"the page says / probe sees, for Python {label} ({tracking.CORE} core): {differences}"


def test_page_list_is_the_table(tool, page_results):
    page = (ROOT / tool.PAGE).read_text(encoding="utf-8")
    stated = tool._between(page, tool.LIST_START, tool.LIST_END).strip()
    assert stated == tool.render_list(page_results).strip()


def test_every_place_has_a_row_and_a_reason(tool, page_results):
    for column in page_results.values():
        assert set(column) == {place.key for place in tool.PLACES}
        assert set(column.values()) <= set(tool.STATUSES)
    for place in tool.PLACES:
        if any(column[place.key] == "no" for column in page_results.values()):
            assert place.why, f"{place.key} is not observable somewhere but has no reason"


def test_classify_reads_static_and_counted_entries(tool):
    lookups = [
        {"module": "ghc_probe", "function": "inc", "name": "P_COUNTER", "kind": "store", "count": 0, "static": True},
        {"module": "ghc_probe", "function": "drop", "name": "P_DELETED", "kind": "delete", "count": 2},
        {"module": "elsewhere", "function": "f", "name": "P_FUNCTION", "kind": "global", "count": 1},
    ]
    status = tool.classify(lookups, (3, 11))
    assert status["global-write"] == "static"
    assert status["global-delete"] == "yes"
    assert status["function"] == "no"  # another module's global of that name is not the probe's
    assert status["type-param"] == "n/a"
