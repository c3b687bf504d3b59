"""Ledgerly: a small bookkeeping service (HTTP API, background worker, SQL schema)."""
