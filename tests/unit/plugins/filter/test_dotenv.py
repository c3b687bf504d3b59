"""dotenv: the app's .env as Compose reads it (no interpolation)."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.dotenv import dotenv


@pytest.mark.parametrize("text,expected", [
    ("A=1\nB=two", {"A": "1", "B": "two"}),
    ("# comment\n\n  \nA=1", {"A": "1"}),
    ("export TOKEN=abc", {"TOKEN": "abc"}),
    ("P='s3cr=t'\nQ=\"x y\"", {"P": "s3cr=t", "Q": "x y"}),
    ("URL=postgresql://u:p@h:5432/db?x=1", {"URL": "postgresql://u:p@h:5432/db?x=1"}),
    ("EMPTY=\nSPACED = v ", {"EMPTY": "", "SPACED": "v"}),
    ("not a line\n=x\nOK=1", {"OK": "1"}),
    ("A=1 # note\nB='x # kept'", {"A": "1", "B": "x # kept"}),
    ('D="line\\nnext"', {"D": "line\nnext"}),
    ("MIS='matched\"", {"MIS": "'matched\""}),
    ("P=\"s3cret # pw\" # rotated\nQ='x' #c", {"P": "s3cret # pw", "Q": "x"}),
    ("", {}),
    (None, {}),
], ids=["plain", "comments", "export", "quotes", "url", "empty-and-spaces", "garbage", "inline-comment", "escapes",
        "mismatched-quotes", "quoted-then-comment", "empty", "none"])
def test_dotenv(text, expected):
    assert dotenv(text) == expected
