"""restore_loss: what a restore sets aside per table, and the psql script that finds those rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.restore_loss import restore_loss

CASES = yaml.safe_load((Path(__file__).parent / "tables" / "restore_loss.yml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_restore_loss(case):
    got = restore_loss(case["live"], case.get("backup"), fallback=case.get("fallback"), database="lt",
                       kept=case.get("kept", "lt_pre_restore_1"), kept_database=case.get("kept_database", "lt_pre_restore_1"))
    assert got["known"] is case.get("known", True)
    for key in ("lines", "set_aside", "set_aside_tables", "recover"):
        if key in case:
            assert got[key] == case[key], key


def test_every_table_is_listed_with_its_numbers():
    got = restore_loss({"public.a": {"rows": 5, "pk": ["id"]}}, {"public.a": {"rows": 3, "pk": ["id"]}},
                       database="lt", kept="k", kept_database="k")
    assert got["tables"] == [{"table": "public.a", "live": 5, "backup": 3, "exact": True, "delta": 2, "set_aside": 2,
                              "pk": ["id"], "line": "public.a: live 5, backup 3: 2 rows written since the backup stay in k",
                              "recover": got["recover"]}]


@pytest.mark.parametrize("args,kwargs", [
    (({}, {}), {"database": "", "kept": "k"}),
    (({}, {}), {"database": "lt", "kept": ""}),
    (([], {}), {"database": "lt", "kept": "k"}),
    (({}, "x"), {"database": "lt", "kept": "k"}),
])
def test_bad_input_is_refused(args, kwargs):
    with pytest.raises(AnsibleFilterError):
        restore_loss(*args, **kwargs)
