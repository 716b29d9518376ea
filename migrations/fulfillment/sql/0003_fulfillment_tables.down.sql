DROP TABLE IF EXISTS shipment_lines;
DROP TABLE IF EXISTS shipments;
DROP TABLE IF EXISTS shipping_options;
