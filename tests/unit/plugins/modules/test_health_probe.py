"""health_probe against a real HTTP server on loopback: scripted /health answers."""

import pytest

from ansible_collections.maverick.rollback.plugins.modules import health_probe

from pg_testlib import run_module

SHA = "425da83ab2e6f0c1d2e3f4a5b6c7d8e9f0a1b2c3"


def probe(capsys, url, check=False, **args):
    return run_module(health_probe.main, dict({"url": url, "interval": 0.01, "deadline": 2}, **args),
                      capsys, check=check)


def test_good_answers_pass_the_gate_in_one_call(capsys, app):
    server = app((200, {"commit": SHA}))
    result = probe(capsys, server.url, expected_commit=SHA[:7])
    assert result["_rc"] == 0 and result["healthy"] is True and result["changed"] is False
    assert (len(result["first"]), len(result["more"]), server.served) == (1, 2, 3)
    assert result["first"][0]["status"] == 200 and result["first"][0]["json"] == {"commit": SHA}


def test_it_waits_through_errors_then_confirms(capsys, app):
    server = app((503, "starting"), (500, {"error": "db"}), (200, {"commit": SHA}))
    result = probe(capsys, server.url)
    assert result["healthy"] is True and result["verdict"] == ""
    assert [a["status"] for a in result["first"]] == [503, 500, 200] and len(result["more"]) == 2


def test_a_bad_confirming_answer_ends_the_gate_unstable(capsys, app):
    server = app((200, {"commit": SHA}), (502, "bad gateway"), (200, {"commit": SHA}))
    result = probe(capsys, server.url)
    assert result["_rc"] == 0 and result["healthy"] is False and result["verdict"] == ""
    assert [a["status"] for a in result["more"]] == [502] and server.served == 2


def test_wrong_commit_until_the_deadline(capsys, app):
    server = app((200, {"build": {"commit": "0" * 40}}))
    result = probe(capsys, server.url, expected_commit=SHA, commit_field="build.commit", deadline=1, interval=0.2)
    assert result["healthy"] is False
    assert result["verdict"] == "wrong commit: expected %s, running %s" % (SHA, "0" * 40)
    assert 2 <= len(result["first"]) <= 6 and result["more"] == []


def test_no_server_is_no_answer_not_a_module_failure(capsys, app):
    server = app((200, {}))
    url = server.url
    server.close()
    result = probe(capsys, url, deadline=1, interval=0.3)
    assert result["_rc"] == 0 and result["healthy"] is False
    assert result["first"][-1]["status"] == -1
    assert result["verdict"].startswith("no answer from %s: " % url)


def test_probes_in_check_mode_too(capsys, app):
    server = app((200, {"commit": SHA}))
    result = probe(capsys, server.url, check=True, successes=1)
    assert result["healthy"] is True and server.served == 1


def test_allowed_status_codes(capsys, app):
    server = app((204, ""))
    assert probe(capsys, server.url, status_codes=[200, 204], successes=2)["healthy"] is True


@pytest.mark.parametrize("bad", [{"successes": 0}, {"interval": 0}, {"deadline": 0.5}])
def test_refuses_settings_that_cannot_gate(capsys, app, bad):
    server = app((200, {}))
    result = probe(capsys, server.url, **bad)
    assert result["_rc"] == 1 and "successes >= 1" in result["msg"] and server.served == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/health", "/health"])
def test_refuses_what_is_not_an_http_url(capsys, url):
    result = probe(capsys, url)
    assert result["_rc"] == 1 and "http(s) URLs only" in result["msg"] and "first" not in result
