"""Ordered schema migrations, one SQL file per schema version: ``NNNN_name.sql``.

Each file moves the schema from version NNNN-1 to NNNN and runs in one transaction. Files are
never edited once released: a change is a new file. Only portable DDL: the SQLite-only part
is ``INTEGER PRIMARY KEY`` (a PostgreSQL backend maps it to an identity column).
"""
