"""The same schema versions as ``storage/migrations/NNNN_name.sql``, in PostgreSQL's dialect:
one file per version with the same name. ``REAL`` is ``double precision`` (SQLite's REAL is
8 bytes), ``BLOB`` is ``bytea``, ``INTEGER PRIMARY KEY`` an identity column; everything else,
names, checks and flags stored as 0/1 integers, is kept as it is so one set of SQL statements
serves both backends."""
