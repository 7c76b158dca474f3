//! The test suite every [`Store`] backend passes, written once.
//!
//! A backend's tests call [`store_test_suite!`](crate::store_test_suite) with
//! an async constructor of a fresh, empty [`TestStore`]; the macro expands to
//! one `#[tokio::test]` per case, named after the case, so a failure names
//! what broke. The backend's test crate needs `tokio` as a dependency.
//!
//! The cases use only the [`Store`] trait, so nothing in them depends on a
//! particular database. Timestamps are whole seconds, which every backend
//! stores exactly.

mod accounts;
mod alerts;
mod areas;
mod fixtures;
mod ledger;
mod notifications;
mod points;
mod quarantine;
mod readings;
mod tasks;

use std::sync::Arc;

use crate::Store;

pub use accounts::*;
pub use alerts::*;
pub use areas::*;
pub use ledger::*;
pub use notifications::*;
pub use points::*;
pub use quarantine::*;
pub use readings::*;
pub use tasks::*;

/// A fresh, empty store for one test case, and whatever must live as long
/// as it does (a temporary directory, a database connection).
pub struct TestStore {
    /// The store under test.
    pub store: Arc<dyn Store>,
    _guard: Box<dyn Send + Sync>,
}

impl TestStore {
    /// Wraps a store and the resource it depends on, such as its temporary directory.
    pub fn new(store: impl Store, guard: impl Send + Sync + 'static) -> Self {
        Self {
            store: Arc::new(store),
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Expands to one `#[tokio::test]` per case of the shared suite.
///
/// `$make` is an expression that evaluates to a future of a fresh
/// [`TestStore`], evaluated once per case:
///
/// ```ignore
/// oversight_store::store_test_suite!(async { TestStore::new(open_temp_store(), ()) });
/// ```
#[macro_export]
macro_rules! store_test_suite {
    ($make:expr) => {
        $crate::store_test_suite!(@cases $make;
            areas_insert_and_get,
            areas_children_and_provinces,
            areas_rename,
            areas_missing_parent_rejected,
            points_upsert_and_get,
            points_replace,
            points_password_rotation,
            points_area_must_exist,
            points_paging,
            points_paging_over_several_areas,
            points_area_filter_includes_sub_areas,
            points_bad_cursor,
            readings_insert_and_query,
            readings_filter_by_kind_and_time,
            readings_descending_order,
            readings_paging_splits_one_time,
            readings_paging_survives_inserts,
            readings_retransmission_first_wins,
            readings_revisions_kept,
            readings_revision_peer_kept,
            readings_new_mask_marks_kept,
            points_contact_times,
            readings_revisions_bad_cursor,
            readings_unregistered_mn_writes_nothing,
            readings_failure_spares_concurrent_batches,
            readings_last_seen_times,
            readings_bad_cursor,
            summary_counts,
            quarantine_summaries_and_uploads,
            quarantine_release_after_registration,
            quarantine_release_before_registration_fails,
            quarantine_discard,
            quarantine_limits,
            quarantine_paging,
            quarantine_future_data_time,
            alerts_trigger_opens,
            alerts_second_trigger_updates,
            alerts_peak_below_lower_is_min,
            alerts_resolve_and_reopen,
            alerts_concurrent_triggers_one_open,
            alerts_filters_and_paging,
            alerts_get_by_id,
            alerts_bad_cursor,
            alerts_pending_then_firing,
            alerts_acknowledge_and_resolve,
            alerts_flapping_flag,
            silences_create_list_expire,
            rule_changes_and_switches,
            tasks_write_get_and_history,
            tasks_ids_are_unique,
            tasks_reporter_stored_apart,
            tasks_stale_version_rejected,
            tasks_duplicate_insert_rejected,
            tasks_failed_batch_writes_nothing,
            tasks_inbox_order_and_paging,
            tasks_inbox_filters,
            tasks_bad_cursor,
            tasks_escalation_marks_alert,
            tasks_escalation_without_task_rejected,
            tasks_outcome_records_by_subject,
            ledger_starts_empty,
            ledger_append_and_read,
            ledger_payload_forms_hash_alike,
            ledger_proofs_verify,
            ledger_proof_sizes_rejected,
            ledger_records_state_changes,
            ledger_failed_write_appends_nothing,
            ledger_hidden_identifier_rejected,
            ledger_checkpoints_stored,
            notifications_group_items,
            notifications_claim_when_due,
            notifications_retry_and_dead_letter,
            notifications_release_claimed,
            notifications_list_and_inbox,
            ping_returns_time,
            accounts_departments,
            accounts_users,
            accounts_update_ends_sessions,
            accounts_sessions_expire,
            accounts_tokens,
            accounts_totp_steps,
            accounts_login_failures,
            accounts_changes_recorded,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let test_store: $crate::testsuite::TestStore = $make.await;
                $crate::testsuite::$case(::std::sync::Arc::clone(&test_store.store)).await;
                drop(test_store);
            }
        )*
    };
}

/// `ping` returns a time close to the local clock.
pub async fn ping_returns_time(store: Arc<dyn Store>) {
    let before = jiff::Timestamp::now();
    let pinged = store.ping().await.expect("ping");
    let distance = (pinged - before)
        .abs()
        .total(jiff::Unit::Second)
        .expect("plain span");
    assert!(
        distance < 60.0,
        "store time {pinged} is {distance} s away from {before}"
    );
}
