# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollback over a group of app servers (docs/fleet.md): the decisions, pure Python.

Each host of the play carries one dict (the fact __app_fleet_host), filled in as the run goes:
  host      inventory name
  error     why its validation refused ('' when none; a string or a list of lines)
  from      the commit it runs, target: the commit the request resolves to there
  reuse     the target's images are kept there (no build); noop: it runs the target already
  batch     the serial batch that switched it (0: not reached)
  outcome   '' (not reached), noop, healthy, reverted (its gate failed, back on `from`),
            failed (not healthy, not back), put_back (healthy, then back on `from` for the fleet),
            restarted (a full rollback's host not switched: its app, stopped for the restore, started
            again on `from`)
The filters fleet_plan, fleet_progress and fleet_outcome read a list of them; fleet_previous
reads each host's ledger annotations (commit=previous on a group).
"""

from __future__ import annotations

# A host counts against app_max_fail_percentage with these outcomes.
FAILED = ("reverted", "failed")


def _first_line(error):
    if isinstance(error, (list, tuple)):
        error = error[0] if error else ""
    return str(error).strip().splitlines()[0] if str(error).strip() else "failed"


# A host of the play without its dict stopped before its validation could say why (unreachable, preflight).
NOT_VALIDATED = "stopped before its validation (its error is above)"


PLAN_WORDS = {"noop": "already there, nothing to do", "reuse": "kept images, no build",
              "build": "build (no kept images for the target)"}


def _plan_kind(host):
    """What a host's switch will do: noop, reuse (kept images) or build."""
    if host.get("noop"):
        return "noop"
    return "reuse" if host.get("reuse") else "build"


def plan(hosts, requested="", names=None, action="rollback"):
    """Play 1: may the fleet go on, and what happens on each host.

    names: the play's hosts, in order, when `hosts` is aligned with them (a host without a dict
    there stopped before its validation: refused). action: the word of the refusal (rollback, deploy)."""
    hosts = list(hosts)
    if names is not None:
        hosts = [h if isinstance(h, dict) and h.get("host") else {"host": name, "error": NOT_VALIDATED}
                 for name, h in zip(names, hosts + [None] * (len(names) - len(hosts)))]
    hosts = [h for h in hosts if isinstance(h, dict)]
    refused = [h for h in hosts if h.get("error")]
    targets = {}
    for host in hosts:
        if not host.get("error"):
            targets.setdefault(host.get("target", ""), []).append(host["host"])
    result = {"refuse": False, "message": "", "target": "", "hosts": [h["host"] for h in hosts],
              "reuse": [], "build": [], "noop": [], "lines": []}
    if refused:
        result["refuse"] = True
        result["message"] = (
            ["refusing the %s to '%s': it cannot go on on %d of %d host(s). Nothing was changed on any host."
             % (action, requested, len(refused), len(hosts))]
            + ["  %s: %s" % (h["host"], _first_line(h["error"])) for h in refused])
        return result
    if len(targets) > 1:
        result["refuse"] = True
        result["message"] = (
            ["refusing the %s to '%s': it resolves to different commits on the hosts (give a full SHA every host "
             "has). Nothing was changed on any host." % (action, requested)]
            + ["  %s: %s" % (", ".join(on), sha[:12]) for sha, on in sorted(targets.items(), key=lambda i: i[1])])
        return result
    result["target"] = next(iter(targets), "")
    for host in hosts:
        result[_plan_kind(host)].append(host["host"])
    width = max([len(h["host"]) for h in hosts] + [4])
    result["lines"] = ["fleet plan: %s -> %s on %d host(s), %s" % (requested, result["target"][:12], len(hosts), action)] + [
        "  %s  %s -> %s  %s" % (h["host"].ljust(width), str(h.get("from", ""))[:12], result["target"][:12],
                                PLAN_WORDS[_plan_kind(h)])
        for h in hosts]
    return result


def _healthy_ranks(commits, excluded):
    """{commit: (rank, last healthy time)} of one host's healthy releases, rank 0 = its newest
    (file order, as _ledger.previous_healthy walks it), the excluded commits left out."""
    healthy = sorted(((entry["last_healthy_seq"], commit, str(entry.get("last_healthy_time") or ""))
                      for commit, entry in commits.items()
                      if isinstance(entry, dict) and entry.get("last_healthy_seq") is not None and commit not in excluded),
                     reverse=True)
    return {commit: (rank, when) for rank, (_seq, commit, when) in enumerate(healthy)}


def previous(hosts, names=None):
    """commit=previous on a group: the newest release healthy on every host, running on none.

    Each host dict: host, current (the commit it runs), commits (its release_ledger `commits`
    annotations: last_healthy_seq, last_healthy_time). Per host, its healthy releases are ranked
    newest first (its ledger's order, clock-free); the pick is the commit healthy on every host
    whose worst rank is the best (then the smaller sum of ranks, then the later of the oldest
    last-healthy times). On one host this is _ledger.previous_healthy's commit.
    Returns commit ('' when none: the caller resolves previous on each host as for one server),
    lines (what was picked and why) and per-host candidates (its newest healthy releases)."""
    hosts = list(hosts)
    if names is not None:
        hosts = [h if isinstance(h, dict) and h.get("host") else {"host": name}
                 for name, h in zip(names, hosts + [None] * (len(names) - len(hosts)))]
    hosts = [h for h in hosts if isinstance(h, dict)]
    result = {"commit": "", "hosts": [h["host"] for h in hosts], "lines": [], "candidates": {}}
    unread = [h["host"] for h in hosts if not isinstance(h.get("commits"), dict) or not h.get("current")]
    if not hosts or unread:
        result["lines"] = ["commit=previous: no ledger read from %s; each host resolves it on its own"
                           % ", ".join(unread or ["any host"])]
        return result
    running = {h["current"] for h in hosts}
    ranks = {h["host"]: _healthy_ranks(h["commits"], running) for h in hosts}
    result["candidates"] = {name: sorted(r, key=lambda c, r=r: r[c][0])[:5] for name, r in ranks.items()}
    common = set.intersection(*(set(r) for r in ranks.values()))
    if not common:
        result["lines"] = ["commit=previous: no release other than the running %s is healthy on every host in its "
                           "ledger; each host resolves it on its own" % ", ".join(sorted(c[:12] for c in running))] + [
            "  %s: %s" % (name, ", ".join(c[:12] for c in result["candidates"][name]) or "no other healthy release")
            for name in result["hosts"]]
        return result

    def key(commit):
        on_hosts = [r[commit] for r in ranks.values()]
        return (-max(place[0] for place in on_hosts), -sum(place[0] for place in on_hosts),
                min(place[1] for place in on_hosts), commit)

    result["commit"] = max(common, key=key)
    result["lines"] = ["commit=previous on %d host(s): %s, the newest release healthy on every host (its ledgers)"
                       % (len(hosts), result["commit"][:12])]
    return result


def _batches(hosts):
    batches = {}
    for host in hosts:
        if host.get("batch"):
            batches.setdefault(int(host["batch"]), []).append(host)
    return [batches[number] for number in sorted(batches)]


def progress(hosts, max_fail_percentage=0):
    """Play 2, at the start of a batch: stop (a batch failed past the limit) and this batch's number."""
    hosts = [h for h in hosts if isinstance(h, dict)]
    batches = _batches(hosts)
    stopped_by = 0
    for number, batch in enumerate(batches, start=1):
        failed = [h for h in batch if h.get("outcome") in FAILED]
        if failed and 100.0 * len(failed) / len(batch) > float(max_fail_percentage):
            stopped_by = number
            break
    return {"stop": stopped_by > 0, "stopped_by_batch": stopped_by, "batch": len(batches) + 1}


def outcome(hosts, target="", allow_mixed=False, max_fail_percentage=0, database=None, action="rollback"):
    """Play 3 (deploy: play 5): which hosts go back, the fleet's outcome and the per-host table.

    database: a deploy's database steps, run once before the batches (docs/fleet.md): `error` (the step
    that stopped the run before any switch, '' when none), `touched` (migrations ran), `restored` (put
    back from the pre-deploy backup), `backup`, `migrations`, `stage`, `restore_error`.
    A full rollback's (kind: full_rollback): `touched` (the backup was swapped in), `restored` (the
    previous database put back), `restore_error` (putting it back failed), `backup`, `kept_as` (the
    replaced database), `error`, `stage`. Its `back` are the hosts that go back on their release.
    action: the run's word (rollback, deploy, full_rollback) for `message`, why the run fails ('' when healthy)."""
    hosts = [h for h in hosts if isinstance(h, dict)]
    database = database or {}
    stop = progress(hosts, max_fail_percentage)
    failed_any = any(h.get("outcome") in FAILED for h in hosts)
    put_back = []
    if failed_any and not allow_mixed:
        put_back = [h["host"] for h in hosts if h.get("outcome") == "healthy"]
    if not failed_any:
        fleet = "healthy"
    elif any(h.get("outcome") == "failed" for h in hosts):
        fleet = "failed"
    elif allow_mixed and any(h.get("outcome") == "healthy" for h in hosts):
        fleet = "mixed"
    else:
        fleet = "reverted"
    if database.get("error") and fleet == "healthy":
        fleet = "reverted"  # stopped before any host switched
    if fleet == "reverted" and database.get("touched") and not database.get("restored"):
        fleet = "failed"  # the code is back, the schema is not
    return {"outcome": fleet, "put_back": put_back, "stopped_by_batch": stop["stopped_by_batch"],
            "message": failure_message(hosts, fleet, target, database, action, allow_mixed),
            "next": next_step(fleet, target, [h["host"] for h in hosts if h.get("outcome") in FAILED], database,
                              allow_mixed, hosts),
            "back": full_rollback_back(hosts, database) if database.get("kind") == "full_rollback" else [],
            "back_outcome": BACK_OUTCOME,
            "failed": [h["host"] for h in hosts if h.get("outcome") in FAILED],
            "skipped": [h["host"] for h in hosts if not h.get("outcome")],
            "batches": [[h["host"] for h in batch] for batch in _batches(hosts)],
            "record": bool(database.get("touched")) or any(h.get("outcome") not in ("", "noop", None) for h in hosts),
            "lines": table(hosts, target) + database_lines(database)}


def failure_message(hosts, fleet, target="", database=None, action="rollback", allow_mixed=False):
    """Why a fleet run fails and the state it leaves, in one line ('' when the fleet is healthy).

    Where it failed (the hosts that failed their switch, else the database step that stopped it, with its
    error: a host whose app did not stop is named there), then the state: back on the releases it ran, mixed,
    hosts not healthy, and a database that went back neither from the pre-deploy backup (deploy) nor to the
    previous one (full rollback): which database is live, where the other one is, the command that puts it
    back."""
    if fleet == "healthy":
        return ""
    hosts = [h for h in hosts if isinstance(h, dict)]
    database = database or {}
    failed = [h["host"] for h in hosts if h.get("outcome") in FAILED]
    if failed:
        where = "on " + ", ".join(failed)
    else:
        where = "at its %s step, before any host switched" % database.get("stage", "?")
        if database.get("error"):
            where += " (%s)" % _first_line(database["error"]).rstrip(".")
    if fleet == "reverted":
        state = ["the fleet is back on the releases it ran"]
    elif fleet == "mixed":
        state = ["hosts already switched stay on the target (app_allow_mixed)"]
    else:
        sick = [h["host"] for h in hosts if h.get("outcome") == "failed"]
        state = ["NOT healthy now: %s (see the summary above)" % ", ".join(sick)] if sick else []
        if database.get("touched") and not database.get("restored") and restore_database(hosts, database, allow_mixed):
            state.append(_database_not_back(database))
        state = state or ["a host is NOT healthy now: see the summary above"]
    return "%s to %s failed %s; %s" % (action, str(target)[:12], where, "; ".join(state))


def _database_back_command(database):
    """The command that puts a database back that should have gone back and did not."""
    if database.get("kind") == "full_rollback":
        kept = database.get("kept_as") or "<db>_pre_restore_<ts>"
        return ("ansible-playbook playbooks/db_restore.yml -e db_restore_undo=true -e db_restore_undo_database=%s "
                "-e db_restore_confirm=yes" % kept)
    return ("ansible-playbook playbooks/db_restore.yml -e db_restore_backup=%s -e db_restore_confirm=yes"
            % (database.get("backup") or "<the pre-deploy backup>"))


def _database_not_back(database):
    """The state of a database that should have gone back and did not, and the command that puts it back."""
    if database.get("kind") == "full_rollback":
        return ("the hosts went back on the releases they ran, but THE PREVIOUS DATABASE WAS NOT PUT BACK: the live "
                "database is still the one restored from %s (the target's schema), the previous one is kept as %s; "
                "put it back: %s" % (database.get("backup") or "?", database.get("kept_as") or "<db>_pre_restore_<ts>",
                                     _database_back_command(database)))
    return ("the hosts went back on the releases they ran, but THE DATABASE WAS NOT RESTORED: the live database "
            "still has the migrations; restore it: %s" % _database_back_command(database))


def next_step(fleet, target="", failed=(), database=None, allow_mixed=False, hosts=()):
    """The summary's `next:` line: a database left on the wrong schema first (its command), then what to fix."""
    database = database or {}
    if fleet == "healthy":
        return "next: watch /health and the logs on every host"
    first = ""
    if database.get("touched") and not database.get("restored") and restore_database(hosts, database, allow_mixed):
        first = "put the database back first: %s; then " % _database_back_command(database)
    if failed:
        return ("next: %sfix %s on %s (each host's summary and logs above) or pick another target "
                "(playbooks/list_releases.yml)" % (first, str(target)[:12], ", ".join(failed)))
    return "next: %sfix what stopped the run (the database lines above), then run it again" % first


def restore_database(hosts, database, allow_mixed=False):
    """Deploy, after the batches: put the shared database back from the pre-deploy backup?

    Yes when its migrations ran and the fleet goes back: a database step failed, or a host failed and
    the hosts on the target go back too (not app_allow_mixed with a host healthy on the target)."""
    hosts = [h for h in hosts if isinstance(h, dict)]
    database = database or {}
    if not database.get("touched") or not _going_back(hosts, database):
        return False
    if database.get("error"):
        return True
    return not (allow_mixed and any(h.get("outcome") == "healthy" for h in hosts))


def _going_back(hosts, database):
    """A database step stopped the run, or a host failed its switch (hosts: their dicts)."""
    return bool(database.get("error")) or any(h.get("outcome") in FAILED for h in hosts)


def full_rollback_back(hosts, database):
    """A full rollback after its switch play: the hosts that go back on the release they ran.

    The database was restored once before any host switched, with the app of every host stopped. When
    the run goes back (a database step failed, or a host failed its switch), every host but those that
    ran the target already goes back on its own release (kept images) and is gated, after the previous
    database is put back: switched ones, reverted ones (the database changed under them again) and the
    ones never reached (their app is stopped). [] when every host is healthy on the target."""
    hosts = [h for h in hosts if isinstance(h, dict)]
    if not _going_back(hosts, database or {}):
        return []
    return [h["host"] for h in hosts if h.get("outcome") != "noop"]


# A full rollback's host after going back: its outcome before -> (healthy again, not healthy).
BACK_OUTCOME = {"": ("restarted", "failed"), "healthy": ("put_back", "failed"),
                "reverted": ("reverted", "failed"), "failed": ("reverted", "failed")}


def full_rollback_database_lines(database):
    """The summary's lines about a full rollback's one restore."""
    lines = []
    kept = database.get("kept_as") or "<db>_pre_restore_<ts>"
    if database.get("touched"):
        lines.append("database: restored once from %s (the replaced database is kept as %s)"
                     % (database.get("backup") or "?", kept))
    if database.get("error"):
        lines.append("database: the full rollback stopped at the %s step: %s"
                     % (database.get("stage", "?"), _first_line(database["error"])))
        if not database.get("touched"):
            lines.append("database: not replaced; every host's app started again on the release it ran")
    if database.get("restored"):
        lines.append("database: PUT BACK: the previous database is live again (the one restored from the backup is "
                     "kept as <db>_restore_<ts>)")
    elif database.get("restore_error"):
        lines.append("database: LIVE is still the one restored from %s (the target's schema), under the releases "
                     "the hosts run (above); the previous database is kept as %s"
                     % (database.get("backup") or "?", kept))
        lines.append("database: NOT put back: %s - put it back: playbooks/db_restore.yml -e db_restore_undo=true "
                     "-e db_restore_undo_database=%s -e db_restore_confirm=yes"
                     % (_first_line(database["restore_error"]), kept))
    return lines


def database_lines(database):
    """The summary's lines about a deploy's or a full rollback's database steps (none for a rollback)."""
    if not database:
        return []
    if database.get("kind") == "full_rollback":
        return full_rollback_database_lines(database)
    lines = []
    if database.get("backup"):
        lines.append("database: pre-deploy backup %s" % database["backup"])
    if database.get("migrations"):
        lines.append("database: migrations applied once: %s" % ", ".join(database["migrations"]))
    if database.get("error"):
        lines.append("database: the deploy stopped at the %s step, before any host switched: %s"
                     % (database.get("stage", "?"), _first_line(database["error"])))
        if not database.get("touched"):
            lines.append("database: not changed; no host was touched")
    if database.get("restored"):
        lines.append("database: RESTORED from the pre-deploy backup (the failed release's database is kept as %s)"
                     % database.get("kept_as", "?"))
    elif database.get("restore_error"):
        lines.append("database: NOT restored: %s - restore it: playbooks/db_restore.yml -e db_restore_backup=%s "
                     "-e db_restore_confirm=yes"
                     % (_first_line(database["restore_error"]), database.get("backup", "<the pre-deploy backup>")))
    return lines


WHAT = {"": "not touched (a batch before it failed)", "noop": "already there, nothing to do",
        "healthy": "switched, healthy", "reverted": "its health gate failed: back on the previous release",
        "failed": "NOT HEALTHY: see its summary", "put_back": "switched, then back on the previous release (fleet)",
        "restarted": "not switched (the run stopped before it); its app started again on its release"}


def table(hosts, target=""):
    """The summary: one line per host (batch, from -> target, what happened)."""
    hosts = [h for h in hosts if isinstance(h, dict)]
    width = max([len(h["host"]) for h in hosts] + [4])
    return ["%s  batch %s  %s -> %s  %s" % (h["host"].ljust(width), h.get("batch") or "-", str(h.get("from", ""))[:12],
                                            str(target)[:12], WHAT.get(h.get("outcome", ""), h.get("outcome")))
            for h in hosts]
