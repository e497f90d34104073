"""Chroma's SQLite file in write-ahead-logging mode, switched before Chroma opens it (embedded store only)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

_WAL_READY: set[Path] = set()  # files this process already checked (and may hold open through Chroma)


def use_write_ahead_log(path: Path) -> None:
    """Switch Chroma's SQLite file to WAL before Chroma opens it (a setting stored in the file).

    In its default rollback-journal mode every Chroma write costs ~8 fsyncs (~30 ms per
    add on a busy disk here); WAL with SQLite's default synchronous=FULL keeps the same
    durability with one. It must never be switched under a live Chroma connection pool
    (chroma-core/chroma#7040), and a second SQLite library must not even open the file
    while Chroma has it open in this process (closing it would drop Chroma's POSIX locks).
    So: once per file and process, before the first client, and only if the header says so.
    """
    path.mkdir(parents=True, exist_ok=True)
    database = (path / "chroma.sqlite3").resolve()
    if database in _WAL_READY:
        return
    if not _header_says_wal(database):
        with closing(sqlite3.connect(database, timeout=30)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    _WAL_READY.add(database)


def _header_says_wal(database: Path) -> bool:
    """Bytes 18-19 of an SQLite header are 2 in WAL mode (read without opening a connection)."""
    try:
        with database.open("rb") as handle:
            header = handle.read(20)
    except FileNotFoundError:
        return False
    return len(header) == 20 and header[18] == 2 and header[19] == 2
