-- The least-privilege roles for timetrack-migrate (docs/operations.md#least-privilege):
--   a migrating role that owns the schema's objects and is nothing more (no superuser, no
--   pg_signal_backend, no pg_read_all_stats/pg_monitor), and a read-only role for status/check.
--
--   psql -X -v ON_ERROR_STOP=1 -d timetrack -f deploy/roles.sql \
--        -v migrator=timetrack_migrator -v migrator_password="$MIGRATOR_PASSWORD" \
--        -v reader=timetrack_reader -v reader_password="$READER_PASSWORD" \
--        [-v app=timetrack_app]
--
-- Run it on the application's database as a superuser (or a role with CREATEROLE that may change
-- the objects' owners). It can be run again: it creates what is missing and resets the rest.
-- The passwords are optional (leave them out to keep the current ones, or to use another
-- authentication method); -v app names the application's role, which then keeps reading and
-- writing the tables the migrator owns.

\set ON_ERROR_STOP on
\if :{?migrator}
\else
\warn 'deploy/roles.sql: set -v migrator=NAME and -v reader=NAME'
SELECT 1 / 0 AS missing_variable_migrator;
\endif
\if :{?reader}
\else
\warn 'deploy/roles.sql: set -v migrator=NAME and -v reader=NAME'
SELECT 1 / 0 AS missing_variable_reader;
\endif

-- Both roles log in and have none of the attributes that widen what a role may do.
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY[:'migrator', :'reader']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE :"migrator" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"reader" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
\if :{?migrator_password}
ALTER ROLE :"migrator" PASSWORD :'migrator_password';
\endif
\if :{?reader_password}
ALTER ROLE :"reader" PASSWORD :'reader_password';
\endif

-- No predefined role that reaches other sessions: the runner cancels only its own statements
-- (any role may cancel its own backends), and names lock blockers from what pg_stat_activity
-- shows every role (pid, user, application); their queries stay hidden from it.
SELECT format('REVOKE %I FROM %I', g.rolname, m.rolname)
FROM pg_auth_members am
JOIN pg_roles g ON g.oid = am.roleid
JOIN pg_roles m ON m.oid = am.member
WHERE m.rolname IN (:'migrator', :'reader')
  AND g.rolname IN ('pg_signal_backend', 'pg_read_all_stats', 'pg_monitor', 'pg_read_all_settings', 'pg_stat_scan_tables',
                    'pg_read_all_data', 'pg_write_all_data', 'pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program') \gexec

-- CONNECT: to log in (PUBLIC has it by default; granted in case it was revoked from PUBLIC).
-- TEMPORARY: the expected schema (adopting a legacy database; check --database-url) is built in
-- temporary tables inside a transaction that is rolled back. No CREATE on the database: the
-- migrations create no schema and no extension (the runner's preflight names it if one ever does).
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I, %I', current_database(), :'migrator', :'reader') \gexec

-- The migrator: USAGE to find the objects, CREATE for the tables, types, sequences and indexes
-- the migrations create, and the version table. On PostgreSQL 15 PUBLIC no longer has CREATE here.
GRANT USAGE, CREATE ON SCHEMA public TO :"migrator";

-- The migrator owns the schema's objects: ALTER, DROP and CREATE INDEX need the table's owner.
-- On a database that has tables already (a legacy one to adopt, or one migrated by another role)
-- their ownership moves to the migrator. Sequences owned by a column and the row types of tables
-- follow their table.
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              n.nspname, c.relname, :'migrator')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'migrator')
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
ORDER BY c.relkind DESC, c.relname \gexec
SELECT format('ALTER TYPE %I.%I OWNER TO %I', n.nspname, t.typname, :'migrator')
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
  AND t.typowner <> (SELECT oid FROM pg_roles WHERE rolname = :'migrator') \gexec

-- The reader: status reads the version table, check reads it and the catalogs (which every role
-- may read). SELECT on the tables the migrator owns and will create: a default privilege is the
-- only way to grant it on a version table that the first init creates later.
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";

-- The application (optional): reads and writes the rows of the tables the migrator owns, now and
-- after every migration.
\if :{?app}
GRANT USAGE ON SCHEMA public TO :"app";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app";
\endif
