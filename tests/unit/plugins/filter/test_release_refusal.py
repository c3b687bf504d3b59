"""release_refusal: the first reason a rollback is refused, from release_facts' answer."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.release_refusal import release_refusal

PLANNED = {"from": {"sha": "a" * 40}, "target": {"sha": "b" * 40}, "dirty_files": []}
HELD = {"failed": True, "msg": "another run holds the app lock: run r1 by ops", "lock_holder": {"run_id": "r1"}}
UNKNOWN = {"failed": True, "msg": "unknown revision 'v9'", "recent": ["abc123 fix", "def456 feat"]}
BROKEN = {"failed": True, "msg": "docker compose config failed: no such file"}

CASES = [
    # (id, facts, force_dirty, lines)
    ("planned", PLANNED, False, []),
    ("another run holds the lock", HELD, False, ["another run holds the app lock: run r1 by ops"]),
    ("held lock wins over a dirty tree", dict(HELD, dirty_files=["x"], target={"sha": "b"}), True, [HELD["msg"]]),
    ("unknown target, with recent commits", UNKNOWN, False,
     ["unknown revision 'v9'. Nothing was changed. Recent commits:", "abc123 fix", "def456 feat"]),
    ("no recent commits in a new repository", dict(UNKNOWN, recent=[]), False,
     ["unknown revision 'v9'. Nothing was changed. Recent commits:"]),
    ("facts unreadable", BROKEN, False,
     ["cannot plan the rollback: docker compose config failed: no such file. Nothing was changed."]),
    ("dirty work tree", dict(PLANNED, dirty_files=["M apps/api/server.py"]), False,
     ["the work tree /opt/app has local changes; commit or stash them, or set app_rollback_force_dirty=true. "
      "Nothing was changed. Files:", "M apps/api/server.py"]),
    ("dirty work tree, forced", dict(PLANNED, dirty_files=["M apps/api/server.py"]), True, []),
]


@pytest.mark.parametrize("facts,force,lines", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_release_refusal(facts, force, lines):
    assert release_refusal(facts, force_dirty=force, project_dir="/opt/app") == lines


def test_the_action_names_what_could_not_be_planned():
    assert release_refusal(BROKEN, action="deploy") == [
        "cannot plan the deploy: docker compose config failed: no such file. Nothing was changed."]
