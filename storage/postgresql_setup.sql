-- A SpineCoach database on a clinic's PostgreSQL server, and the roles that use it:
--
--   spinecoach_owner    owns the tables; the only role that creates or changes them
--                       (python -m storage.cli migrate --db postgresql://spinecoach_owner@...);
--   spinecoach_station  a group role for the stations (kiosks) and the therapist's reports and
--                       exports: reads and writes rows, never deletes one, never changes a
--                       table. Each station logs in with a role of its own in this group, so
--                       one station can be shut out alone:
--                         CREATE ROLE station_gym1 LOGIN IN ROLE spinecoach_station;
--
-- Run once, as a superuser:  psql -U postgres -v ON_ERROR_STOP=1 -f storage/postgresql_setup.sql
-- then give each login role a password, typed, never on a command line:
--   psql -U postgres -c '\password spinecoach_owner'
-- (docs/storage.md: pg_hba.conf, TLS, backups.)

CREATE ROLE spinecoach_owner LOGIN;
CREATE ROLE spinecoach_station NOLOGIN;
CREATE DATABASE spinecoach OWNER spinecoach_owner ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE spinecoach FROM PUBLIC;
GRANT CONNECT ON DATABASE spinecoach TO spinecoach_station;

\connect spinecoach
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO spinecoach_station;
-- Tables and their id sequences the owner creates from now on (every schema version).
ALTER DEFAULT PRIVILEGES FOR ROLE spinecoach_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO spinecoach_station;
ALTER DEFAULT PRIVILEGES FOR ROLE spinecoach_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO spinecoach_station;
