-- A few production orders, so that the connector's initial snapshot has something to carry.
INSERT INTO orders (customer, total, status) VALUES
  ('ada', 12.50, 'placed'),
  ('grace', 99.90, 'shipped'),
  ('linus', 5.00, 'placed'),
  ('margaret', 42.00, 'delivered');
