"""The run store's schema: its tables, the migrations from every older version, and its columns.

Each entry of MIGRATIONS takes the schema from the version before it to its own number; a store
of an older version is brought up to date one step at a time, each step its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from regui.core.machine import versions
from regui.core.records import DIVERGED, FAILED, FINISHED, RUNNING, STOPPED, EpochResult
from regui.core.store_file import StoreError, describe

INTERRUPTED = "interrupted"  # the status of a run whose process ended without finishing it
STATUSES = (RUNNING, FINISHED, STOPPED, DIVERGED, FAILED, INTERRUPTED)  # what a stored run can be
APPLICATION_ID = 0x72677569  # "rgui" in the SQLite header: tells our files from other databases

# Each entry takes the schema from the version before it to its own number (1-based).
MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: "run 7" stays one run
        uid TEXT NOT NULL UNIQUE,           -- the same run in another store (export, import)
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL,               -- TrainConfig as JSON
        dataset TEXT NOT NULL,              -- the dataset summary as JSON
        folder TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL DEFAULT '',
        sweep TEXT NOT NULL DEFAULT '',
        repeat INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL DEFAULT '',
        seconds REAL NOT NULL DEFAULT 0,
        regui_version TEXT NOT NULL DEFAULT '',
        sklearn_version TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT '',      -- who is writing it, while it runs
        pid INTEGER NOT NULL DEFAULT 0,
        process_started TEXT NOT NULL DEFAULT '',
        coef BLOB,                          -- final weights, float32
        coef_shape TEXT NOT NULL DEFAULT '',
        intercept BLOB                      -- float64
    );
    CREATE TABLE epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss REAL, test_loss REAL, penalty REAL, objective REAL,
        train_accuracy REAL, test_accuracy REAL, weight_l2 REAL, weight_l1 REAL,
        zero_fraction REAL, elapsed REAL,
        PRIMARY KEY (run_id, epoch)
    ) WITHOUT ROWID;
    """,
    # 2: a note per run, and the final numbers as columns so that a list of thousands of runs
    # sorts and filters without reading their epochs.
    """
    ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN epochs_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN test_accuracy REAL;
    ALTER TABLE runs ADD COLUMN train_accuracy REAL;
    ALTER TABLE runs ADD COLUMN objective REAL;
    ALTER TABLE runs ADD COLUMN zero_fraction REAL;
    ALTER TABLE runs ADD COLUMN best_test_accuracy REAL;
    UPDATE runs SET
        epochs_done = (SELECT count(*) FROM epochs e WHERE e.run_id = runs.id),
        best_test_accuracy = (SELECT max(test_accuracy) FROM epochs e WHERE e.run_id = runs.id),
        test_accuracy = (SELECT test_accuracy FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1),
        train_accuracy = (SELECT train_accuracy FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1),
        objective = (SELECT objective FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1),
        zero_fraction = (SELECT zero_fraction FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1);
    CREATE INDEX runs_by_folder ON runs(folder);
    CREATE INDEX runs_by_fingerprint ON runs(fingerprint);
    """,
    # 3: regui's own engine. Every run stored before it was scikit-learn's, one image per step:
    # its settings say so, so that a filter on engine or batch size finds it. regui's engine
    # keeps the objective of (up to 128 of) each epoch's mini-batches, float32.
    """
    UPDATE runs SET config = json_set(config, '$.engine', 'sgdclassifier', '$.batch_size', 1)
        WHERE json_valid(config) AND json_type(config) = 'object' AND json_extract(config, '$.engine') IS NULL;
    ALTER TABLE epochs ADD COLUMN batch_losses BLOB;
    """,
    # 4: the validation part. Each epoch's validation loss and accuracy; per run the final
    # validation accuracy and the epoch chosen on validation with its test accuracy. Runs stored
    # before had no validation part: theirs stay empty. (best_test_accuracy, the best epoch by
    # test accuracy, is kept as it was but no longer listed or written: it was chosen on the test set.)
    """
    ALTER TABLE epochs ADD COLUMN val_loss REAL;
    ALTER TABLE epochs ADD COLUMN val_accuracy REAL;
    ALTER TABLE runs ADD COLUMN val_accuracy REAL;
    ALTER TABLE runs ADD COLUMN chosen_epoch INTEGER;
    ALTER TABLE runs ADD COLUMN chosen_test_accuracy REAL;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

EPOCH_COLUMNS = ("epoch",) + EpochResult.METRICS + ("elapsed",)
# What a list of runs can be sorted by: columns of the runs table (settings live in the config).
SORTABLE = (
    "id",
    "name",
    "status",
    "started_at",
    "seconds",
    "epochs_done",
    "test_accuracy",
    "train_accuracy",
    "objective",
    "zero_fraction",
    "val_accuracy",
    "chosen_test_accuracy",
    "folder",
    "sweep",
)

LIST_COLUMNS = (
    "id",
    "uid",
    "name",
    "note",
    "status",
    "config",
    "dataset",
    "sweep",
    "repeat",
    "started_at",
    "seconds",
    "epochs_done",
    "test_accuracy",
    "train_accuracy",
    "objective",
    "zero_fraction",
    "val_accuracy",
    "chosen_epoch",
    "chosen_test_accuracy",
    "regui_version",
    "sklearn_version",
    "message",
)

RECORD_COLUMNS = LIST_COLUMNS + ("coef", "coef_shape", "intercept")


def migrate(conn: sqlite3.Connection, path: Path, tables: set[str], version: int) -> None:
    """Bring the database on ``conn`` from schema ``version`` to this regui's, one step at a time,
    each its own transaction; StoreError (the file left as it was) if a step fails."""
    if version == SCHEMA_VERSION:
        return
    if not tables:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    try:
        for number in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            for statement in statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        reason = describe(exc, path).reason
        raise StoreError(
            f"Cannot update the run store {path} to this regui's schema: {reason}. It was left as it was.",
            reason,
        ) from None
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('created_by', ?)", (versions()[0],))


def statements(script: str) -> list[str]:
    """A migration's statements, one by one (executescript would commit on its own)."""
    lines = [line.split("--")[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def run_columns(conn: sqlite3.Connection) -> str:
    return ", ".join(row[1] for row in conn.execute("PRAGMA main.table_info(runs)"))
