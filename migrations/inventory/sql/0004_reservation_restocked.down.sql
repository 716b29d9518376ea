-- Fails while a reservation is RESTOCKED: there is no earlier status that
-- says what happened to its units.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('held', 'committed', 'released', 'expired'));
