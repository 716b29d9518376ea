-- A committed reservation whose order was canceled before it shipped puts
-- its units back into on-hand stock and ends RESTOCKED
-- (inventory.stock.restocked.v1). Only the status list changes.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('held', 'committed', 'released', 'expired', 'restocked'));
