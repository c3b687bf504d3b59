#!/usr/bin/env bun
// Offline stand-in for Prisma's native schema engine (TEST PLUMBING ONLY).
//
// The Prisma 7 CLI starts whatever PRISMA_SCHEMA_ENGINE_BINARY names and talks
// to it exactly as to the native `schema-engine` binary:
//
//   schema-engine-host [--datamodels FILE]... --datasource '{"url":..}'            JSON-RPC over stdio
//   schema-engine-host --datasource '{"url":..}' cli can-connect-to-database      exit 0 / 1
//   schema-engine-host --datasource '{"url":..}' cli create-database              exit 0 / 1
//
// RPC requests are served by @prisma/schema-engine-wasm running over
// @prisma/adapter-pg. The adapter is wrapped to behave like the native engine
// where it matters for `migrate status|deploy|resolve|diff` on PostgreSQL
// (see shared/prisma-offline.md, section 2, beside DESIGN.md):
//   * a migration file is sent to PostgreSQL as ONE simple query (adapter-pg
//     splits on ';', which breaks atomicity and $$ bodies);
//   * a failing migration is reported as P3018, rebuilt from the pg error in
//     the native engine's format (the wasm engine returns it without a code);
//   * result columns of type "char" (OID 18) are reported as text (OID 25),
//     which adapter-pg cannot map otherwise (breaks live-database diffs);
//   * the shadow database is a real temporary database (adapter-pg's own
//     connectToShadowDb silently connects to the main database);
//   * connection failures get their P1000/P1001/P1003/P1010 codes back.
//
// Runs under bun (what the sandbox images have) and under node >= 20.
// Protocol lines go to stdout only; logs go to stderr as JSON lines.

import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";

const DEBUG = !!process.env.SCHEMA_ENGINE_HOST_DEBUG;
const WASM_PKG = "@prisma/schema-engine-wasm";

// ---------------------------------------------------------------------------
// logging (stderr, one JSON object per line, like the native engine's tracing)

function logLine(level, fields, target = "schema_engine_host") {
  process.stderr.write(
    JSON.stringify({ timestamp: new Date().toISOString(), level, fields, target }) + "\n",
  );
}
const debug = (msg, extra) => DEBUG && logLine("DEBUG", { message: msg, ...extra });

// ---------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const out = { datamodels: [], datasource: {}, cli: null, version: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--datamodels") out.datamodels.push(argv[++i]);
    else if (a === "--datasource") out.datasource = JSON.parse(argv[++i]);
    else if (a === "--enabled-preview-features" || a === "--extension-types") i++; // not used here
    else if (a === "--version" || a === "-V") out.version = true;
    else if (a === "cli") {
      out.cli = argv.slice(i + 1);
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// connection URLs

/** Facts about a postgres URL used in error messages (same fields as the native engine). */
function urlInfo(url) {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname || "localhost").replace(/^\[(.*)\]$/, "$1"),
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
    user: decodeURIComponent(u.username || ""),
    schema: u.searchParams.get("schema") || "public",
  };
}

/** The same URL pointing at another database. */
function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

/**
 * pg.Pool/Client config for a Prisma-style URL: Prisma's `schema` parameter
 * becomes the search_path (pg itself ignores it).
 */
function pgConfig(url) {
  const cfg = { connectionString: url };
  const schema = new URL(url).searchParams.get("schema");
  if (schema) cfg.options = `-c search_path="${schema.replace(/"/g, '""')}"`;
  return cfg;
}

// ---------------------------------------------------------------------------
// user-facing errors (messages copied from prisma-engines' user-facing-errors)

class UserFacingError extends Error {
  constructor(code, message, meta = {}) {
    super(message);
    this.errorCode = code;
    this.meta = meta;
  }
}

/** Map a pg connection error to the P1xxx error the native engine would give, or null. */
function connectionError(err, url) {
  const i = urlInfo(url);
  const code = err && err.code;
  if (code === "3D000") {
    return new UserFacingError(
      "P1003",
      `Database \`${i.database}\` does not exist on the database server at \`${i.host}:${i.port}\`.`,
      { database_name: i.database, database_host: i.host, database_port: i.port },
    );
  }
  if (code === "28P01" || (code === "28000" && !/database/.test(err.message))) {
    return new UserFacingError(
      "P1000",
      `Authentication failed against database server at \`${i.host}\`, the provided database credentials for \`${i.user}\` are not valid.\n\nPlease make sure to provide valid database credentials for the database server at \`${i.host}\`.`,
      { database_user: i.user, database_host: i.host },
    );
  }
  if (code === "28000" || code === "42501") {
    const db = `${i.database}.${i.schema}`;
    return new UserFacingError("P1010", `User \`${i.user}\` was denied access on the database \`${db}\``, {
      database_user: i.user,
      database_name: db,
    });
  }
  if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "ENOENT"].includes(code)) {
    return new UserFacingError(
      "P1001",
      `Can't reach database server at \`${i.host}\`:\`${i.port}\`\n\nPlease make sure your database server is running at \`${i.host}\`:\`${i.port}\`.`,
      { database_host: i.host, database_port: i.port },
    );
  }
  return null;
}

/** Try a plain connection; returns null when it works, else the (user-facing if known) error. */
async function probeConnection(url) {
  const client = new pg.Client({ ...pgConfig(url), connectionTimeoutMillis: 10000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (err) {
    return connectionError(err, url) || err;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Rebuild the native engine's P3018 (ApplyMigrationError) from a pg error.
 * Format of `database_error` as in sql-schema-connector (postgres
 * apply_migration_script): "<Display of DbError><Position block>\n\n<Debug of DbError>".
 */
function applyMigrationError(migrationName, dbErr, script) {
  if (!dbErr || typeof dbErr.code !== "string" || !dbErr.severity) {
    const text = String((dbErr && dbErr.message) || dbErr);
    return new UserFacingError("P3018", p3018Message(migrationName, "none", text), {
      migration_name: migrationName,
      database_error_code: "none",
      database_error: text,
    });
  }
  let display = `${dbErr.severity}: ${dbErr.message}`;
  if (dbErr.detail) display += `\nDETAIL: ${dbErr.detail}`;
  if (dbErr.hint) display += `\nHINT: ${dbErr.hint}`;

  let position = "";
  const pos = Number(dbErr.position);
  if (pos > 0 && script) {
    const bold = (s) => `\x1b[1m${s}\x1b[0m`;
    let previous = ["", "", "", "", ""];
    let byteIndex = 0;
    const lines = script.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop(); // like Rust's str::lines
    for (let idx = 0; idx < lines.length; idx++) {
      const line = lines[idx].replace(/\r$/, "");
      const lineNumber = idx + 1;
      byteIndex += Buffer.byteLength(line) + 1;
      if (pos <= byteIndex) {
        const numbered = previous
          .map((l, j) => [lineNumber - (previous.length - j), l])
          .filter(([n]) => n >= 0)
          .map(([n, l]) => `${bold(String(n).padStart(3))}${l ? " " : ""}${l}`)
          .join("\n");
        position = `\n\nPosition:\n${numbered}\n\x1b[1m${String(lineNumber).padStart(3)}\x1b[1;31m ${line}\x1b[0m`;
        break;
      }
      previous = [...previous.slice(1), line];
    }
  }

  const some = (v, f = JSON.stringify) => (v === undefined || v === null ? "None" : `Some(${f(v)})`);
  const sev = { ERROR: "Error", FATAL: "Fatal", PANIC: "Panic", WARNING: "Warning", NOTICE: "Notice", DEBUG: "Debug", INFO: "Info", LOG: "Log" };
  const sqlstate = /^[0-9A-Z]{5}$/.test(dbErr.code) ? `E${dbErr.code}` : `Other(${JSON.stringify(dbErr.code)})`;
  const debugRepr =
    `DbError { severity: ${JSON.stringify(dbErr.severity)}, parsed_severity: ${some(sev[dbErr.severity], (s) => s)}, ` +
    `code: SqlState(${sqlstate}), message: ${JSON.stringify(dbErr.message)}, detail: ${some(dbErr.detail)}, ` +
    `hint: ${some(dbErr.hint)}, position: ${some(dbErr.position, (p) => `Original(${Number(p)})`)}, ` +
    `where_: ${some(dbErr.where)}, schema: ${some(dbErr.schema)}, table: ${some(dbErr.table)}, ` +
    `column: ${some(dbErr.column)}, datatype: ${some(dbErr.dataType)}, constraint: ${some(dbErr.constraint)}, ` +
    `file: ${some(dbErr.file)}, line: ${some(dbErr.line, (l) => String(Number(l)))}, routine: ${some(dbErr.routine)} }`;

  const databaseError = `${display}${position}\n\n${debugRepr}`;
  return new UserFacingError("P3018", p3018Message(migrationName, dbErr.code, databaseError), {
    migration_name: migrationName,
    database_error_code: dbErr.code,
    database_error: databaseError,
  });
}

function p3018Message(migrationName, code, databaseError) {
  return (
    "A migration failed to apply. New migrations cannot be applied before the error is recovered from. " +
    "Read more about how to resolve migration issues in a production database: https://pris.ly/d/migrate-resolve\n\n" +
    `Migration name: ${migrationName}\n\nDatabase error code: ${code}\n\nDatabase error:\n${databaseError}\n`
  );
}

// ---------------------------------------------------------------------------
// `cli` subcommands (run before status/deploy/resolve; no wasm needed)

async function runCli([command], datasource) {
  // The CLI ignores the first stderr line and parses every later one as JSON.
  logLine("INFO", { message: "Starting schema engine CLI (wasm host)" }, "schema_engine::cli");
  const url = datasource.url;
  try {
    if (!url) throw new Error("No datasource url given (--datasource).");
    if (command === "can-connect-to-database") {
      const err = await probeConnection(url);
      if (err) throw err;
      process.stdout.write(JSON.stringify({ message: "Connection successful" }) + "\n");
    } else if (command === "create-database") {
      const name = await createDatabase(url);
      process.stdout.write(JSON.stringify({ message: `Database '${name}' was successfully created.` }) + "\n");
    } else if (command === "drop-database") {
      const i = urlInfo(url);
      await withAdminClient(url, (c) => c.query(`DROP DATABASE "${i.database.replace(/"/g, '""')}"`));
      process.stdout.write(JSON.stringify({ message: `The database was successfully dropped.` }) + "\n");
    } else {
      throw new Error(`Unknown cli command: ${command}`);
    }
    return 0;
  } catch (err) {
    const fields =
      err instanceof UserFacingError
        ? { is_panic: false, error_code: err.errorCode, message: err.message }
        : { is_panic: false, message: String(err && err.message ? err.message : err) };
    logLine("ERROR", fields, "schema_engine::logger");
    return 1;
  }
}

/** Connect to a maintenance database of the server (like the native engine: postgres, template1, defaultdb). */
async function withAdminClient(url, fn) {
  let lastErr;
  for (const db of ["postgres", "template1", "defaultdb"]) {
    const u = new URL(withDatabase(url, db));
    u.searchParams.delete("schema");
    const client = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 10000 });
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (err) {
      lastErr = err;
      await client.end().catch(() => {});
      if (err.code === "3D000" || err.code === "28000" || err.code === "42501") continue;
      throw connectionError(err, url) || err;
    }
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new UserFacingError(
    "P3000",
    "Failed to create database: Prisma could not connect to a default database (`postgres` or `template1`), it cannot create the specified database.",
    { database_error: String(lastErr && lastErr.message) },
  );
}

async function createDatabase(url) {
  const i = urlInfo(url);
  await withAdminClient(url, async (c) => {
    try {
      await c.query(`CREATE DATABASE "${i.database.replace(/"/g, '""')}"`);
    } catch (err) {
      if (err.code === "42P04") {
        throw new UserFacingError(
          "P1009",
          `Database \`${i.database}\` already exists on the database server at \`${i.host}:${i.port}\``,
          { database_name: i.database, database_host: i.host, database_port: i.port },
        );
      }
      throw new UserFacingError("P3000", `Failed to create database: ${err.message}`, { database_error: err.message });
    }
  });
  const c = new pg.Client(pgConfig(url));
  try {
    await c.connect();
    await c.query(`CREATE SCHEMA IF NOT EXISTS "${i.schema.replace(/"/g, '""')}"`);
  } finally {
    await c.end().catch(() => {});
  }
  return i.database;
}

// ---------------------------------------------------------------------------
// the wasm engine

/**
 * Load @prisma/schema-engine-wasm without --experimental-wasm-modules: import
 * the JS glue, instantiate the .wasm beside it with the glue as its import
 * module, and hand the instance back to the glue.
 */
async function loadWasmEngine() {
  // The panic hook of the wasm build reports the panic message here.
  globalThis.PRISMA_WASM_PANIC_REGISTRY = {
    message: null,
    set_message(m) {
      this.message = m;
    },
  };
  const glueUrl = import.meta.resolve(`${WASM_PKG}/schema_engine_bg`);
  const glue = await import(glueUrl);
  const wasmPath = path.join(path.dirname(fileURLToPath(glueUrl)), "schema_engine_bg.wasm");
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmPath), {
    "./schema_engine_bg.js": glue,
  });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return glue;
}

/**
 * Driver adapter factory for the wasm engine: adapter-pg, patched as described
 * at the top of this file. `state.lastDbError` / `state.lastScript` remember
 * the last failing migration script for the P3018 rebuild.
 */
function makeAdapterFactory({ PrismaPg }, datasource, state) {
  const url = datasource.url;
  const schema = url ? new URL(url).searchParams.get("schema") || undefined : undefined;

  function patch(adapter) {
    patchQueryable(adapter);
    // One simple query per script: PostgreSQL runs a multi-statement simple
    // query in one implicit transaction (unless the script itself COMMITs),
    // exactly what the native engine does with the migration file.
    adapter.executeScript = async (script) => {
      try {
        await adapter.underlyingDriver().query(script);
      } catch (err) {
        state.lastDbError = err;
        state.lastScript = script;
        adapter.onError(err); // throws the adapter's DriverAdapterError
      }
    };
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (...args) => patchQueryable(await startTransaction(...args));
    return adapter;
  }

  function patchQueryable(q) {
    const performIO = q.performIO.bind(q);
    q.performIO = async (query) => {
      const result = await performIO(query);
      // "char" (OID 18, e.g. pg_class.relkind) -> text: adapter-pg has no mapping for it.
      for (const f of result.fields || []) if (f.dataTypeID === 18) f.dataTypeID = 25;
      return result;
    };
    const onError = q.onError.bind(q);
    q.onError = (err) => {
      state.lastDbError = err;
      return onError(err);
    };
    return q;
  }

  return {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    async connect() {
      if (!url) throw new Error("No datasource url given (--datasource).");
      return patch(await new PrismaPg(pgConfig(url), { schema }).connect());
    },
    async connectToShadowDb() {
      if (datasource.shadowDatabaseUrl) {
        return patch(await new PrismaPg(pgConfig(datasource.shadowDatabaseUrl), { schema }).connect());
      }
      // A throwaway database on the same server (needs CREATEDB), dropped on dispose.
      const name = `prisma_migrate_shadow_db_${randomUUID()}`;
      await withAdminClient(url, (c) => c.query(`CREATE DATABASE "${name}"`));
      const adapter = patch(await new PrismaPg(pgConfig(withDatabase(url, name)), { schema }).connect());
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        await dispose();
        await withAdminClient(url, (c) => c.query(`DROP DATABASE IF EXISTS "${name}"`));
      };
      return adapter;
    },
  };
}

// ---------------------------------------------------------------------------
// JSON-RPC server

async function runRpc(args) {
  const state = { engine: null, lastDbError: null, lastScript: null, broken: false };
  const datamodels = args.datamodels.length
    ? args.datamodels.map((p) => [p, fs.readFileSync(p, "utf8")])
    : undefined; // never an empty list

  let wasm = null;
  let adapterFactory = null;

  async function getEngine() {
    if (state.engine) return state.engine;
    if (!wasm) {
      const [glue, adapterPg, utils] = await Promise.all([
        loadWasmEngine(),
        import("@prisma/adapter-pg"),
        import("@prisma/driver-adapter-utils"),
      ]);
      wasm = glue;
      adapterFactory = utils.bindMigrationAwareSqlAdapterFactory(makeAdapterFactory(adapterPg, args.datasource, state));
    }
    try {
      state.engine = await wasm.SchemaEngine.new({ datamodels }, onWasmLog, adapterFactory);
    } catch (err) {
      // Connection failures come back without an error code: find out ourselves.
      const probed = args.datasource.url ? await probeConnection(args.datasource.url) : null;
      throw probed instanceof UserFacingError ? probed : err;
    }
    return state.engine;
  }

  function onWasmLog(line) {
    process.stderr.write(String(line).replace(/\n+$/, "") + "\n");
  }

  // --- outgoing requests (the engine asks the CLI to print diff output) ---
  let nextOutgoingId = 1;
  const pendingOutgoing = new Map();
  function requestCli(method, params) {
    const id = `host-${nextOutgoingId++}`;
    return new Promise((resolve) => {
      pendingOutgoing.set(id, resolve);
      send({ jsonrpc: "2.0", id, method, params });
    });
  }

  function send(msg) {
    process.stdout.write(JSON.stringify(msg) + "\n");
  }

  async function call(method, params) {
    if (state.broken) throw new Error("The schema engine panicked earlier in this session.");
    const engine = await getEngine();
    state.lastDbError = null;
    state.lastScript = null;
    switch (method) {
      case "getDatabaseVersion":
        return engine.version(params ?? null);
      case "diff": {
        const res = await engine.diff(params);
        if (res.stdout) await requestCli("print", { content: res.stdout.replace(/\n$/, "") });
        return { exitCode: res.exitCode };
      }
      case "applyMigrations":
        try {
          return await engine.applyMigrations(params);
        } catch (err) {
          debug("applyMigrations failed", { error: String(err && err.message) });
          if (errorCode(err) || !state.lastScript) throw err;
          // Failing migration: the wasm engine lost the code; rebuild P3018.
          // Its span trace names the migration (`... migration_name="..."`);
          // else match the failed script against the files sent by the CLI.
          const traced = /apply_script\s+with migration_name="([^"]+)"/.exec(String(err && err.message));
          const dirs = params?.migrationsList?.migrationDirectories ?? [];
          const dir = dirs.find((d) => d.migrationFile?.content?.value === state.lastScript);
          const name = traced?.[1] ?? dir?.path ?? (await lastStartedMigration(args.datasource.url));
          throw applyMigrationError(name ?? "<unknown>", state.lastDbError, state.lastScript);
        }
      default:
        if (typeof engine[method] !== "function") {
          const e = new Error(`Method not found: ${method}`);
          e.rpcCode = -32601;
          throw e;
        }
        return engine[method](params);
    }
  }

  /** Run `call`, then repair errors whose inner migration error lost its code. */
  async function callAndFixErrors(method, params) {
    try {
      return await call(method, params);
    } catch (err) {
      // A migration that fails on the shadow database (diff --from-migrations,
      // ...) gives P3006 whose inner error is the coded P3018 with the native
      // engine, but "external connector error" with the wasm engine.
      const m = errorCode(err) === "P3006" && state.lastScript && /Migration `([^`]+)` failed to apply cleanly/.exec(err.message);
      if (!m) throw err;
      const inner = applyMigrationError(m[1], state.lastDbError, state.lastScript);
      throw new UserFacingError(
        "P3006",
        `Migration \`${m[1]}\` failed to apply cleanly to the shadow database. \nError code: P3018\nError:\n${inner.message}`,
        {
          migration_name: m[1],
          inner_error: { is_panic: false, message: inner.message, meta: inner.meta, error_code: "P3018" },
        },
      );
    }
  }

  function errorCode(err) {
    return err && (err.errorCode || (typeof err.code === "string" && /^P\d{4}$/.test(err.code) ? err.code : null));
  }

  function errorResponse(id, err) {
    if (err && err.rpcCode) return { jsonrpc: "2.0", id, error: { code: err.rpcCode, message: err.message } };
    const isPanic = err instanceof WebAssembly.RuntimeError;
    if (isPanic) state.broken = true;
    const code = errorCode(err);
    const message = isPanic
      ? globalThis.PRISMA_WASM_PANIC_REGISTRY?.message || String(err.message)
      : String(err && err.message !== undefined ? err.message : err);
    const data = { is_panic: isPanic, message, meta: (err && err.meta) || {} };
    if (code) data.error_code = code;
    if (isPanic) data.backtrace = err.stack;
    return {
      jsonrpc: "2.0",
      id,
      error: { code: 4466, message: "An error happened. Check the data field for details.", data },
    };
  }

  // The request being served. The wasm engine reports bad parameters by
  // throwing from inside an async callback: the exception is uncaught and the
  // call's promise never settles. `current.fail` answers such a request.
  let current = null;

  function handleRequest(msg) {
    debug("rpc request", { method: msg.method });
    return new Promise((resolve) => {
      const finish = (response) => {
        if (current !== request) return; // already answered
        current = null;
        send(response);
        resolve();
      };
      const request = {
        fail(err) {
          state.engine = null; // do not reuse an engine interrupted mid-call
          finish({ jsonrpc: "2.0", id: msg.id, error: { code: -32602, message: `Invalid params: ${err && err.message}` } });
        },
      };
      current = request;
      callAndFixErrors(msg.method, msg.params).then(
        (result) => finish({ jsonrpc: "2.0", id: msg.id, result: result ?? {} }), // never undefined
        (err) => {
          debug("rpc error", { error: String(err && err.stack), code: err && err.code });
          finish(errorResponse(msg.id, err));
        },
      );
    });
  }

  const onUncaught = (err) => {
    if (current) return current.fail(err);
    logLine("ERROR", { is_panic: false, message: String(err && err.stack ? err.stack : err) }, "schema_engine_host");
    process.exit(1);
  };
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);

  // Requests are served one at a time (the wasm engine allows one call at a
  // time); responses to our own outgoing requests bypass the queue.
  let queue = Promise.resolve();
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
      return;
    }
    if (msg.method === undefined && pendingOutgoing.has(msg.id)) {
      pendingOutgoing.get(msg.id)(msg.result);
      pendingOutgoing.delete(msg.id);
      return;
    }
    if (msg.id === undefined) return; // notification: nothing to do
    queue = queue.then(() => handleRequest(msg));
  });
  rl.on("close", () => {
    // The CLI ends stdin (and kills us right after) when it is done.
    queue.then(() => process.exit(0));
  });
}

/** Name of the migration that started last and neither finished nor was rolled back. */
async function lastStartedMigration(url) {
  const c = new pg.Client(pgConfig(url));
  try {
    await c.connect();
    const r = await c.query(
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL ORDER BY started_at DESC LIMIT 1`,
    );
    return r.rows[0]?.migration_name ?? null;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------

const args = parseArgs(process.argv.slice(2));
if (args.version) {
  const pkg = JSON.parse(
    fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.resolve(`${WASM_PKG}/schema_engine_bg`))), "package.json"), "utf8"),
  );
  process.stdout.write(`schema-engine-cli ${pkg.version.split(".").pop()} (wasm host)\n`);
} else if (args.cli) {
  process.exitCode = await runCli(args.cli, args.datasource);
} else {
  await runRpc(args);
}
