DROP TABLE stream_cursors;
DROP TABLE stock_levels;
DROP TABLE captures;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE variants;
DROP TABLE products;
