"""mask, env_secrets, mask_env: no secret of the app reaches a bundle, a log or a message."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.env_secrets import env_secrets
from ansible_collections.maverick.rollback.plugins.filter.mask import mask
from ansible_collections.maverick.rollback.plugins.filter.mask_env import mask_env

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

ENV_SECRET_CASES = [
    # (id, env text, key pattern, expected values)
    ("the app's env", ENV, None, sorted(SECRETS, reverse=True)),
    ("a value before its prefix", "A_TOKEN=abcd1234\nB_TOKEN=abcd1234-longer\n", None, ["abcd1234-longer", "abcd1234"]),
    ("short values and other keys are not secrets", "DB_PASSWORD=abc\nUSER=lifetracker\nAPI_KEY=on", None, []),
    ("duplicates once, spaces trimmed", "A_SECRET = s3cr3t-v \nB_SECRET=s3cr3t-v", None, ["s3cr3t-v"]),
    ("own key pattern: its numbers are secrets", "PASSPHRASE=123456\nPIN=654321", "PASSPHRASE", ["123456"]),
    ("case-insensitive keys", "db_Password=lower-case-key", None, ["lower-case-key"]),
    ("URL password of any key", "REDIS_URL=redis://:redis-pw-1@cache:6379", None, ["redis-pw-1"]),
    # Issue 16 fault 7: every value is a secret, not only those of matching keys.
    ("key without a secret word", "DB_PASS=dbpass-Vx81\nPGPASS=pgpass-Kq27\nMY_SETTING=opaque-value", None,
     ["pgpass-Kq27", "opaque-value", "dbpass-Vx81"]),
    ("inline comment is not part of the value", "POSTGRES_PASSWORD=s3cretpw # rotated", None, ["s3cretpw"]),
    ("quoted value keeps its #", 'POSTGRES_PASSWORD="s3cret # pw" # rotated', None, ["s3cret # pw"]),
    ("DSN: the URL and its key", "SENTRY_DSN=https://5f3c2a9e81d4@o4504.ingest.sentry.io/4504", None,
     ["https://5f3c2a9e81d4@o4504.ingest.sentry.io/4504", "5f3c2a9e81d4"]),
    ("URL with a password: the password only", "DATABASE_URL=postgresql://app:url-pw-1@db:5432/app", None, ["url-pw-1"]),
    ("URL without credentials: the whole value", "WEBHOOK=https://hooks.example/T0/B0/XXYYZZ", None,
     ["https://hooks.example/T0/B0/XXYYZZ"]),
    ("short and common values are not", "A=abc\nB=true\nC=False\nD=on\nE=none\nF=\nG=disabled", None, []),
    ("numbers are not, unless the key is secret", "WORKERS=1024\nAPI_SECRET=12345678\nRATIO=0.75", None, ["12345678"]),
    ("naming keys are not", "POSTGRES_USER=lifetracker\nPOSTGRES_DB=lifetracker\nCOMPOSE_PROJECT_NAME=mr-x\n"
     "DB_HOST=db.internal\nNODE_ENV=production\nLOG_LEVEL=debug\nDATA_DIR=/srv/data\nTZ=Europe/Berlin", None, []),
    ("a secret word wins over a naming one", "DB_PASSWORD_USER=admin-pw-9\nAUTH_HOST=auth.example", None,
     ["auth.example", "admin-pw-9"]),
    ("commented-out and exported settings", "# OLD_API=retired-value-1\nexport NEW_API=live-value-2", None,
     ["retired-value-1", "live-value-2"]),
    ("no env file", "", None, []),
    ("none", None, None, []),
]


@pytest.mark.parametrize("text,pattern,expected", [c[1:] for c in ENV_SECRET_CASES], ids=[c[0] for c in ENV_SECRET_CASES])
def test_env_secrets(text, pattern, expected):
    assert env_secrets(text, pattern) == expected


MASK_CASES = [
    # (id, text, secrets, expected)
    ("env secret in a log", '"GET /health?leak=sandbox-only-pw-7Qm2 HTTP/1.1" 200', SECRETS,
     '"GET /health?leak=******** HTTP/1.1" 200'),
    ("URL password from the env", "DATABASE_URL=postgresql://lifetracker:url-pw-55Xq@postgres:5432/lifetracker", SECRETS,
     "DATABASE_URL=postgresql://lifetracker:********@postgres:5432/lifetracker"),
    ("unknown URL password", "connect to redis://:other-unknown-pw@cache:6379 failed", SECRETS,
     "connect to redis://:********@cache:6379 failed"),
    ("several", "token tok-7f3a9c1e and sk_live_quoted twice: tok-7f3a9c1e", SECRETS,
     "token ******** and ******** twice: ********"),
    ("untouched", "nothing secret here: https://example.com/a@b", SECRETS, "nothing secret here: https://example.com/a@b"),
    ("no secrets: URLs only", "postgresql://u:pw-xyz@h/db", [], "postgresql://u:********@h/db"),
    ("a longer secret is not cut by its prefix", "abcd1234-longer", ["abcd1234", "abcd1234-longer"], "********"),
    ("URL-encoded secret", "url=postgresql://u:p%40ss%2Fw0rd@h/db and p%40ss%2Fw0rd", ["p@ss/w0rd"],
     "url=postgresql://u:********@h/db and ********"),
    ("password= in output", "psql: PGPASSWORD=hunter22 password: hunter33", [], "psql: PGPASSWORD=******** password: ********"),
    ("regex characters in a secret are literal", "a+b(c) and aab(c)", ["a+b(c)"], "******** and aab(c)"),
    ("none", None, [], ""),
    ("secrets not known yet: URLs only", "lock: postgresql://u:pw-abc@h/db", None, "lock: postgresql://u:********@h/db"),
]


@pytest.mark.parametrize("text,secrets,expected", [c[1:] for c in MASK_CASES], ids=[c[0] for c in MASK_CASES])
def test_mask(text, secrets, expected):
    masked = mask(text, secrets)
    assert masked == expected
    for secret in secrets or []:
        assert secret not in masked


def test_env_file_keeps_keys_and_masks_secret_values():
    lines = mask_env(ENV).splitlines()
    assert "POSTGRES_PASSWORD=********" in lines and "# POSTGRES_PASSWORD=********" in lines
    assert "export API_TOKEN=********" in lines
    assert "STRIPE_SECRET_KEY=********" in lines and "session_key=********" in lines
    assert "FEATURE_KEY=********" in lines  # short values too: the file is masked by key
    assert "POSTGRES_USER=lifetracker" in lines and "API_PORT=3000" in lines
    assert "DATABASE_URL=postgresql://lifetracker:********@postgres:5432/lifetracker" in lines  # the URL's password
    assert len(lines) == len(ENV.splitlines())


@pytest.mark.parametrize("text,kwargs,expected", [
    ("", {"missing": "(no env file at /opt/lifetracker/.env)"}, "(no env file at /opt/lifetracker/.env)"),
    (None, {}, ""),
    ("PASSPHRASE=x\nPASSWORD=y", {"key_pattern": "PASSPHRASE"}, "PASSPHRASE=********\nPASSWORD=********"),  # password=: mask()
    ("DB_PASS=dbpass-Vx81\nMODE=fast", {}, "DB_PASS=********\nMODE=fast"),
    ("POSTGRES_PASSWORD=s3cretpw # rotated", {}, "POSTGRES_PASSWORD=********"),
    ("SENTRY_DSN=https://5f3c2a9e81d4@o1.ingest.sentry.io/1", {}, "SENTRY_DSN=********"),
    ("  db_password = spaced", {}, "  db_password =********"),
])
def test_mask_env_edges(text, kwargs, expected):
    assert mask_env(text, **kwargs) == expected


# Issue 16 fault 7: the three forms the key pattern missed, end to end (env file -> secrets ->
# a log line and the masked env file).
FORMS_ENV = ("DB_PASS=dbpass-Vx81-plain\nSENTRY_DSN=https://5f3c2a9e81d4b7@o4504.ingest.sentry.io/4504\n"
             "POSTGRES_PASSWORD=s3cretpw # rotated\n")
FORMS = ["dbpass-Vx81-plain", "https://5f3c2a9e81d4b7@o4504.ingest.sentry.io/4504", "5f3c2a9e81d4b7", "s3cretpw"]


@pytest.mark.parametrize("line", [
    '10.0.0.1 "GET /health?a=dbpass-Vx81-plain HTTP/1.1" 200 -',
    "sentry: sending to https://5f3c2a9e81d4b7@o4504.ingest.sentry.io/4504",
    "sentry key 5f3c2a9e81d4b7 rejected",
    "FATAL: password authentication failed, tried s3cretpw",
    FORMS_ENV,
])
def test_the_forms_the_key_pattern_missed_never_pass(line):
    for text in (mask(line, env_secrets(FORMS_ENV)), mask_env(FORMS_ENV)):
        for secret in FORMS:
            assert secret not in text
