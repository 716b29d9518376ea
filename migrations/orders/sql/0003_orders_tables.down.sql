DROP TABLE IF EXISTS order_status_history;
DROP TABLE IF EXISTS order_lines;
DROP TABLE IF EXISTS orders;
