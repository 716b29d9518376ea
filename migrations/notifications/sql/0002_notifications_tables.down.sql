DROP TABLE notifications;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE contacts;
