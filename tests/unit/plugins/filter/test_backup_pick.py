"""backup_pick, pg_tools_via, backup_fields: which backup a restore takes, where the tools run,
what a backup's name says."""

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.backup_fields import backup_fields
from ansible_collections.maverick.rollback.plugins.filter.backup_pick import backup_pick
from ansible_collections.maverick.rollback.plugins.filter.pg_tools_via import pg_tools_via

D = "/b"
SHORT = ["20260101T000000Z_aaaaaaaaaaaa", "20260101T000000Z_aaaaaaaaaaaa-1", "20260201T000000Z_bbbbbbbbbbbb",
         "20260202T000000Z_bbbbbbbbbbbb", "20260301T000000Z_cccccccccccc"]
PICK_CASES = yaml.safe_load((Path(__file__).parent / "tables" / "backup_pick.yml").read_text())


def path(short):
    return "%s/lt_lt_%s.dump" % (D, short) if short and not short.startswith("/") else short


@pytest.mark.parametrize("case", PICK_CASES, ids=[c["id"] for c in PICK_CASES])
def test_backup_pick(case):
    files = [{"path": path(s) + ".json", "size": 700} for s in reversed(case.get("files", SHORT))]
    got = backup_pick(files, case["request"], "lt", "lt", case.get("records", []), case.get("resolved", ""))
    assert (got["path"], got["how"], got["prefix"]) == (path(case["path"]), case["how"], case.get("prefix", ""))
    assert got["commit_known"] is case.get("commit_known", True)
    assert got["backup"].get("path", "") == (got["path"] if got["how"] not in ("path", "") else "")
    if not case["request"].startswith("/"):
        assert [c["path"] for c in got["candidates"]] == [path(s) for s in sorted(case.get("files", SHORT), reverse=True)]


def test_backup_pick_candidates_are_limited():
    files = [path(s) for s in SHORT]
    assert [c["path"] for c in backup_pick(files, "latest", "lt", "lt", limit=2)["candidates"]] == [path(SHORT[4]), path(SHORT[3])]


V15 = {"rc": 0, "stdout": "pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"}
TOOLS_CASES = [
    # (id, host tools result, wanted, server_num, expected via, reason, client version)
    ("same major on the host", V15, "auto", 150004, "host", "", "15.18"),
    ("newer client", {"rc": 0, "stdout": "pg_restore (PostgreSQL) 17.2"}, "auto", "150004", "host", "", "17.2"),
    ("older client", V15, "auto", 160001, "compose", "pg_restore 15.18 on the host is older than the server (16)", "15.18"),
    ("devel client", {"rc": 0, "stdout": "pg_restore (PostgreSQL) 18devel"}, "auto", 170000, "host", "", "18devel"),
    ("no tool on the host", {"rc": 2, "stdout": "", "msg": "[Errno 2] No such file or directory"}, "auto", 150004,
     "compose", "no pg_restore on the host", ""),
    ("server version unknown (no database yet)", V15, "auto", None, "compose", "the server's version is unknown", "15.18"),
    ("host asked for", {"skipped": True}, "host", None, "host", "", ""),
    ("compose asked for", V15, " Compose ", 150004, "compose", "", "15.18"),
    ("probe skipped", {"skipped": True, "rc": 0}, "auto", 150004, "compose", "no pg_restore on the host", ""),
]


@pytest.mark.parametrize("result,wanted,server,via,reason,version", [c[1:] for c in TOOLS_CASES], ids=[c[0] for c in TOOLS_CASES])
def test_pg_tools_via(result, wanted, server, via, reason, version):
    got = pg_tools_via(result, wanted, server)
    assert (got["via"], got["reason"], got["client_version"]) == (via, reason, version)


def test_pg_tools_via_refuses_an_unknown_choice():
    with pytest.raises(AnsibleFilterError, match="auto, host or compose"):
        pg_tools_via(V15, "ssh", 150004)


@pytest.mark.parametrize("given,expected", [
    ("/var/lib/maverick-rollback/backups/lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump",
     {"name": "lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump", "app": "lifetracker", "database": "lifetracker",
      "stamp": "20260105T031500Z", "commit": "abcdef123456", "seq": 0}),
    ("/b/life.tracker_my_db_20260105T031500Z_unknown-3.dump/",
     {"name": "life.tracker_my_db_20260105T031500Z_unknown-3.dump", "app": "life.tracker", "database": "my_db",
      "stamp": "20260105T031500Z", "commit": "unknown", "seq": 3}),
    ("/b/lt_db_20260105T031500Z_abcd.dump.json",
     {"name": "lt_db_20260105T031500Z_abcd.dump", "app": "lt", "database": "db", "stamp": "20260105T031500Z",
      "commit": "abcd", "seq": 0}),
    ("/root/backup.sql", {}),
    ("", {}),
    (None, {}),
], ids=["plain", "directory-format-and-seq", "manifest", "runbook-dump", "empty", "none"])
def test_backup_fields(given, expected):
    assert backup_fields(given) == expected
