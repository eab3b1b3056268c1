-- extsecretd state store: the complete latest schema (version 1).
--
-- This file is embedded into the binary at build time and run as-is on an empty database;
-- extsecretd then sets PRAGMA application_id = 0x45534431 ('ESD1') and PRAGMA user_version to
-- the latest version. Older databases are brought up to date by the append-only migrations in
-- storage/migrations.cpp; a test checks that both paths give the same schema.
--
-- What is stored: sync bookkeeping only. Never a secret value: data is represented by a keyed
-- HMAC-SHA256 (hex), so this file, its WAL and backups are not sensitive.
-- Times are INTEGER Unix milliseconds, 0 meaning "never" / "not scheduled".
-- No foreign keys: child rows are replaced and removed together with their es_state row, in
-- one transaction, by storage/state_store.cpp.
--
-- Public interface for operators (the sqlite3 CLI; scripts rely on the exact column names):
-- the views sync_status and sync_history at the end of this file. Tables may change between
-- versions; the views keep their columns.

-- One row per ExternalSecret, keyed by its Kubernetes uid (an object's namespace and name never
-- change for a uid, so an update leaves them and es_state_by_name untouched).
CREATE TABLE es_state (
  uid TEXT NOT NULL PRIMARY KEY,          -- metadata.uid of the ExternalSecret
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  store TEXT NOT NULL,                    -- "SecretStore/<name>" or "ClusterSecretStore/<name>"
  target TEXT NOT NULL,                   -- target Secret name
  data_hmac TEXT NOT NULL,                -- hex HMAC-SHA256 of the data last written, or ''
  secret_rv TEXT NOT NULL,                -- target Secret resourceVersion after our write, or ''
  synced_version TEXT NOT NULL,           -- "<generation>-<meta hash>" last synced, or ''
  last_attempt_ms INTEGER NOT NULL,
  last_success_ms INTEGER NOT NULL,
  next_due_ms INTEGER NOT NULL,           -- 0 = not scheduled (refresh disabled)
  consecutive_failures INTEGER NOT NULL,
  last_outcome TEXT NOT NULL
    CHECK (last_outcome IN ('', 'written', 'unchanged', 'failed', 'deleted', 'skipped')),
  last_error TEXT NOT NULL,               -- message of the last failure, '' after a success
  write_count INTEGER NOT NULL            -- Secret writes performed for this ExternalSecret
) STRICT, WITHOUT ROWID;
CREATE INDEX es_state_by_name ON es_state (namespace, name);

-- Keys, labels and annotations of the target Secret that the ExternalSecret owns (what ESO
-- reads from managedFields). Replaced wholesale on every put.
CREATE TABLE es_owned (
  uid TEXT NOT NULL,                      -- es_state.uid
  kind TEXT NOT NULL CHECK (kind IN ('data', 'label', 'annotation')),
  name TEXT NOT NULL,
  PRIMARY KEY (uid, kind, name)
) STRICT, WITHOUT ROWID;

-- Provider version ids per target Secret key, where the provider reports one.
CREATE TABLE es_versions (
  uid TEXT NOT NULL,                      -- es_state.uid
  secret_key TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (uid, secret_key)
) STRICT, WITHOUT ROWID;

-- One row per sync attempt, keyed by (namespace, name) so it outlives uid changes and
-- deletions. Bounded: each put keeps the newest StoreOptions::history_per_es rows (default 50)
-- of that ExternalSecret and the newest history_total rows (default 100000) overall; "newest"
-- means most recently recorded (highest id).
CREATE TABLE history (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,                 -- when the attempt started
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  outcome TEXT NOT NULL
    CHECK (outcome IN ('written', 'unchanged', 'failed', 'deleted', 'skipped')),
  error TEXT NOT NULL,                    -- '' when none
  duration_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX history_by_es ON history (namespace, name);

-- PUBLIC VIEW. One row per ExternalSecret known to the daemon. Times are ISO-8601 UTC text
-- with milliseconds (2026-11-28T01:02:03.456Z), NULL when never. last_outcome and last_error
-- are NULL when there is none. No order is implied: add ORDER BY namespace, name.
CREATE VIEW sync_status (
  namespace, name, store, target, last_outcome, last_attempt_at, last_success_at, next_due_at,
  consecutive_failures, last_error, write_count
) AS
SELECT
  namespace,
  name,
  store,
  target,
  NULLIF(last_outcome, ''),
  CASE WHEN last_attempt_ms > 0 THEN
    strftime('%Y-%m-%dT%H:%M:%S', last_attempt_ms / 1000, 'unixepoch')
      || printf('.%03dZ', last_attempt_ms % 1000)
  END,
  CASE WHEN last_success_ms > 0 THEN
    strftime('%Y-%m-%dT%H:%M:%S', last_success_ms / 1000, 'unixepoch')
      || printf('.%03dZ', last_success_ms % 1000)
  END,
  CASE WHEN next_due_ms > 0 THEN
    strftime('%Y-%m-%dT%H:%M:%S', next_due_ms / 1000, 'unixepoch')
      || printf('.%03dZ', next_due_ms % 1000)
  END,
  consecutive_failures,
  NULLIF(last_error, ''),
  write_count
FROM es_state;

-- PUBLIC VIEW. One row per recorded sync attempt. `at` is ISO-8601 UTC text with
-- milliseconds; outcome is one of written, unchanged, failed, deleted, skipped; error is NULL
-- when none. No order is implied: add ORDER BY at DESC for newest first.
CREATE VIEW sync_history (at, namespace, name, outcome, error, duration_ms) AS
SELECT
  strftime('%Y-%m-%dT%H:%M:%S', at_ms / 1000, 'unixepoch') || printf('.%03dZ', at_ms % 1000),
  namespace,
  name,
  outcome,
  NULLIF(error, ''),
  duration_ms
FROM history;
