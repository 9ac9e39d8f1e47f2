//! The flexcord-store test binary: one suite against SQLite and Postgres, plus the crash test.

#![allow(clippy::too_many_lines, clippy::missing_panics_doc)]

mod backlog;
mod checkpoint;
mod common;
mod crash;
mod feeds;
mod housekeeping;
mod park;
mod stall;
mod suite;

common::both_backends!(
    commit_is_state_plus_outbox,
    lookups_both_ways,
    same_twilio_event_twice_is_applied_once,
    one_open_conversation_per_user,
    worker_runs_scope_in_order_and_feeds_results,
    transient_failures_retry_then_dead_letter,
    permanent_failure_dead_letters_at_once,
    concurrent_workers_never_share_an_action,
    expired_lease_is_taken_over,
    recorded_results_are_fed_again_after_a_crash,
    timers_are_found_when_due,
    migrations_share_a_database,
    worker_run_drains_until_shutdown,
    undecodable_action_is_dead_lettered,
    webhook_before_the_creation_result_is_not_lost,
    traces_follow_actions_and_their_results,
    refed_results_and_ticks_keep_a_trace,
    a_run_stops_at_a_gap_in_its_sequence,
    a_silent_worker_is_taken_over_within_seconds,
    a_heartbeating_worker_keeps_its_action_past_the_lease,
    open_conversations_page_in_id_order,
    a_transcript_line_lets_the_next_dm_pass_but_not_a_case_change,
    a_run_continues_with_the_rows_after_its_last,
    a_backlog_is_called_while_earlier_results_are_recorded,
    a_failed_record_is_tried_again,
);

mod housekeeping_tests {
    macro_rules! housekeeping {
        ($($name:ident),* $(,)?) => {
            $(
                mod $name {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        let (store, _dir) = crate::common::sqlite().await;
                        crate::housekeeping::$name(store).await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        let Some((store, schema)) = crate::common::PgSchema::create().await else {
                            return;
                        };
                        crate::housekeeping::$name(store.clone()).await;
                        schema.drop(store).await;
                    }
                }
            )*
        };
    }

    housekeeping!(
        pruning_removes_old_rows_in_batches_and_keeps_recent_ones,
        dead_letters_are_requeued_only_while_their_conversation_can_take_them,
    );
}
