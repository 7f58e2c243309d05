-- Production MySQL, prepared for Debezium's MySQL connector (connectors/mysql.json): a user with
-- the privileges Debezium documents, and one table with rows for the initial snapshot. Runs once,
-- when the container initialises an empty data directory, in database prod (MYSQL_DATABASE).
-- The password matches SHADOWDB_DBZ_PASSWORD of the `connectors` service in compose.yaml.
CREATE USER IF NOT EXISTS 'debezium'@'%' IDENTIFIED BY 'dbz';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'debezium'@'%';

CREATE TABLE products (
  id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sku varchar(32) NOT NULL UNIQUE,
  name varchar(200) NOT NULL,
  price decimal(10, 2) NOT NULL,
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
);
INSERT INTO products (sku, name, price) VALUES
  ('TEA-1', 'green tea', 4.20),
  ('CUP-2', 'cup', 7.50),
  ('POT-3', 'tea pot', 29.00);
