"""globalhook's own TOML reader reads whatever it accepts exactly as tomllib does.

``globalhook.toml`` exists so that reading config imports nothing the program
might want to track (tomllib imports typing, datetime, re, string).  It never
decides alone that a document is invalid: callers ask tomllib about anything it
refuses.  So the differential property is one-sided: every document it
accepts must give tomllib's result, and every document tomllib refuses it must
refuse too.  Checked on hand-written cases, on CPython's own tomllib test
documents when the interpreter ships them, and on seeded random documents
(``GLOBALHOOK_TOML_FUZZ`` sets how many, ``GLOBALHOOK_TOML_FUZZ_SEED`` the seed).
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections import Counter
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
    "[a]\nb.c = 1\n[a.b.d]\n",  # a header may add to a table that dotted keys made
    "a.x = 1\n[a.b]\n",
    's = """x\r\ny"""\n',
    "a = [9223372036854775807, -9223372036854775808]\n",
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
    "[a.b]\n[a]\nb.c = 1\n",
    "a = [{}]\n[a.b]\n",
    "[a.b]\n[[a]]\n",
]

UNSUPPORTED = [
    "d = 1979-05-27\n",
    "d = 1979-05-27T07:32:00Z\n",
    "t = 07:32:00\n",
    "a = [1979-05-27]\n",
    "d = 1979-13-45\n",  # invalid, but left to tomllib all the same
    "a = 9223372036854775808\n",  # beyond 64 bits: tomllib reads it, TOML says it may not
    "a = 0xffffffffffffffff\n",
    "[a.b.c]\n[a]\nb.x = 1\n",  # a dotted key into a table that a header only named
    "[[a.b]]\n[a]\nb.c = 1\n",  # a dotted key into an array of tables
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
def test_dates_times_and_doubtful_cases_are_left_to_tomllib(text):
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


# -- random documents ---------------------------------------------------------

FUZZ_CASES = int(os.environ.get("GLOBALHOOK_TOML_FUZZ", "4000"))
FUZZ_SEED = int(os.environ.get("GLOBALHOOK_TOML_FUZZ_SEED", "1"))

# Few key names, so that keys and tables collide and redefinition rules are exercised.
KEY_PARTS = ["a", "a", "b", "b", "c", "1", "a-b", "_", '"a"', "'b'", '""', '"\\u0061"', '"a.b"', "'c d'", "true", "inf"]
INTS = ["0", "+0", "-0", "7", "-17", "+42", "1_000", "0xdead_BEEF", "0o755", "0b1010", "0x0",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1_2_3"]
FLOATS = ["1.0", "-0.5", "1e3", "1E-3", "6.626e-34", "1_000.000_1", "+1.5e+2", "0e0", "1e06", "-0.0",
          "3.141_59", "1e400", "inf", "-inf", "+inf", "nan", "-nan", "+nan"]
DATES = ["1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", "1979-05-27 07:32:00.5", "1979-05-27T00:32:00-07:00"]
NUMBER_BITS = ["0", "1", "9", "_", ".", "e", "E", "+", "-", "x", "o", "b", "a", "f", "i", "n"]
BASIC_BITS = ["x", "y", " ", "\t", "é", "✓", "#", "'", "\\n", "\\t", "\\\"", "\\\\", "\\u00e9", "\\U0001F600",
              "\\b", "\\f", "\\r", "\\u0000", "\x85", "\\e", "\\x41", "\\uD800", "\\U00110000"]
MULTILINE_BITS = ["\n", "\n", '"', '""', "\\\n", "\\  \n  ", "\\\t\n\n  \t", "\r\n"]
LITERAL_BITS = ["x", " ", "\t", "\\", "\\n", '"', "é", "#"]
NASTY = list("\"'[]{}=.,#\\\n\r\t _+-0159aexbonift:") + [
    "\x00", "\x01", "\x7f", "\x85", "\u3000", "\ufeff", '"""', "'''", "\r\n"
]


def random_key(rng: random.Random, parts: "list[str]" = KEY_PARTS) -> str:
    sep = rng.choice([".", ".", ".", " . ", ".\t"])
    return sep.join(rng.choice(parts) for _ in range(rng.choice([1, 1, 1, 2, 2, 3])))


def random_string(rng: random.Random) -> str:
    kind = rng.randrange(4)
    size = rng.randrange(6)
    if kind == 0:
        return '"' + "".join(rng.choice(BASIC_BITS) for _ in range(size)) + '"'
    if kind == 1:
        return "'" + "".join(rng.choice(LITERAL_BITS) for _ in range(size)) + "'"
    bits = (BASIC_BITS if kind == 2 else LITERAL_BITS + ["'", "''"]) + MULTILINE_BITS
    body = "".join(rng.choice(bits) for _ in range(size))
    quotes = '"""' if kind == 2 else "'''"
    return quotes + rng.choice(["", "\n"]) + body + rng.choice(["", quotes[0], quotes[:2]]) + quotes


def random_value(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if roll < 0.25:
        return random_string(rng)
    if roll < 0.4:
        return rng.choice(INTS)
    if roll < 0.5:
        return rng.choice(FLOATS)
    if roll < 0.55:
        return "".join(rng.choice(NUMBER_BITS) for _ in range(rng.randrange(1, 7)))
    if roll < 0.6:
        return rng.choice(["true", "false"])
    if roll < 0.63:
        return rng.choice(DATES)
    if roll < 0.82 and depth < 3:
        gaps = [" ", "", "\n", " # c\n", "\n  ", "\t"]
        items = [rng.choice(gaps) + random_value(rng, depth + 1) + rng.choice(gaps) for _ in range(rng.randrange(4))]
        return "[" + ",".join(items) + rng.choice(["", "", ",", ", # c\n"]) + rng.choice(gaps) + "]"
    if depth < 3:
        pairs = [f"{random_key(rng)} = {random_value(rng, depth + 1)}" for _ in range(rng.randrange(4))]
        return "{" + rng.choice(["", " "]) + rng.choice([", ", ","]).join(pairs) + rng.choice(["", " "]) + "}"
    return rng.choice(INTS)


def random_line(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        line = random_key(rng) + rng.choice([" = ", "=", " =\t"]) + random_value(rng)
    elif roll < 0.7:
        line = f"[{rng.choice(['', ' '])}{random_key(rng)}{rng.choice(['', ' '])}]"
    elif roll < 0.85:
        line = f"[[{random_key(rng)}]]"
    elif roll < 0.93:
        line = "# comment " + rng.choice(["", "é", "\t", "\x85", "# #"])
    else:
        line = ""
    indent = rng.choice(["", "", "", "  ", "\t"])
    trailer = rng.choice(["", "", "", "  ", " # trailing", "\t# ]"])
    return indent + line + trailer


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(text) + 1)
        roll = rng.random()
        if roll < 0.4:
            text = text[:at] + rng.choice(NASTY) + text[at:]
        elif roll < 0.7:
            text = text[:at] + text[at + 1 :]
        elif roll < 0.85:
            text = text[:at] + rng.choice(NASTY) + text[at + 1 :]
        else:
            lines = text.split("\n")
            line = rng.choice(lines)
            lines.insert(rng.randrange(len(lines) + 1), line)
            text = "\n".join(lines)
    return text


def table_line(rng: random.Random) -> str:
    """Headers and dotted keys over three names: tables defined, reopened and redefined every way."""
    parts = ["a", "b", "c"]
    roll = rng.random()
    if roll < 0.3:
        return f"[{random_key(rng, parts)}]"
    if roll < 0.5:
        return f"[[{random_key(rng, parts)}]]"
    value = rng.choice(["1", "{}", "{ c = 1 }", "{ a.b = 1, a.c = 2 }", "[]", "[{}]", "[[]]", "{ a = {} }"])
    return f"{random_key(rng, parts)} = {value}"


def random_document(rng: random.Random) -> str:
    newline = "\r\n" if rng.random() < 0.1 else "\n"
    line = table_line if rng.random() < 0.3 else random_line
    text = newline.join(line(rng) for _ in range(rng.randrange(1, 8)))
    text += rng.choice([newline, newline, ""])
    return mutate(rng, text) if rng.random() < 0.5 else text


def test_random_documents_read_as_tomllib_reads_them():
    rng = random.Random(FUZZ_SEED)
    outcomes: Counter = Counter()
    for _ in range(FUZZ_CASES):
        outcomes[check_against_reference(random_document(rng))] += 1
    # The generator must keep producing documents of every outcome, or it checks nothing.
    for outcome in ("accepted", "refused", "unsupported"):
        assert outcomes[outcome] >= FUZZ_CASES // 50, outcomes
