# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's rules, once: what a valid name looks like, how our file and
database names are built and read back, which SQL cannot run in one transaction,
when the host's PostgreSQL client tools fit, and how secrets are masked.

Modules import these functions; roles reach them through the filters
maverick.rollback.rule, mask, env_secrets, mask_env, backup_fields,
sql_transaction_check. Pure Python (standard library only), so
they run on the controller and on the managed server alike.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ansible_collections.maverick.rollback.plugins.module_utils._dotenv import parse_env_file

# --------------------------------------------------------------------------- names

# Patterns for Python's re (what Jinja's match/search tests and ansible.builtin.find
# with use_regex use). \A and \Z: a trailing newline never passes.
PATTERNS = {
    # A ref git can resolve (hex SHA, tag, branch), with nothing a shell, a URL or
    # git's option parser could misuse: no leading '-', no '..' anywhere.
    "ref": r"\A(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\Z",
    # A commit SHA or an abbreviation of one.
    "sha": r"\A[0-9a-fA-F]{4,40}\Z",
    # A PostgreSQL database name we create or accept: at most 63 bytes (longer
    # names are truncated by the server), no quoting needed in our messages.
    "db_name": r"\A[A-Za-z_][A-Za-z0-9_-]{0,62}\Z",
    # The app's name: the first field of backup names, so no '_' (it separates them).
    "app_name": r"\A[A-Za-z0-9][A-Za-z0-9.-]{0,63}\Z",
    # A Prisma migration directory: <14-digit timestamp>_<name>.
    "migration_name": r"\A[0-9]{14}_[A-Za-z0-9_]+\Z",
    # A Compose service name.
    "service_name": r"\A[A-Za-z0-9][A-Za-z0-9_.-]*\Z",
    # An http(s) URL with a host.
    "url": r"\Ahttps?://[^/\s]+",
    # A URL a credential may be sent to: https, or plain http only to this machine
    # (localhost, 127.0.0.0/8, [::1]), where nothing crosses a network. The loopback
    # host must end where the host ends (127.0.0.1.evil.example and 127.0.0.1@evil are not).
    "secure_url": r"\A(?:https://[^/\s]+|http://(?:localhost|127(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
                  r"|\[::1\])(?::[0-9]{1,5})?(?:[/?#][^\s]*)?\Z)",
    # An absolute path on the server, without control characters.
    "abs_path": r"\A/[^\x00-\x1f]*\Z",
    # A path relative to the repository: no leading '/' or '-', no '..' component.
    "repo_path": r"\A(?!(?:.*/)?\.\.(?:/|\Z))[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}\Z",
    # A run's id (the run protocol: lock holder, ledger records): app_run_id or generated.
    "run_id": r"\A[a-z0-9][a-z0-9-]{0,63}\Z",
    # A non-negative integer as text (AWX survey answers are strings).
    "int": r"\A[0-9]+\Z",
}

# Names that embed other names: built by a function from their parts.
_APP = r"[A-Za-z0-9][A-Za-z0-9.-]*"
_DB = r"[A-Za-z_][A-Za-z0-9_-]*"
_STAMP = r"[0-9]{8}T[0-9]{6}Z"
_BACKUP_COMMIT = r"[0-9a-f]{4,40}|unknown"
DERIVED_KINDS = ("restore", "pre_restore", "verify")


def pattern(kind):
    """The regular expression of a rule in PATTERNS; ValueError for an unknown kind."""
    if kind not in PATTERNS:
        raise ValueError("unknown rule %r (known: %s)" % (kind, ", ".join(sorted(PATTERNS))))
    return PATTERNS[kind]


def is_valid(kind, value):
    return value is not None and re.match(pattern(kind), str(value)) is not None


def unanchored(kind):
    """A rule's pattern without \\A and \\Z, to find such names inside a text."""
    regex = pattern(kind)
    regex = regex[2:] if regex.startswith(r"\A") else regex
    return regex[:-2] if regex.endswith(r"\Z") else regex


def backup_name_pattern(app="", database="", manifest=False):
    """`<app>_<db>_<YYYYmmddTHHMMSSZ>_<commit|unknown>[-N].dump[.json]`; groups app,
    database, stamp, commit, seq. An empty app or database matches any; given ones are
    literal (a '.' in an app name matches only '.')."""
    return r"\A(?P<app>%s)_(?P<database>%s)_(?P<stamp>%s)_(?P<commit>%s)(?:-(?P<seq>[0-9]+))?\.dump%s\Z" % (
        re.escape(app) if app else _APP, re.escape(database) if database else _DB,
        _STAMP, _BACKUP_COMMIT, r"\.json" if manifest else "")


def parse_backup_name(name, app="", database=""):
    """Fields of one of our backup (or manifest) file names, else None:
    name (of the backup, without .json), app, database, stamp, commit, seq (int)."""
    name = str(name or "")
    is_manifest = name.endswith(".json")
    match = re.match(backup_name_pattern(app, database, manifest=is_manifest), name)
    if not match:
        return None
    fields = match.groupdict()
    fields["seq"] = int(fields["seq"] or 0)
    fields["name"] = name[:-len(".json")] if is_manifest else name
    return fields


def derived_db_pattern(database, kinds=DERIVED_KINDS):
    """`<db>_<kind>_<YYYYmmddHHMMSS>`: the scratch, pre-restore and verify databases of db."""
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    return r"\A%s_(?:%s)_[0-9]{14}\Z" % (re.escape(database), "|".join(re.escape(k) for k in kinds))


def is_derived_db(name, database, kinds=DERIVED_KINDS):
    """True when name is a scratch, pre-restore or verify database of database (derived_db_pattern)."""
    return bool(name) and bool(database) and re.match(derived_db_pattern(database, kinds), str(name)) is not None


# --------------------------------------------------------------------------- migrations

REVERT_WORD = "revert_"
_MIGRATION_PARTS = re.compile(r"\A(?P<stamp>[0-9]{14})_(?P<rest>.+)\Z")


def migration_parts(name):
    """(stamp, rest) of `<14 digits>_<rest>`, else None."""
    match = _MIGRATION_PARTS.match(str(name or ""))
    return (match.group("stamp"), match.group("rest")) if match else None


def revert_migration_name(name, stamp):
    """The revert of `<ts>_<rest>` written at stamp (YYYYmmddHHMMSS): `<stamp>_revert_<rest>`."""
    parts = migration_parts(name)
    return "%s_%s%s" % (stamp, REVERT_WORD, parts[1] if parts else name)


def reverted_migration(name):
    """The `<rest>` a revert migration `<ts>_revert_<rest>` undoes, else None."""
    parts = migration_parts(name)
    if not parts or not parts[1].startswith(REVERT_WORD):
        return None
    return parts[1][len(REVERT_WORD):]


def is_revert_of(candidate, name):
    """True when candidate is `<ts>_revert_<rest>` for name `<ts>_<rest>`."""
    parts = migration_parts(name)
    return parts is not None and reverted_migration(candidate) == parts[1]


# --------------------------------------------------------------------------- SQL

# Transaction control at statement level. Dollar-quoted bodies, comments and strings
# are removed first, so DO $$ BEGIN ... END $$ and CASE ... END do not count.
_SQL_DOLLAR = re.compile(r"(?s)\$([A-Za-z_0-9]*)\$.*?\$\1\$")
_SQL_BLOCK_COMMENT = re.compile(r"(?s)/\*.*?\*/")
_SQL_LINE_COMMENT = re.compile(r"--[^\n]*")
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_SQL_TXN = re.compile(
    r"(?i)(?:^|;)\s*(begin|commit|rollback|end|abort|start\s+transaction|prepare\s+transaction)\b")


def sql_code(sql):
    """The SQL without dollar-quoted bodies, comments and string contents."""
    code = _SQL_DOLLAR.sub(" ", sql or "")
    code = _SQL_BLOCK_COMMENT.sub(" ", code)
    code = _SQL_LINE_COMMENT.sub(" ", code)
    return _SQL_STRING.sub("''", code)


def transaction_control(sql):
    """Statement-level transaction control words in sql, upper case, in order."""
    return [" ".join(word.upper().split()) for word in _SQL_TXN.findall(sql_code(sql))]


# --------------------------------------------------------------------------- secrets

MASK = "********"
# Keys of settings whose values are secrets whatever they look like (case-insensitive,
# anywhere in the key): PASS covers PASSWORD, PGPASS, DB_PASS, PASSPHRASE.
SECRET_KEY_PATTERN = "PASS|SECRET|TOKEN|KEY|DSN|CRED|AUTH"
# ://user:<password>@ in any URL.
URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]+)@")
# PGPASSWORD=..., password: ... in command output.
KV_PASSWORD = re.compile(r"((?:PGPASSWORD|POSTGRES_PASSWORD|password)\s*[=:]\s*)(\S+)", re.I)
# Secrets shorter than this are not masked everywhere (they would mask ordinary words).
MIN_SECRET = 4
# Keys whose values name something (a user, a database, a host, a port, a mode) rather
# than grant access: shown as they are, unless the key also looks secret.
PUBLIC_KEY = re.compile(r"(?:\A|_)(?:USER|USERNAME|DB|DATABASE|NAME|HOST|HOSTNAME|PORT|ENV|TZ|LEVEL|MODE|VERSION|DIR|PATH)\Z",
                        re.I)
# Values too common to be anyone's secret: masking them would mask ordinary output.
PLAIN_WORDS = frozenset(("true", "false", "yes", "no", "on", "off", "null", "none", "enabled", "disabled"))
_NUMBER = re.compile(r"\A[+-]?[0-9]+(?:\.[0-9]+)?\Z")
# scheme://user[:password]@host...: the credential part of a URL.
_URL_CREDENTIAL = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^:/@\s]*)(?::(?P<password>[^@/\s]*))?@")


def _secret_forms(secrets):
    forms = set()
    for secret in secrets or ():
        secret = str(secret or "")
        if secret:
            forms.update((secret, quote(secret, safe=""), quote(secret, safe="~")))
    # Longest first: a secret is replaced before any secret that is part of it.
    return sorted(forms, key=lambda s: (-len(s), s))


def mask_text(text, secrets=()):
    """text with every given secret (raw or URL-encoded), every password inside a URL
    and every password=/PGPASSWORD= value replaced by ********."""
    if text is None:
        return ""
    text = str(text)
    forms = _secret_forms(secrets)
    if forms:
        text = re.sub("|".join(re.escape(f) for f in forms), MASK, text)
    text = URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
    return KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)


def _secret_key(key_pattern, at_start=r"(?:export\s+)?"):
    return r"%s[A-Za-z0-9_.]*(?:%s)[A-Za-z0-9_.]*\s*=" % (at_start, key_pattern or SECRET_KEY_PATTERN)


def _env_settings(text):
    """(key, value) of every setting of an env file, parsed as Compose does (quotes,
    `export `, an unquoted value ends at ` #`); commented-out settings count too (an old
    password in a comment is still a password)."""
    settings = []
    for line in str(text or "").splitlines():
        settings.extend(parse_env_file(re.sub(r"\A\s*#\s*", "", line)).items())
    return settings


def env_value_secrets(key, value, key_pattern=SECRET_KEY_PATTERN):
    """The secrets one env setting holds. Every value is a secret, except:
    - values shorter than MIN_SECRET characters, and common words (PLAIN_WORDS: true,
      false, on, off, ...): masking those everywhere would mask ordinary output;
    - numbers, and values of keys that name something (PUBLIC_KEY: ..._USER, ..._DB,
      ..._NAME, ..._HOST, ..._PORT, ..._ENV, ...), unless the key matches key_pattern;
    - a URL with user and password: only the password (the address stays readable);
      a URL with a user and no password (a DSN, a token as user): the URL and the user.
    """
    value = str(value or "").strip()
    if len(value) < MIN_SECRET or value.lower() in PLAIN_WORDS:
        return []
    url = _URL_CREDENTIAL.match(value)
    if url:
        found = [url.group("password")] if url.group("password") else [value, url.group("user")]
    elif re.search(key_pattern or SECRET_KEY_PATTERN, key, re.I):
        found = [value]
    elif _NUMBER.match(value) or PUBLIC_KEY.search(key):
        found = []
    else:
        found = [value]
    return [secret for secret in found if len(secret) >= MIN_SECRET]


def env_secret_values(text, key_pattern=SECRET_KEY_PATTERN):
    """The secrets of an env file (env_value_secrets of each setting), without
    duplicates, in reverse order (a value comes before any value that is its prefix)."""
    values = set()
    for key, value in _env_settings(text):
        values.update(env_value_secrets(key, value, key_pattern))
    return sorted(values, reverse=True)


def mask_env_text(text, key_pattern=SECRET_KEY_PATTERN):
    """The env file with the whole value of every secret-looking key (commented out too,
    however short) replaced by ********, and every other secret (env_secret_values)
    masked where it appears; other lines as they are."""
    line = re.compile(r"^(\s*(?:#\s*)?%s).*$" % _secret_key(key_pattern), re.I | re.M)
    masked = line.sub(lambda m: m.group(1) + MASK, str(text or ""))
    return mask_text(masked, env_secret_values(text, key_pattern))
