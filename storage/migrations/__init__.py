"""Ordered schema migrations, one SQL file per schema version: ``NNNN_name.sql`` for SQLite,
and ``postgresql/NNNN_name.sql`` with the same version and name for PostgreSQL.

Each file moves the schema from version NNNN-1 to NNNN and runs in one transaction. Files are
never edited once released: a change is a new file, for both backends.
"""
