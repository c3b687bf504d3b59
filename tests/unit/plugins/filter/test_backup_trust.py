"""backup_dir_check and backup_pick's trust and order: a backup directory others can write to is
refused, backups and manifests others own or can write are skipped, and "latest" follows the time
recorded inside the manifests, not the time a file name claims (issue 16, fault 8)."""

import base64
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.maverick.rollback.plugins.filter.backup_dir_check import backup_dir_check
from ansible_collections.maverick.rollback.plugins.module_utils._backups import untrusted
from ansible_collections.maverick.rollback.plugins.filter.backup_pick import backup_pick

CASES = yaml.safe_load((Path(__file__).parent / "tables" / "backup_trust.yml").read_text())
OPTION = "db_backup_allow_shared_backup_dir"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_backup_dir_check(case):
    if case["stat"]["exists"]:  # the rule backup_pick applies to each backup and manifest
        assert untrusted(case["stat"], case["uid"]) == case["problem"]
    got = backup_dir_check({"stat": case["stat"]}, case["uid"], option=OPTION)
    assert (got["ok"], got["problem"]) == (not case["problem"], case["problem"])
    if case["problem"]:
        assert got["msg"].startswith("refusing backup directory /b: it is " + case["problem"])
        assert "%s=true" % OPTION in got["msg"] and got["msg"].endswith("Nothing was changed.")
        allowed = backup_dir_check(case["stat"], case["uid"], allow_shared=True, option=OPTION)
        assert allowed["ok"] and allowed["msg"] == ""
        assert allowed["warning"] == "backup directory /b is %s; accepted because %s=true" % (case["problem"], OPTION)
    else:
        assert got["msg"] == got["warning"] == ""


D = "/b"


def name(stamp, commit="aaaaaaaaaaaa"):
    return "%s/lt_lt_%s_%s.dump" % (D, stamp, commit)


def manifest(path, created_at):
    content = json.dumps({"sha256": "0" * 64, "created_at": created_at}) if created_at is not None else "{not json"
    return {"source": path + ".json", "content": base64.b64encode(content.encode()).decode(), "encoding": "base64"}


REAL_OLD, REAL_NEW = name("20260101T000000Z"), name("20260301T000000Z", "cccccccccccc")
PLANTED = name("20991231T235959Z")
# (id, {backup: (created_at in its manifest, manifest stat, backup stat)}, uid, picked, skipped {backup: reason start})
OK = {"uid": 0, "mode": "0600"}
MINE = {"uid": 1000, "mode": "0600"}
PICK_CASES = [
    ("a future name with an older recorded time loses", {REAL_OLD: ("2026-01-01T00:00:00Z", OK, OK),
                                                         REAL_NEW: ("2026-03-01T00:00:00Z", OK, OK),
                                                         PLANTED: ("2026-01-01T00:00:00Z", OK, OK)}, 0, REAL_NEW, {}),
    ("the recorded time wins over the name either way", {REAL_OLD: ("2026-05-01T00:00:00Z", OK, OK),
                                                         REAL_NEW: ("2026-03-01T00:00:00Z", OK, OK)}, 0, REAL_OLD, {}),
    ("an offset time compares as UTC", {REAL_OLD: ("2026-03-01T02:00:00+03:00", OK, OK),
                                        REAL_NEW: ("2026-03-01T00:00:00Z", OK, OK)}, 0, REAL_NEW, {}),
    ("a manifest writable by others is skipped", {REAL_OLD: ("2026-01-01T00:00:00Z", OK, OK),
                                                  PLANTED: ("2099-12-31T23:59:59Z", {"uid": 0, "mode": "0666"}, OK)},
     0, REAL_OLD, {PLANTED: "manifest writable by group or others (mode 0666)"}),
    ("a backup another user owns is skipped", {REAL_OLD: ("2026-01-01T00:00:00Z", OK, OK),
                                               PLANTED: ("2099-12-31T23:59:59Z", OK, {"uid": 1001, "pw_name": "mallory", "mode": "0600"})},
     0, REAL_OLD, {PLANTED: "backup owned by mallory"}),
    ("the runner's own files are trusted", {REAL_OLD: ("2026-01-01T00:00:00Z", MINE, MINE)}, 1000, REAL_OLD, {}),
    ("an unreadable manifest or one without a time is skipped",
     {REAL_OLD: ("2026-01-01T00:00:00Z", OK, OK), REAL_NEW: (None, OK, OK), PLANTED: ("", OK, OK)},
     0, REAL_OLD, {REAL_NEW: "manifest unreadable", PLANTED: "manifest unreadable"}),
    ("a time without a zone is not a recorded UTC time", {REAL_OLD: ("2026-01-01T00:00:00Z", OK, OK),
                                                          REAL_NEW: ("2026-03-01T00:00:00", OK, OK)},
     0, REAL_OLD, {REAL_NEW: "manifest unreadable"}),
    ("nothing trusted: nothing picked", {PLANTED: ("2099-12-31T23:59:59Z", {"uid": 0, "mode": "0622"}, OK)}, 0, "",
     {PLANTED: "manifest writable"}),
]


@pytest.mark.parametrize("backups,uid,picked,skipped", [c[1:] for c in PICK_CASES], ids=[c[0] for c in PICK_CASES])
def test_backup_pick_trust_and_order(backups, uid, picked, skipped):
    files = [dict(entry[1], path=path + ".json") for path, entry in backups.items()]
    stats = [dict(entry[2], path=path) for path, entry in backups.items()]
    manifests = [manifest(path, entry[0]) for path, entry in backups.items()]
    got = backup_pick(files, "latest", "lt", "lt", manifests=manifests, backups=stats, uid=uid)
    assert (got["path"], got["how"]) == (picked, "latest" if picked else "")
    assert {s["path"]: s["reason"][:len(skipped.get(s["path"], ""))] for s in got["skipped"]} == skipped
    assert picked in [c["path"] for c in got["candidates"]] or not picked
    assert not set(skipped) & {c["path"] for c in got["candidates"]}


def test_backup_pick_before_commit_takes_only_trusted_backups():
    mine, planted = name("20260201T000000Z", "bbbbbbbbbbbb"), name("20990101T000000Z", "bbbbbbbbbbbb")
    files = [{"path": mine + ".json", "uid": 0, "mode": "0600"}, {"path": planted + ".json", "uid": 0, "mode": "0646"}]
    manifests = [manifest(mine, "2026-02-01T00:00:00Z"), manifest(planted, "2099-01-01T00:00:00Z")]
    records = [{"action": "deploy", "from_commit": "bbbbbbbbbbbb", "backup": planted}]
    got = backup_pick(files, "before=bbbbbbbbbbbb", "lt", "lt", records=records, manifests=manifests, uid=0)
    assert (got["path"], got["how"]) == (mine, "commit")


def test_backup_pick_without_manifests_or_uid_orders_by_name():
    """What callers that pass neither get (migration_rehearsal): the order of the names, nothing skipped."""
    got = backup_pick([REAL_OLD + ".json", PLANTED + ".json"], "latest", "lt", "lt")
    assert (got["path"], got["skipped"]) == (PLANTED, [])


def test_backup_pick_a_path_is_taken_as_given():
    got = backup_pick([{"path": PLANTED + ".json", "uid": 5, "mode": "0666"}], "/root/backup.sql", "lt", "lt",
                      manifests=[], uid=0)
    assert (got["path"], got["how"]) == ("/root/backup.sql", "path")


def test_one_copy_of_the_trust_rule():
    """The filters and pg_backup (on the server) apply the same functions of module_utils/_backups.py."""
    from ansible_collections.maverick.rollback.plugins.filter import backup_dir_check as dir_filter, backup_pick
    from ansible_collections.maverick.rollback.plugins.module_utils import _backups
    assert dir_filter.backup_dir_check is _backups.backup_dir_check
    assert backup_pick.untrusted is _backups.untrusted
