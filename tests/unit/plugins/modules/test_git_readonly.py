"""Every git command the modules run (also in check mode) carries GIT_OPTIONAL_LOCKS=0, so a
`git status` never rewrites .git/index (and takes its lock) under a concurrent checkout."""

from ansible.module_utils import basic

from ansible_collections.maverick.rollback.plugins.modules import pg_backup, preflight, release_facts
from pg_testlib import run_module

SHA1, SHA2 = "a" * 40, "b" * 40


def answers(argv):
    if "log" in argv:
        return 0, "%s\tcurrent\n%s\ttarget\n" % (SHA1, SHA2), ""
    if "ls-tree" in argv:
        return 0, "20250101000000_init\n", ""
    if "config" in argv:
        return 0, '{"name": "lt", "services": {}}', ""
    return 0, "", ""


def test_release_facts_runs_git_status_without_optional_locks(tmp_path, capsys, monkeypatch):
    seen = []

    def run_command(self, argv, **kw):
        seen.append((list(argv), kw.get("environ_update") or {}))
        return answers(argv)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    result = run_module(release_facts.main, {"project_dir": str(tmp_path), "target": "v1",
                                             "migrations_dir": "prisma/migrations", "_ansible_check_mode": True}, capsys)
    assert result["_rc"] == 0, result.get("msg")
    git = [(argv, env) for argv, env in seen if argv[0] == "git"]
    assert ["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=no"] in [a for a, _e in git]
    assert [a for a, env in git if env.get("GIT_OPTIONAL_LOCKS") != "0"] == []


def test_pg_backup_reads_head_without_optional_locks(tmp_path):
    (tmp_path / ".git").mkdir()
    seen = []

    class Module:
        def get_bin_path(self, name):
            return "/usr/bin/" + name

        def run_command(self, argv, **kw):
            seen.append((argv, kw.get("environ_update") or {}))
            return 0, SHA1 + "\n", ""

    assert pg_backup.git_head(Module(), str(tmp_path)) == SHA1
    assert seen == [(["/usr/bin/git", "-C", str(tmp_path), "rev-parse", "HEAD"], {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"})]


def test_preflight_probes_git_without_optional_locks():
    seen = []

    class Module:
        def get_bin_path(self, name):
            return None

        def run_command(self, argv, **kw):
            seen.append(kw.get("environ_update") or {})
            return 0, "true\n", ""

    preflight.Probe(Module(), 0).run(["git", "-C", "/opt/app", "rev-parse", "--is-inside-work-tree", "HEAD"])
    assert seen == [{"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}]
