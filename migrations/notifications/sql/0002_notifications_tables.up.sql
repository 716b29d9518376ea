-- notifications-svc's own tables. Names are unqualified: the pool's
-- search_path is the service's schema (tests migrate fresh schemas of their
-- own). Everything here arrives as events: the service never calls another.

-- Each customer's contact details, copied from IAM's events
-- (iam.user.registered.v1, iam.user.profile_updated.v1,
-- iam.user.email_verified.v1). Each field remembers when the event that
-- set it happened, so an older event delivered late does not overwrite a
-- newer value. A profile update seen before the registration leaves the
-- email unknown (NULL) until the registration arrives.
CREATE TABLE contacts (
    user_id          uuid        PRIMARY KEY,
    email            text,
    email_verified   boolean     NOT NULL DEFAULT false,
    email_changed_at timestamptz,
    name             text        NOT NULL DEFAULT '',
    name_changed_at  timestamptz,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT contacts_email_check CHECK (email IS NULL OR char_length(email) BETWEEN 3 AND 320),
    CONSTRAINT contacts_email_changed_check CHECK ((email IS NULL) = (email_changed_at IS NULL))
);

-- Each order as orders.order_placed.v1 carried it: what the order mails
-- show (lines, totals) and whose order it is (the shipment events carry
-- no customer). Amounts are integer minor units of `currency`.
CREATE TABLE orders (
    order_id           uuid        PRIMARY KEY,
    user_id            uuid        NOT NULL,
    currency           text        NOT NULL,
    subtotal_minor     bigint      NOT NULL,
    shipping_minor     bigint      NOT NULL,
    total_minor        bigint      NOT NULL,
    shipping_option_id uuid,
    placed_at          timestamptz NOT NULL,
    CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT orders_amounts_check CHECK (
        subtotal_minor >= 0 AND shipping_minor >= 0 AND total_minor = subtotal_minor + shipping_minor
    )
);

CREATE TABLE order_lines (
    order_id         uuid    NOT NULL REFERENCES orders (order_id),
    position         integer NOT NULL,
    sku              text COLLATE "C" NOT NULL,
    title            text    NOT NULL,
    quantity         integer NOT NULL,
    unit_price_minor bigint  NOT NULL,
    line_total_minor bigint  NOT NULL,
    CONSTRAINT order_lines_pkey PRIMARY KEY (order_id, position),
    CONSTRAINT order_lines_quantity_check CHECK (quantity > 0),
    CONSTRAINT order_lines_amounts_check CHECK (unit_price_minor >= 0 AND line_total_minor >= 0)
);

-- The service's mail outbox: one row per (event, template), written in the
-- same transaction as the event's inbox record, so a redelivered event
-- adds no second row (`notifications_event_template_key`). The sender
-- locks one pending row at a time (FOR UPDATE SKIP LOCKED), sends it and
-- marks it sent in that transaction: a crash between the send and the
-- commit sends that one mail again, and no other.
--
-- A row waits while its customer's address is unknown (no contact with an
-- email) or, for the mails that show the order, while the order is unknown
-- (`needs_order` and no `orders` row); `user_id` is NULL until the order
-- (or the event) names the customer.
CREATE TABLE notifications (
    id              uuid        PRIMARY KEY,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    template        text        NOT NULL,
    order_id        uuid        NOT NULL,
    user_id         uuid,
    needs_order     boolean     NOT NULL,
    -- What the event carried for the mail (short lines, the cancel's cause,
    -- the carrier and tracking number), as the template's JSON.
    details         jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    recipient       text,
    subject         text,
    sent_at         timestamptz,
    CONSTRAINT notifications_event_template_key UNIQUE (event_id, template),
    CONSTRAINT notifications_template_check CHECK (template IN (
        'order_confirmed', 'order_rejected', 'order_canceled', 'shipment_shipped', 'shipment_delivered'
    )),
    CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'failed')),
    CONSTRAINT notifications_sent_check CHECK (
        (status = 'sent') = (sent_at IS NOT NULL)
        AND (status <> 'sent' OR (recipient IS NOT NULL AND subject IS NOT NULL AND user_id IS NOT NULL))
    ),
    CONSTRAINT notifications_attempts_check CHECK (attempts >= 0)
);
-- The sender's claim: due pending rows in event order.
CREATE INDEX notifications_pending_idx
    ON notifications (occurred_at, id) WHERE status = 'pending';
-- ListNotifications: a customer's rows, newest first.
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
-- An order_placed naming the customer of rows recorded before it.
CREATE INDEX notifications_unowned_idx ON notifications (order_id) WHERE user_id IS NULL;
