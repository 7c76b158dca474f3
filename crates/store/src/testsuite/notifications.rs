//! Cases for the notification outbox and the inbox.

use std::sync::Arc;

use oversight_core::{AlertId, AlertTransition, Severity};

use super::fixtures::{code, minute};
use crate::{
    Channel, DeliveryOutcome, DeliveryStatus, NewNotification, NotificationItem, NotificationQuery,
    Store, StoreError,
};

fn item(alert: i64, transition: AlertTransition, at_minute: i64) -> NotificationItem {
    NotificationItem {
        alert_id: AlertId(alert),
        fingerprint: format!("env.limit.upper:MN{alert}:w01018"),
        transition,
        rule_id: "env.limit.upper".to_owned(),
        category: "exceedance".to_owned(),
        severity: Severity::Warning,
        mn: format!("MN{alert}"),
        factor: Some("w01018".to_owned()),
        area: code("350203"),
        department: Some("ecology-environment".to_owned()),
        value: Some(120.0 + at_minute as f64),
        limit: Some(100.0),
        count: 1,
        at: minute(at_minute),
    }
}

fn queued(
    recipient: &str,
    channel: Channel,
    group: &str,
    item: NotificationItem,
) -> NewNotification {
    NewNotification {
        recipient: recipient.to_owned(),
        channel,
        target: recipient.to_owned(),
        group_key: group.to_owned(),
        send_after: item.at + jiff::SignedDuration::from_secs(30),
        queued_at: item.at,
        item,
    }
}

async fn queue(store: &Arc<dyn Store>, items: Vec<NewNotification>) -> Vec<i64> {
    store
        .queue_notifications(&items)
        .await
        .expect("queue notifications")
}

/// Items of one group join one pending notification; repeats of one alert
/// replace its item; another group starts another notification.
pub async fn notifications_group_items(store: Arc<dyn Store>) {
    let ids = queue(
        &store,
        vec![
            queued(
                "wang",
                Channel::Inbox,
                "350203:exceedance",
                item(1, AlertTransition::Firing, 0),
            ),
            queued(
                "wang",
                Channel::Inbox,
                "350203:exceedance",
                item(2, AlertTransition::Firing, 1),
            ),
            queued(
                "wang",
                Channel::Inbox,
                "350203:exceedance",
                item(1, AlertTransition::Firing, 2),
            ),
            queued(
                "wang",
                Channel::Inbox,
                "350206:exceedance",
                item(3, AlertTransition::Firing, 2),
            ),
        ],
    )
    .await;
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
    assert_ne!(ids[0], ids[3]);
    let grouped = store
        .notification(ids[0])
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(grouped.items.len(), 2);
    assert_eq!(grouped.items[0].alert_id, AlertId(1));
    assert_eq!(
        grouped.items[0].value,
        Some(122.0),
        "the repeat replaced the item"
    );
    assert_eq!(grouped.status, DeliveryStatus::Pending);
    assert_eq!(
        grouped.send_after,
        minute(0) + jiff::SignedDuration::from_secs(30)
    );
    assert_eq!(grouped.attempts, 0);
}

/// Claiming honours the send time, and items queued after a claim start a
/// new notification instead of changing the one being sent.
pub async fn notifications_claim_when_due(store: Arc<dyn Store>) {
    let first = queue(
        &store,
        vec![queued(
            "wang",
            Channel::Email,
            "g",
            item(1, AlertTransition::Firing, 0),
        )],
    )
    .await[0];
    let early = store
        .claim_notifications(minute(0), 10)
        .await
        .expect("claim");
    assert!(early.is_empty(), "not due before send_after");
    let claimed = store
        .claim_notifications(minute(1), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first);
    assert_eq!(claimed[0].status, DeliveryStatus::Sending);
    let again = store
        .claim_notifications(minute(1), 10)
        .await
        .expect("claim");
    assert!(
        again.is_empty(),
        "a claimed notification is not claimed twice"
    );

    let second = queue(
        &store,
        vec![queued(
            "wang",
            Channel::Email,
            "g",
            item(2, AlertTransition::Firing, 1),
        )],
    )
    .await[0];
    assert_ne!(first, second);
    let claimed = store
        .notification(first)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(claimed.items.len(), 1);
}

/// Failures schedule a retry, the last one makes a dead letter, and a
/// retry through the API makes it pending again.
pub async fn notifications_retry_and_dead_letter(store: Arc<dyn Store>) {
    let id = queue(
        &store,
        vec![queued(
            "hook",
            Channel::Webhook,
            "g",
            item(1, AlertTransition::Firing, 0),
        )],
    )
    .await[0];
    store
        .claim_notifications(minute(1), 10)
        .await
        .expect("claim");
    store
        .record_delivery(
            id,
            DeliveryOutcome::Failed {
                at: minute(1),
                error: "HTTP 503".to_owned(),
                retry_at: Some(minute(2)),
            },
        )
        .await
        .expect("record failure");
    let failed = store.notification(id).await.expect("get").expect("stored");
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(failed.next_attempt_at, minute(2));

    let joined = queue(
        &store,
        vec![queued(
            "hook",
            Channel::Webhook,
            "g",
            item(2, AlertTransition::Firing, 1),
        )],
    )
    .await[0];
    assert_ne!(
        joined, id,
        "a notification under retry collects no new items"
    );

    assert!(
        store
            .claim_notifications(minute(1), 10)
            .await
            .expect("claim")
            .iter()
            .all(|n| n.id != id)
    );
    let claimed = store
        .claim_notifications(minute(2), 10)
        .await
        .expect("claim");
    assert!(claimed.iter().any(|n| n.id == id));
    store
        .record_delivery(
            id,
            DeliveryOutcome::Failed {
                at: minute(2),
                error: "timed out".to_owned(),
                retry_at: None,
            },
        )
        .await
        .expect("record failure");
    let dead = store.notification(id).await.expect("get").expect("stored");
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(dead.attempts, 2);

    let conflict = store
        .record_delivery(id, DeliveryOutcome::Delivered { at: minute(3) })
        .await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict(_))),
        "{conflict:?}"
    );

    let retried = store
        .retry_notification(id, minute(5))
        .await
        .expect("retry");
    assert_eq!(retried.status, DeliveryStatus::Pending);
    assert_eq!(retried.next_attempt_at, minute(5));
    let twice = store.retry_notification(id, minute(5)).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let missing = store.retry_notification(9999, minute(5)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    store
        .claim_notifications(minute(5), 10)
        .await
        .expect("claim");
    store
        .record_delivery(id, DeliveryOutcome::Delivered { at: minute(5) })
        .await
        .expect("record delivery");
    let delivered = store.notification(id).await.expect("get").expect("stored");
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.delivered_at, Some(minute(5)));
    assert_eq!(delivered.last_error, None);
}

/// Claimed notifications return to pending, as after a crash mid-send.
pub async fn notifications_release_claimed(store: Arc<dyn Store>) {
    let id = queue(
        &store,
        vec![queued(
            "hook",
            Channel::Webhook,
            "g",
            item(1, AlertTransition::Firing, 0),
        )],
    )
    .await[0];
    store
        .claim_notifications(minute(1), 10)
        .await
        .expect("claim");
    assert_eq!(
        store
            .release_claimed_notifications()
            .await
            .expect("release"),
        1
    );
    let released = store.notification(id).await.expect("get").expect("stored");
    assert_eq!(released.status, DeliveryStatus::Pending);
    let claimed = store
        .claim_notifications(minute(1), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id, "the same id is sent again");
}

/// Listing filters and pages; the inbox marks only its owner's delivered items read.
pub async fn notifications_list_and_inbox(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for alert in 1..=5 {
        let channel = if alert % 2 == 0 {
            Channel::Email
        } else {
            Channel::Inbox
        };
        let group = format!("g{alert}");
        ids.extend(
            queue(
                &store,
                vec![queued(
                    "wang",
                    channel,
                    &group,
                    item(alert, AlertTransition::Firing, 0),
                )],
            )
            .await,
        );
    }
    let all = store
        .notifications(&NotificationQuery::default())
        .await
        .expect("list");
    assert_eq!(all.items.len(), 5);
    assert!(all.items[0].id > all.items[4].id, "newest first");

    let inbox = NotificationQuery {
        channel: Some(Channel::Inbox),
        ..NotificationQuery::default()
    };
    assert_eq!(
        store.notifications(&inbox).await.expect("list").items.len(),
        3
    );

    let by_alert = NotificationQuery {
        alert_id: Some(AlertId(2)),
        ..NotificationQuery::default()
    };
    let found = store.notifications(&by_alert).await.expect("list");
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].id, ids[1]);

    let first_page = store
        .notifications(&NotificationQuery {
            limit: 2,
            ..NotificationQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(first_page.items.len(), 2);
    let second_page = store
        .notifications(&NotificationQuery {
            limit: 2,
            cursor: first_page.next_cursor.clone(),
            ..NotificationQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(second_page.items.len(), 2);
    assert!(second_page.items[0].id < first_page.items[1].id);
    let bad = store
        .notifications(&NotificationQuery {
            cursor: Some("x".to_owned()),
            ..NotificationQuery::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor(_))), "{bad:?}");

    for claimed in store
        .claim_notifications(minute(1), 10)
        .await
        .expect("claim")
    {
        store
            .record_delivery(claimed.id, DeliveryOutcome::Delivered { at: minute(1) })
            .await
            .expect("deliver");
    }
    let marked = store
        .mark_inbox_read("wang", &[ids[0], ids[1]], minute(2))
        .await
        .expect("mark read");
    assert_eq!(marked, 1, "the email notification is not in the inbox");
    assert_eq!(
        store
            .mark_inbox_read("li", &[ids[2]], minute(2))
            .await
            .expect("mark read"),
        0,
        "another owner's item stays unread"
    );
    let unread = store
        .notifications(&NotificationQuery {
            channel: Some(Channel::Inbox),
            recipients: Some(vec!["wang".to_owned()]),
            unread: true,
            ..NotificationQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(unread.items.len(), 2);
    let of_nobody = store
        .notifications(&NotificationQuery {
            recipients: Some(Vec::new()),
            ..NotificationQuery::default()
        })
        .await
        .expect("list");
    assert!(
        of_nobody.items.is_empty(),
        "an empty recipient list matches nothing"
    );
    let of_two = store
        .notifications(&NotificationQuery {
            recipients: Some(vec!["li".to_owned(), "wang".to_owned()]),
            ..NotificationQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(of_two.items.len(), 5, "every notification is wang's");
    let read = store
        .notification(ids[0])
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(read.read_at, Some(minute(2)));
}
