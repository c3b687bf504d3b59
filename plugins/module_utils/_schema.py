# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether older code still works on a schema a migration produced, judged from its SQL.

Controller side only: the SQL is parsed by PostgreSQL's own parser (pglast, libpg_query),
which the managed servers never need. Each statement gets a class:

- ``compatible``: code written before the migration keeps working (new objects it never
  names, nullable or defaulted columns, NOT VALID constraints, comments);
- ``incompatible``: older code can break (drops, renames, type changes, new NOT NULL or
  validated constraints, data changes) - and anything not recognised or not parsed, since
  a gate that lets through what it does not understand is no gate;
- ``neutral``: transaction control and session settings, which change no schema.

and lint findings modelled on squawk's rules (locks and rewrites on tables that exist).
"""

from __future__ import annotations

try:
    from pglast import ast, parse_sql, split
    from pglast.enums import AlterTableType, ConstrType, NullTestType, ObjectType
    from pglast.parser import ParseError
    HAS_PGLAST = True
except ImportError:  # the filter reports it, naming the fix
    HAS_PGLAST = False

COMPATIBLE, INCOMPATIBLE, NEUTRAL = "compatible", "incompatible", "neutral"

SERIAL_TYPES = frozenset(("smallserial", "serial", "bigserial", "serial2", "serial4", "serial8"))
# Evaluated per row when a column is added: PostgreSQL rewrites the whole table.
VOLATILE_FUNCTIONS = frozenset(("random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
                                "uuid_generate_v4", "uuidv4", "uuidv7", "clock_timestamp", "timeofday",
                                "nextval", "txid_current"))
# Evaluated once: no rewrite, but every existing row gets the migration's time.
TIME_FUNCTIONS = frozenset(("now", "transaction_timestamp", "statement_timestamp"))
TRANSACTION_CONTROL = frozenset(("BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE",
                                 "ROLLBACK_TO"))


class SchemaParserMissing(Exception):
    """pglast is not importable on the controller."""


def statement(klass, kind, reason, lint=()):
    return {"class": klass, "kind": kind, "reason": reason, "lint": list(lint)}


# Findings whose cost grows with the table: a lock held while every row is scanned, rewritten or
# indexed (the others - a drop, a rename, a time default - cost the same on any table).
LOCKING_RULES = frozenset(("require-concurrent-index-creation", "changing-column-type", "adding-foreign-key-constraint",
                           "constraint-missing-not-valid", "disallowed-unique-constraint", "adding-not-nullable-field",
                           "adding-field-with-default"))


def finding(rule, reason, locks=None):
    """A lint finding; locks: its lock lasts as long as the table is big (default: by its rule)."""
    return {"rule": rule, "reason": reason, "locks": rule in LOCKING_RULES if locks is None else locks}


def quoted(name):
    return '"%s"' % name


def relation_name(rangevar):
    if rangevar.schemaname:
        return "%s.%s" % (quoted(rangevar.schemaname), quoted(rangevar.relname))
    return quoted(rangevar.relname)


def names(nodes):
    """A dotted name from pglast String nodes (type names, function names, DROP objects)."""
    return [getattr(n, "sval", None) or "" for n in nodes or ()]


def walk(node):
    """Every AST node under node (itself included)."""
    if isinstance(node, ast.Node):
        yield node
        for attr in type(node).__slots__:
            yield from walk(getattr(node, attr, None))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)


class Context:
    """What earlier statements of the same migration did, for the later ones."""

    def __init__(self):
        self.created = set()           # (schema or "", table) of tables this migration creates
        self.not_null_checks = {}      # NOT VALID CHECK (col IS NOT NULL): name -> (table key, column)
        self.validated_not_null = set()  # (table key, column) with a validated CHECK (col IS NOT NULL)
        self.null_columns = set()      # (table key, column) added here, nullable without a default

    def all_new_null(self, rangevar, columns):
        """Every column is one this migration added as nullable without a default: older code
        leaves them NULL, which a unique key or a foreign key never refuses."""
        return bool(columns) and all((self.key(rangevar), c) in self.null_columns for c in columns)

    @staticmethod
    def key(rangevar):
        return (rangevar.schemaname or "", rangevar.relname)

    def is_new(self, rangevar):
        """Created earlier in this migration (an unqualified name matches any schema)."""
        return self.is_new_key(self.key(rangevar))

    def is_new_key(self, key):
        schema, table = key
        return any(table == t and (schema == s or not schema or not s) for s, t in self.created)


# ---------------------------------------------------------------- CREATE ...

def create_table(node, ctx):
    if isinstance(node, ast.CreateStmt):
        kind, rel = "CREATE TABLE", node.relation
    else:  # CREATE TABLE ... AS, CREATE MATERIALIZED VIEW
        kind, rel = "CREATE %s AS" % node.objtype.name.replace("OBJECT_", ""), node.into.rel
    ctx.created.add(ctx.key(rel))
    return statement(COMPATIBLE, kind, "new table %s: older code does not use it" % relation_name(rel))


def create_index(node, ctx):
    kind = "CREATE UNIQUE INDEX" if node.unique else "CREATE INDEX"
    table = relation_name(node.relation)
    if ctx.is_new(node.relation):
        return statement(COMPATIBLE, kind, "index on %s, a table this migration creates" % table)
    lint = [] if node.concurrent else [finding(
        "require-concurrent-index-creation",
        "CREATE INDEX without CONCURRENTLY blocks writes to %s while the index builds" % table)]
    columns = [e.name for e in node.indexParams]
    if node.unique and not node.nulls_not_distinct and ctx.all_new_null(node.relation, columns):
        return statement(COMPATIBLE, kind, "unique index on %s over columns this migration adds as nullable: "
                         "older code leaves them NULL" % table, lint)
    if node.unique:
        return statement(INCOMPATIBLE, kind, "new unique index on the existing table %s: older code can "
                         "write duplicates, which now fail" % table, lint)
    return statement(COMPATIBLE, kind, "new index on %s: older code's queries are unaffected" % table, lint)


def created_name(node):
    """The name a CREATE SEQUENCE / TYPE / EXTENSION / SCHEMA gives its object."""
    for attr in ("sequence", "typevar"):
        if getattr(node, attr, None) is not None:
            return relation_name(getattr(node, attr))
    if getattr(node, "typeName", None):
        return ".".join(quoted(n) for n in names(node.typeName))
    return quoted(getattr(node, "extname", None) or getattr(node, "schemaname", None) or "?")


def create_object(kind, what):
    def judge(node, ctx):  # pylint: disable=unused-argument
        return statement(COMPATIBLE, kind, "new %s %s: older code does not use it" % (what, created_name(node)))
    return judge


def create_view(node, ctx):  # pylint: disable=unused-argument
    if node.replace:
        return statement(INCOMPATIBLE, "CREATE OR REPLACE VIEW", "replaces the definition of view %s, "
                         "which older code may read" % relation_name(node.view))
    return statement(COMPATIBLE, "CREATE VIEW", "new view %s: older code does not use it" % relation_name(node.view))


def comment(node, ctx):  # pylint: disable=unused-argument
    return statement(COMPATIBLE, "COMMENT", "a comment changes no behaviour")


# ---------------------------------------------------------------- ALTER TABLE

def column_constraints(coldef):
    return {c.contype: c for c in coldef.constraints or ()}


def default_finding(expr, column, table):
    """squawk's adding-field-with-default: what a DEFAULT costs on a table with rows."""
    for node in walk(expr):
        if isinstance(node, ast.FuncCall):
            name = names(node.funcname)[-1].lower()
            if name in VOLATILE_FUNCTIONS:
                return finding("adding-field-with-default", "the volatile default %s() of %s rewrites all of %s "
                               "under an ACCESS EXCLUSIVE lock" % (name, quoted(column), table))
            if name in TIME_FUNCTIONS:
                return finding("adding-field-with-default", "the default %s() of %s is evaluated once: every "
                               "existing row of %s gets the migration's time" % (name, quoted(column), table),
                               locks=False)
        if isinstance(node, ast.SQLValueFunction):
            return finding("adding-field-with-default", "the default of %s is the migration's time for every "
                           "existing row of %s" % (quoted(column), table), locks=False)
    return None


def add_column(cmd, rangevar, ctx):
    coldef, table = cmd.def_, relation_name(rangevar)
    column = quoted(coldef.colname)
    if ctx.is_new(rangevar):
        return COMPATIBLE, "column %s of %s, a table this migration creates" % (column, table), []
    cons = column_constraints(coldef)
    serial = names(coldef.typeName.names)[-1].lower() in SERIAL_TYPES
    has_default = serial or bool({ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_IDENTITY,
                                  ConstrType.CONSTR_GENERATED} & set(cons))
    not_null = coldef.is_not_null or bool({ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY} & set(cons))
    lint = []
    if serial:
        lint.append(finding("adding-field-with-default", "the serial column %s fills every existing row of %s "
                            "from a sequence: a rewrite under an ACCESS EXCLUSIVE lock" % (column, table)))
    elif ConstrType.CONSTR_DEFAULT in cons:
        lint.extend(filter(None, [default_finding(cons[ConstrType.CONSTR_DEFAULT].raw_expr, coldef.colname, table)]))
    if not_null and not has_default:
        lint.append(finding("adding-required-field", "NOT NULL column %s without a default fails on a %s "
                            "that has rows" % (column, table)))
        return INCOMPATIBLE, ("NOT NULL column %s without a default on %s: older code inserts rows "
                              "without it, which fail" % (column, table)), lint
    if ConstrType.CONSTR_CHECK in cons:
        return INCOMPATIBLE, "column %s of %s has a CHECK constraint older code can violate" % (column, table), lint
    if ConstrType.CONSTR_FOREIGN in cons:
        lint.append(finding("adding-foreign-key-constraint", "the foreign key on the new column %s locks %s and "
                            "the referenced table" % (column, table)))
    if not has_default:
        ctx.null_columns.add((ctx.key(rangevar), coldef.colname))
    how = "with a default" if has_default else "nullable"
    return COMPATIBLE, "new column %s on %s, %s: older code does not write it" % (column, table, how), lint


def is_not_null_check(con):
    expr = con.raw_expr
    if (isinstance(expr, ast.NullTest) and expr.nulltesttype == NullTestType.IS_NOT_NULL
            and isinstance(expr.arg, ast.ColumnRef)):
        return names(expr.arg.fields)[-1]
    return None


CONSTRAINT_WORDS = {ConstrType.CONSTR_CHECK: "CHECK", ConstrType.CONSTR_FOREIGN: "FOREIGN KEY",
                    ConstrType.CONSTR_UNIQUE: "UNIQUE", ConstrType.CONSTR_PRIMARY: "PRIMARY KEY",
                    ConstrType.CONSTR_EXCLUSION: "EXCLUDE"} if HAS_PGLAST else {}


def add_constraint(cmd, rangevar, ctx):
    con, table = cmd.def_, relation_name(rangevar)
    word = CONSTRAINT_WORDS.get(con.contype, "constraint")
    label = "%s constraint %s" % (word, quoted(con.conname)) if con.conname else "%s constraint" % word
    column = is_not_null_check(con) if con.contype == ConstrType.CONSTR_CHECK else None
    if column:
        if con.skip_validation:
            ctx.not_null_checks[con.conname] = (ctx.key(rangevar), column)
        else:
            ctx.validated_not_null.add((ctx.key(rangevar), column))
    if ctx.is_new(rangevar):
        return COMPATIBLE, "%s on %s, a table this migration creates" % (label, table), []
    if con.skip_validation:
        return COMPATIBLE, "%s on %s is NOT VALID: existing rows are not checked" % (label, table), []
    lint = []
    columns = names(con.fk_attrs if con.contype == ConstrType.CONSTR_FOREIGN else con.keys)
    keyed = con.contype in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_UNIQUE) and not con.nulls_not_distinct
    if con.contype == ConstrType.CONSTR_FOREIGN:
        lint.append(finding("adding-foreign-key-constraint", "a validated foreign key locks %s and the referenced "
                            "table while every row is checked; add it NOT VALID, then VALIDATE CONSTRAINT" % table))
    elif con.contype == ConstrType.CONSTR_CHECK:
        lint.append(finding("constraint-missing-not-valid", "a validated CHECK scans all of %s under a lock; add it "
                            "NOT VALID, then VALIDATE CONSTRAINT" % table))
    elif con.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and not con.indexname:
        lint.append(finding("disallowed-unique-constraint", "builds a unique index on %s blocking writes; create it "
                            "CONCURRENTLY first and add the constraint USING INDEX" % table))
    if keyed and ctx.all_new_null(rangevar, columns):
        return COMPATIBLE, "%s on %s over columns this migration adds as nullable: older code leaves them " \
            "NULL" % (label, table), lint
    return INCOMPATIBLE, "new %s on the existing table %s: older code can write rows it refuses" % (label, table), lint


def set_not_null(cmd, rangevar, ctx):
    table, column = relation_name(rangevar), quoted(cmd.name)
    if ctx.is_new(rangevar):
        return COMPATIBLE, "column %s of %s, a table this migration creates" % (column, table), []
    lint = []
    if (ctx.key(rangevar), cmd.name) not in ctx.validated_not_null:
        lint.append(finding("adding-not-nullable-field", "SET NOT NULL scans all of %s under an ACCESS EXCLUSIVE "
                            "lock; validate a CHECK (%s IS NOT NULL) first" % (table, column)))
    return INCOMPATIBLE, "%s of %s becomes NOT NULL: older code can insert rows without it" % (column, table), lint


def alter_type(cmd, rangevar, ctx):
    table, column = relation_name(rangevar), quoted(cmd.name)
    if ctx.is_new(rangevar):
        return COMPATIBLE, "column %s of %s, a table this migration creates" % (column, table), []
    lint = [finding("changing-column-type", "changing the type of %s rewrites %s under an ACCESS EXCLUSIVE lock"
                    % (column, table))]
    return INCOMPATIBLE, "%s of %s changes type: older code reads and writes the old one" % (column, table), lint


def drop_column(cmd, rangevar, ctx):
    table, column = relation_name(rangevar), quoted(cmd.name)
    if ctx.is_new(rangevar):
        return COMPATIBLE, "column %s of %s, a table this migration creates" % (column, table), []
    lint = [finding("ban-drop-column", "dropping %s of %s loses its data; older code still selects it"
                    % (column, table))]
    return INCOMPATIBLE, "drops column %s of %s, which older code reads and writes" % (column, table), lint


def simple_cmd(klass, text):
    def judge(cmd, rangevar, ctx):
        if klass == INCOMPATIBLE and ctx.is_new(rangevar):
            return COMPATIBLE, "%s, a table this migration creates" % relation_name(rangevar), []
        return klass, text % {"table": relation_name(rangevar), "name": quoted(cmd.name or "")}, []
    return judge


def validate_constraint(cmd, rangevar, ctx):
    target = ctx.not_null_checks.pop(cmd.name, None)
    if target:
        ctx.validated_not_null.add(target)
    return (COMPATIBLE, "validates %s on %s: only existing rows are checked, new writes already were"
            % (quoted(cmd.name), relation_name(rangevar)), [])


ALTER_COMMANDS = {
    AlterTableType.AT_AddColumn: ("ADD COLUMN", add_column),
    AlterTableType.AT_AddConstraint: ("ADD CONSTRAINT", add_constraint),
    AlterTableType.AT_SetNotNull: ("SET NOT NULL", set_not_null),
    AlterTableType.AT_AlterColumnType: ("ALTER COLUMN TYPE", alter_type),
    AlterTableType.AT_DropColumn: ("DROP COLUMN", drop_column),
    AlterTableType.AT_ValidateConstraint: ("VALIDATE CONSTRAINT", validate_constraint),
    AlterTableType.AT_DropNotNull: ("DROP NOT NULL", simple_cmd(
        INCOMPATIBLE, "%(name)s of %(table)s becomes nullable: rows written now can have NULL where older code "
        "expects a value")),
    AlterTableType.AT_DropConstraint: ("DROP CONSTRAINT", simple_cmd(
        INCOMPATIBLE, "drops constraint %(name)s of %(table)s, which older code may rely on (a unique key for "
        "upserts, a foreign key for relations)")),
} if HAS_PGLAST else {}


def alter_table(node, ctx):
    if node.objtype != ObjectType.OBJECT_TABLE:
        return unrecognised(node, ctx)
    results = []
    for cmd in node.cmds:
        word, judge = ALTER_COMMANDS.get(cmd.subtype, (None, None))
        if judge is None:
            if cmd.subtype == AlterTableType.AT_ColumnDefault:  # SET DEFAULT, or DROP DEFAULT (def_ None)
                word = "SET DEFAULT" if cmd.def_ is not None else "DROP DEFAULT"
                judge = simple_cmd(COMPATIBLE, "default of %(name)s of %(table)s: older code that omits the "
                                   "column gets it") if cmd.def_ is not None else simple_cmd(
                    INCOMPATIBLE, "drops the default of %(name)s of %(table)s: older code that omits the column "
                    "may rely on it")
            else:
                word = cmd.subtype.name.replace("AT_", "")
                judge = simple_cmd(INCOMPATIBLE, "ALTER TABLE %s of %%(table)s is not recognised: judged "
                                   "incompatible" % word)
        results.append((word,) + judge(cmd, node.relation, ctx))
    klass = INCOMPATIBLE if any(r[1] == INCOMPATIBLE for r in results) else COMPATIBLE
    words = list(dict.fromkeys(r[0] for r in results))
    reasons = list(dict.fromkeys(r[2] for r in results if r[1] == klass))
    lint = [f for r in results for f in r[3]]
    return statement(klass, "ALTER TABLE " + ", ".join(words), "; ".join(reasons), lint)


# ---------------------------------------------------------------- DROP, RENAME, data

def object_name(obj):
    """A DROP target: a list of String nodes, or a TypeName (DROP TYPE)."""
    parts = names(obj.names) if isinstance(obj, ast.TypeName) else names(obj if isinstance(obj, (list, tuple)) else [obj])
    return ".".join(quoted(p) for p in parts)


def drop(node, ctx):  # pylint: disable=unused-argument
    what = node.removeType.name.replace("OBJECT_", "").replace("_", " ")
    objects = ", ".join(object_name(obj) for obj in node.objects or ())
    lint = []
    if node.removeType == ObjectType.OBJECT_TABLE:
        lint.append(finding("ban-drop-table", "dropping %s loses its data; older code still uses it" % objects))
    return statement(INCOMPATIBLE, "DROP " + what, "drops %s %s, which older code may use" % (what.lower(), objects),
                     lint)


def rename(node, ctx):  # pylint: disable=unused-argument
    kind = node.renameType
    if kind == ObjectType.OBJECT_COLUMN:
        table, column = relation_name(node.relation), quoted(node.subname)
        return statement(INCOMPATIBLE, "RENAME COLUMN", "renames %s of %s to %s: older code uses the old name"
                         % (column, table, quoted(node.newname)),
                         [finding("renaming-column", "older code selecting %s of %s fails" % (column, table))])
    if kind == ObjectType.OBJECT_TABLE:
        table = relation_name(node.relation)
        return statement(INCOMPATIBLE, "RENAME TABLE", "renames %s to %s: older code uses the old name"
                         % (table, quoted(node.newname)),
                         [finding("renaming-table", "older code using %s fails" % table)])
    if kind == ObjectType.OBJECT_INDEX:  # Prisma's `-- RenameIndex`
        return statement(COMPATIBLE, "RENAME INDEX", "renames index %s: queries do not name indexes"
                         % relation_name(node.relation))
    what = kind.name.replace("OBJECT_", "").replace("_", " ")
    return statement(INCOMPATIBLE, "RENAME " + what, "renames a %s to %s: older code may use the old name"
                     % (what.lower(), quoted(node.newname)))


def data_change(verb):
    def judge(node, ctx):
        target = node.relation
        if ctx.is_new(target):
            return statement(COMPATIBLE, verb, "%s on %s, a table this migration creates"
                             % (verb, relation_name(target)))
        return statement(INCOMPATIBLE, verb, "changes the data of %s: older code may not expect the rows as "
                         "they are now, and rolling the code back does not undo it" % relation_name(target))
    return judge


def alter_enum(node, ctx):  # pylint: disable=unused-argument
    enum = ".".join(quoted(n) for n in names(node.typeName))
    return statement(INCOMPATIBLE, "ALTER TYPE", "changes the values of enum %s: older code cannot read rows "
                     "with a value it does not know" % enum)


def transaction(node, ctx):  # pylint: disable=unused-argument
    word = node.kind.name.replace("TRANS_STMT_", "")
    if word not in TRANSACTION_CONTROL:
        return unrecognised(node, ctx)
    return statement(NEUTRAL, word.replace("_", " "), "transaction control changes no schema")


def session_setting(node, ctx):  # pylint: disable=unused-argument
    return statement(NEUTRAL, "SET", "a setting of the migration's session (%s)" % (node.name or "ALL"))


def procedural(kind):
    def judge(node, ctx):  # pylint: disable=unused-argument
        return statement(INCOMPATIBLE, kind, "%s runs a procedural body ($$ ... $$) that cannot be judged from "
                         "its SQL: judged incompatible" % kind)
    return judge


def unrecognised(node, ctx):  # pylint: disable=unused-argument
    name = type(node).__name__
    return statement(INCOMPATIBLE, "unrecognised (%s)" % name,
                     "%s is not a statement this check recognises: judged incompatible" % name)


JUDGES = {
    "CreateStmt": create_table,
    "CreateTableAsStmt": create_table,
    "IndexStmt": create_index,
    "CreateSeqStmt": create_object("CREATE SEQUENCE", "sequence"),
    "CreateEnumStmt": create_object("CREATE TYPE", "enum type"),
    "CompositeTypeStmt": create_object("CREATE TYPE", "composite type"),
    "CreateExtensionStmt": create_object("CREATE EXTENSION", "extension"),
    "CreateSchemaStmt": create_object("CREATE SCHEMA", "schema"),
    "ViewStmt": create_view,
    "CommentStmt": comment,
    "AlterTableStmt": alter_table,
    "DropStmt": drop,
    "RenameStmt": rename,
    "InsertStmt": data_change("INSERT"),
    "UpdateStmt": data_change("UPDATE"),
    "DeleteStmt": data_change("DELETE"),
    "AlterEnumStmt": alter_enum,
    "TransactionStmt": transaction,
    "VariableSetStmt": session_setting,
    "DoStmt": procedural("DO"),
    "CreateFunctionStmt": procedural("CREATE FUNCTION"),
}


# ---------------------------------------------------------------- tables touched

def table_label(key):
    """(schema or "", table) -> the name as the SQL writes it, quoted: "Tag", "app"."Tag"."""
    return ".".join(quoted(part) for part in key if part)


def touched(node):
    """(schema or "", table) of every table a statement works on, in order and once each: the target
    of CREATE TABLE, ALTER TABLE, CREATE INDEX ... ON, DROP TABLE, a table, column or constraint
    RENAME, INSERT / UPDATE / DELETE, TRUNCATE, and the table a foreign key references (locked while
    the key is checked). Index, type and view names are not tables."""
    keys = []
    kind = type(node).__name__
    if kind in ("CreateStmt", "IndexStmt", "InsertStmt", "UpdateStmt", "DeleteStmt"):
        keys.append(Context.key(node.relation))
    elif kind == "CreateTableAsStmt":
        keys.append(Context.key(node.into.rel))
    elif kind == "AlterTableStmt" and node.objtype == ObjectType.OBJECT_TABLE:
        keys.append(Context.key(node.relation))
    elif kind == "RenameStmt" and node.renameType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN,
                                                      ObjectType.OBJECT_TABCONSTRAINT):
        keys.append(Context.key(node.relation))
    elif kind == "DropStmt" and node.removeType == ObjectType.OBJECT_TABLE:
        for obj in node.objects or ():
            parts = names(obj if isinstance(obj, (list, tuple)) else [obj])
            keys.append(tuple(([""] + parts)[-2:]))
    elif kind == "TruncateStmt":
        keys.extend(Context.key(rel) for rel in node.relations or ())
    if keys and kind != "DropStmt":
        keys.extend(Context.key(n.pktable) for n in walk(node)
                    if isinstance(n, ast.Constraint) and n.contype == ConstrType.CONSTR_FOREIGN and n.pktable)
    return list(dict.fromkeys(keys))


# ---------------------------------------------------------------- statements

def trimmed(text):
    return text.strip().rstrip(";").strip()


def unparsed(text, error):
    return dict(statement(INCOMPATIBLE, "unparsed", "does not parse (%s): judged incompatible" % error),
                statement=trimmed(text), tables=[])


def split_statements(sql):
    """[(text, node or None, parse error)]: the whole text parsed at once; when that fails, split by
    the scanner (which knows quotes, comments and $$ bodies) and each piece parsed alone, so one bad
    statement does not hide the others."""
    # A plain str: pglast refuses str subclasses, such as ansible-core 2.19's tagged strings (SQL
    # that came through a variable).
    sql = str(sql)
    try:
        raws = parse_sql(sql)
    except ParseError:
        pass
    else:
        return [(sql[r.stmt_location:r.stmt_location + r.stmt_len] if r.stmt_len else sql[r.stmt_location:],
                 r.stmt, None) for r in raws]
    try:
        pieces = list(split(sql, with_parser=False))
    except ParseError as exc:  # an unterminated quote or $$: nothing can be split
        return [(sql, None, exc.args[0])]
    result = []
    for piece in pieces:
        try:
            result.append((piece, parse_sql(piece)[0].stmt, None))
        except ParseError as exc:
            result.append((piece, None, exc.args[0]))
    return result


def classify_sql(sql):
    """The statements of one migration's SQL, each with class, kind, reason, lint and its text."""
    if not HAS_PGLAST:
        raise SchemaParserMissing("pglast")
    ctx = Context()
    result = []
    for text, node, error in split_statements(sql):
        if node is None:
            result.append(unparsed(text, error))
            continue
        judge = JUDGES.get(type(node).__name__, unrecognised)
        judged = dict(judge(node, ctx), statement=trimmed(text))
        # After the judge: a CREATE TABLE has added its table to the ones this migration creates.
        judged["tables"] = [{"schema": key[0], "name": key[1], "table": table_label(key), "new": ctx.is_new_key(key)}
                            for key in touched(node)]
        result.append(judged)
    return result


# ---------------------------------------------------------------- migrations

def migration_verdict(name, sql):
    """One migration: its statements, class (incompatible when any statement is, or when its SQL is
    missing), lint findings and a one-line summary naming the statements that decided."""
    if sql is None:
        statements = [dict(statement(INCOMPATIBLE, "missing", "the migration's SQL was not found: it cannot be "
                                     "judged"), statement="", tables=[])]
    else:
        statements = classify_sql(sql)
    klass = INCOMPATIBLE if any(s["class"] == INCOMPATIBLE for s in statements) else COMPATIBLE
    deciding = [s["reason"] for s in statements if s["class"] == klass]
    why = "; ".join(dict.fromkeys(deciding)) or "no statements"
    tables = {}  # the first statement naming a table decides whether it is new (DROP then CREATE: it is not)
    for s in statements:
        for t in s["tables"]:
            tables.setdefault((t["schema"], t["name"]), t)
    return {"name": name, "class": klass, "statements": statements,
            "lint": [dict(f, statement=s["statement"], tables=[t["table"] for t in s["tables"] if not t["new"]])
                     for s in statements for f in s["lint"]],
            "tables": list(tables.values()),
            "summary": "%s: %s (%s)" % (name, klass, why)}


def one_line(text):
    return " ".join(text.split())


def classify_migrations(migrations):
    """[{name, sql}] -> the verdict for all: class (incompatible when any migration is), the names of
    each class, per-migration verdicts, summary lines, the incompatible statements (also quoted on
    one line each, for a refusal message) and lint findings with their migration's name."""
    verdicts = [migration_verdict(m["name"], m.get("sql")) for m in migrations]
    bad = [(v["name"], s) for v in verdicts for s in v["statements"] if s["class"] == INCOMPATIBLE]
    return {
        "class": INCOMPATIBLE if any(v["class"] == INCOMPATIBLE for v in verdicts) else COMPATIBLE,
        "compatible": [v["name"] for v in verdicts if v["class"] == COMPATIBLE],
        "incompatible": [v["name"] for v in verdicts if v["class"] == INCOMPATIBLE],
        "migrations": verdicts,
        "summary": [v["summary"] for v in verdicts],
        "incompatible_statements": [
            {"migration": name, "statement": s["statement"], "kind": s["kind"], "reason": s["reason"]}
            for name, s in bad],
        "quoted": ["%s: %s -- %s" % (name, one_line(s["statement"]) or "(no SQL)", s["reason"]) for name, s in bad],
        "lint": [dict(f, migration=v["name"]) for v in verdicts for f in v["lint"]],
    }
