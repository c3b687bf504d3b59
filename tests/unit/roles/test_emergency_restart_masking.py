"""The incident bundle's masking, rendered by Ansible's own templar from the
role's vars/main.yml (the expressions the role runs, not a copy of them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = Path(__file__).resolve().parents[3] / "roles" / "emergency_restart"

ENV = """\
# LifeTracker settings
COMPOSE_PROJECT_NAME=lifetracker
POSTGRES_USER=lifetracker
POSTGRES_PASSWORD=sandbox-only-pw-7Qm2
export API_TOKEN=tok-7f3a9c1e
STRIPE_SECRET_KEY="sk_live_quoted"
session_key='single-quoted-key'
DATABASE_URL=postgresql://lifetracker:url-pw-55Xq@postgres:5432/lifetracker
# POSTGRES_PASSWORD=old-pw-in-a-comment
FEATURE_KEY=on
API_PORT=3000
"""
SECRETS = ["sandbox-only-pw-7Qm2", "tok-7f3a9c1e", "sk_live_quoted", "single-quoted-key", "url-pw-55Xq",
           "old-pw-in-a-comment"]


def load(path):
    loader = DataLoader()
    try:  # ansible-core >= 2.19: role files are trusted templates
        return loader.load_from_file(str(path), trusted_as_template=True)
    except TypeError:
        return loader.load_from_file(str(path))


def render(name, **extra):
    variables = dict(load(ROLE / "defaults" / "main.yml"))
    variables.update(load(ROLE / "vars" / "main.yml"))
    variables.update(extra)
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(variables[name])


@pytest.fixture(scope="module")
def secrets():
    return render("__emergency_restart_secret_values", __emergency_restart_env_text=ENV)


def test_secret_values_are_found_unquoted_and_nothing_else(secrets):
    assert sorted(secrets) == sorted(SECRETS)
    assert "on" not in secrets and "lifetracker" not in secrets  # too short / not a secret key


def test_secret_values_put_a_value_before_its_prefixes():
    found = render("__emergency_restart_secret_values",
                   __emergency_restart_env_text="A_TOKEN=abcd1234\nB_TOKEN=abcd1234-longer\n")
    assert found.index("abcd1234-longer") < found.index("abcd1234")


def test_env_file_keeps_keys_and_masks_secret_values():
    masked = render("__emergency_restart_env_masked", __emergency_restart_env_text=ENV,
                    __app_env_path="/opt/lifetracker/.env")
    lines = masked.splitlines()
    assert "POSTGRES_PASSWORD=********" in lines
    assert "export API_TOKEN=********" in lines
    assert "STRIPE_SECRET_KEY=********" in lines and "session_key=********" in lines
    assert "# POSTGRES_PASSWORD=********" in lines
    assert "POSTGRES_USER=lifetracker" in lines and "API_PORT=3000" in lines
    assert "DATABASE_URL=postgresql://lifetracker:url-pw-55Xq@postgres:5432/lifetracker" in lines  # masked later


@pytest.mark.parametrize("text,expected", [
    ('"GET /health?leak=sandbox-only-pw-7Qm2 HTTP/1.1" 200', '"GET /health?leak=******** HTTP/1.1" 200'),
    ("DATABASE_URL=postgresql://lifetracker:url-pw-55Xq@postgres:5432/lifetracker",
     "DATABASE_URL=postgresql://lifetracker:********@postgres:5432/lifetracker"),
    ("connect to redis://:other-unknown-pw@cache:6379 failed", "connect to redis://:********@cache:6379 failed"),
    ("token tok-7f3a9c1e and sk_live_quoted twice: tok-7f3a9c1e", "token ******** and ******** twice: ********"),
    ("nothing secret here: https://example.com/a@b", "nothing secret here: https://example.com/a@b"),
], ids=["env-secret-in-a-log", "url-password-from-env", "unknown-url-password", "several", "untouched"])
def test_every_bundle_text_is_masked(secrets, text, expected):
    masked = render("__emergency_restart_masked", __emergency_restart_unmasked=text, __emergency_restart_secrets=secrets)
    assert masked == expected
    for secret in SECRETS:
        assert secret not in masked


def test_no_env_file_masks_urls_only():
    masked = render("__emergency_restart_masked", __emergency_restart_unmasked="postgresql://u:pw-xyz@h/db",
                    __emergency_restart_secrets=[])
    assert masked == "postgresql://u:********@h/db"


def test_masking_works_before_the_env_file_was_read():
    # A failure before the diagnosis read .env: error messages are still URL-masked.
    masked = render("__emergency_restart_masked", __emergency_restart_unmasked="lock: postgresql://u:pw-abc@h/db")
    assert masked == "lock: postgresql://u:********@h/db"
