"""globalhook's own TOML reader reads whatever it accepts exactly as tomllib does.

``globalhook.toml`` exists so that reading config imports nothing the program
might want to track (tomllib imports typing, datetime, re, string).  It never
decides alone that a document is invalid: callers ask tomllib about anything it
refuses.  So the differential property is one-sided: every document it
accepts must give tomllib's result, and every document tomllib refuses it must
refuse too.  Checked on hand-written cases and, when the interpreter ships
them, on CPython's own tomllib test documents.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from globalhook import toml

if sys.version_info >= (3, 11):
    import tomllib as reference
else:
    import tomli as reference


VALID = [
    "",
    "# only a comment\n",
    'a = 1\nb = "two"\nc = true\nd = false\n',
    "a = 1\r\nb = 2\r\n",
    '[tool.globalhook]\ninclude = ["pkg", "tests.helpers"]\nenabled = true  # comment\n',
    '[tool]\nglobalhook.include = ["x"]\n',
    'tool.globalhook.enabled = true\n',
    'tool = {globalhook = {enabled = false}}\n',
    '"quoted key" = 1\n\'literal key\' = 2\n"a.b".c = 3\n',
    'a . b . c = 1\n',
    '[ a . "b" ]\nx = 1\n',
    's = "tab\\tnew\\nline \\u00e9 \\U0001F600 \\"q\\" \\\\"\n',
    "s = 'C:\\path\\no escapes'\n",
    's = """\nfirst\nsecond"""\n',
    's = """line \\\n    continued"""\n',
    's = """trailing \\   \n\n   x"""\n',
    's = """""quotes"""""\n',
    "s = '''\nraw \\n '''\n",
    "s = ''''two'''''\n",
    "ints = [0, +1, -1, 1_000]\n",
    "ints = [0xdead_beef, 0o755, 0b1010, -0, +0]\n",
    "floats = [1.0, -0.5, 1e3, 1E-3, 6.626e-34, 1_000.000_1, +1.5e+2]\n",
    "special = [inf, -inf, +inf, nan, -nan, +nan]\n",
    "a = []\nb = [ ]\nc = [\n  1,\n  2, # comment\n]\nd = [[1, 2], ['a', \"b\"]]\n",
    "t = {}\nu = { a = 1, b.c = 2 }\n",
    "[[arr]]\nx = 1\n[[arr]]\nx = 2\n[arr.sub]\ny = 3\n",
    "[a.b]\n[a]\nx = 1\n",
    "[a]\n[a.b]\n[a.c]\n",
    "x = 1 # trailing\n\n\n   y = 2\t\n",
    "[[fruits]]\nname = \"apple\"\n[[fruits.varieties]]\nname = \"red\"\n[[fruits]]\nname = \"banana\"\n",
    "key = \"value\"\nbare_key = 1\nbare-key = 2\n1234 = 3\n",
    "a = 'é ünïcode ✓'\n",
]

INVALID = [
    "a = \n",
    "a = 1 b = 2\n",
    "a = 1\na = 2\n",
    "[a]\n[a]\n",
    "[a]\nb = 1\n[a.b]\n",
    "a = {b = 1}\n[a]\n",
    "a = {b = 1}\na.c = 2\n",
    "a = [1,,2]\n",
    "a = [1 2]\n",
    "a = {b = 1,}\n",
    "a = {b = 1\n}\n",
    "a = \"unterminated\n",
    "a = 'unterminated\n",
    "a = \"\"\"unterminated\n",
    "a = \"bad \\q escape\"\n",
    "a = \"\\uD800\"\n",
    "a = \"\\u12\"\n",
    "a = 01\n",
    "a = 1__0\n",
    "a = _1\n",
    "a = 1_\n",
    "a = 0x\n",
    "a = 1.\n",
    "a = .5\n",
    "a = 1e\n",
    "a = tru\n",
    "a = True\n",
    "a = +\n",
    "= 1\n",
    "a.=1\n",
    "[a\n",
    "[[a]\n",
    "a = 1 # bad \x01 comment\n",
    "a = \"ctrl \x01 char\"\n",
    "[a]\nb = 1\n[a]\nc = 2\n",
    "[[a]]\n[a]\n",
    "a = [1]\n[[a]]\n",
    "a.b = 1\n[a.b]\n",
    "a.b.c = 1\n[a]\nb.d = 2\n",
    "a = {}\n[a.b]\n",
    "x = 1\n[x]\n",
    "!bad = 1\n",
    "a = \"\"\"x \\ y\"\"\"\n",
]

UNSUPPORTED = [
    "d = 1979-05-27\n",
    "d = 1979-05-27T07:32:00Z\n",
    "t = 07:32:00\n",
    "a = [1979-05-27]\n",
    "d = 1979-13-45\n",  # invalid, but left to tomllib all the same
]


def same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN and the types of numbers compared too."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    return a == b


def check_against_reference(text: str) -> str:
    """'accepted', 'refused' or 'unsupported'; fails when the two readers disagree."""
    try:
        expected = reference.loads(text)
    except reference.TOMLDecodeError:
        expected = None
    try:
        got = toml.loads(text)
    except toml.Unsupported:
        return "unsupported"
    except toml.TOMLError:
        return "refused"
    assert expected is not None, f"accepted a document tomllib refuses: {text!r}"
    assert same(got, expected), f"{text!r}: {got!r} != {expected!r}"
    return "accepted"


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_read_as_tomllib_reads_them(text):
    assert check_against_reference(text) == "accepted"


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_are_refused(text):
    # Invalid TOML 1.0 (tomli 2.3+ reads TOML 1.1, which allows a few of
    # these; refusing them is safe: tomllib/tomli then reads the document).
    assert check_against_reference(text) == "refused"


@pytest.mark.parametrize("text", UNSUPPORTED)
def test_dates_and_times_are_left_to_tomllib(text):
    assert check_against_reference(text) == "unsupported"


def test_error_names_the_position():
    with pytest.raises(toml.TOMLError, match=r"line 2, column 5"):
        toml.loads("a = 1\nb = ?\n")


def _cpython_tomllib_cases():
    """CPython's own test documents for tomllib, when this interpreter ships them."""
    try:
        import test.test_tomllib as suite  # noqa: F401
    except ImportError:
        return []
    folder = Path(suite.__file__).parent / "data"
    return sorted(folder.rglob("*.toml")) if folder.is_dir() else []


@pytest.mark.skipif(not _cpython_tomllib_cases(), reason="CPython's tomllib test data is not installed")
def test_cpython_tomllib_documents():
    outcomes = {"accepted": 0, "refused": 0, "unsupported": 0}
    for path in _cpython_tomllib_cases():
        try:
            text = path.read_bytes().decode()
        except UnicodeDecodeError:
            continue
        outcomes[check_against_reference(text)] += 1
    assert outcomes["accepted"] >= 5 and outcomes["refused"] >= 5
