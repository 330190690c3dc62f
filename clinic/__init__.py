"""The clinic's method around the exercises: a programme built from an assessment, pain on
every visit, graduated progression as data, and the kiosk visit that runs the programme.

Everything here reads and writes through ``storage.Store``, so the kiosk, the command line and
the therapist dashboard call the same functions."""
