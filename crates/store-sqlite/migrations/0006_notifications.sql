-- The notification outbox: every notification is stored before it is sent,
-- so a crash during delivery leads to a resend with the same id, never to a
-- lost notification.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    -- webhook, email or inbox.
    channel TEXT NOT NULL,
    -- A webhook endpoint id, an email address or the inbox owner's id.
    target TEXT NOT NULL,
    group_key TEXT NOT NULL,
    -- A JSON array of the alert transitions listed, oldest first.
    items TEXT NOT NULL,
    -- pending, sending, delivered or dead.
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    send_after INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at INTEGER,
    read_at INTEGER
);

-- At most one pending notification per group collects new items.
CREATE UNIQUE INDEX notifications_open_group ON notifications (recipient, channel, target, group_key)
    WHERE status = 'pending' AND attempts = 0;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_recipient ON notifications (recipient, id);

-- Which notifications list which alert, for the alert filter.
CREATE TABLE notification_alerts (
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    alert_id INTEGER NOT NULL,
    PRIMARY KEY (alert_id, notification_id)
) WITHOUT ROWID;
