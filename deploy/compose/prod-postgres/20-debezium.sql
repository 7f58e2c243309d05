-- Production PostgreSQL, prepared for Debezium's PostgreSQL connector (connectors/postgres.json):
-- a replication role that may read every table, and the publication the connector expects
-- (publication.autocreate.mode is disabled there; the name is shadowdb_<topic.prefix>).
-- Runs once, when the container initialises an empty data directory, after 10-schema.sql.
-- The password matches SHADOWDB_DBZ_PASSWORD of the `connectors` service in compose.yaml.
CREATE ROLE debezium WITH LOGIN REPLICATION PASSWORD 'dbz';
GRANT CONNECT ON DATABASE prod TO debezium;
GRANT USAGE ON SCHEMA public TO debezium;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO debezium;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO debezium;
-- FOR ALL TABLES: tables production creates later are captured too (shadowdb's topicPattern
-- picks their topics up).
CREATE PUBLICATION shadowdb_pgprod FOR ALL TABLES;
