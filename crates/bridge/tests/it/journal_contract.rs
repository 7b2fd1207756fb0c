//! One contract suite for both trade journal stores.
//!
//! Every contract test runs against a fresh SQLite file, and against a fresh Postgres database
//! when `TEST_DATABASE_URL` is set (skipped with a note otherwise; a set but unreachable server
//! fails). Each test makes its own users and accounts through the account store. The Postgres-only
//! tests at the end prove that Row Level Security keeps users apart even on a raw connection and
//! that users cannot delete journal entries.

use std::collections::HashSet;
use std::time::Duration;

use mt5_bridge::store::journal::{
    Begin, Completion, JournalEntry, JournalFilter, JournalRoute, JournalStatus, NewJournalEntry,
    MAX_PAGE,
};
use mt5_bridge::store::{self, NewAccount, StoreError, UserCtx};
use serde_json::json;
use sqlx::{Connection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store_support;
use store_support::{as_user, run_postgres, run_sqlite, sql_state, user_ctx, Db};

const TTL: i64 = 86_400;

async fn new_user(db: &Db) -> UserCtx {
    let user = user_ctx();
    db.store.ensure_user(&user).await.unwrap();
    user
}

async fn new_account(db: &Db, user: &UserCtx) -> Uuid {
    let login = (Uuid::new_v4().as_u128() % 1_000_000_000).to_string();
    let new = NewAccount {
        id: Uuid::new_v4(),
        account_name: format!("Account {login}"),
        login,
        server: "MetaQuotes-Demo".into(),
        encrypted_password: format!("v1:test:{}", Uuid::new_v4().simple()),
        broker_name: None,
        account_type: Some("demo".into()),
        risk_limits: None,
    };
    db.store.insert_account(user, new, false).await.unwrap().id
}

/// A pending `place` entry from the API, with no idempotency key.
fn intent(account_id: Uuid) -> NewJournalEntry {
    let id = Uuid::new_v4();
    NewJournalEntry {
        id,
        account_id,
        client_id: format!("b{}", &id.simple().to_string()[..16]),
        idempotency_key: None,
        request_hash: None,
        source: "api".into(),
        algorithm_id: None,
        run_id: None,
        action: "place".into(),
        request: json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        status: JournalStatus::Pending,
        error: None,
        process_run_id: None,
    }
}

fn keyed(account_id: Uuid, key: &str) -> NewJournalEntry {
    NewJournalEntry {
        idempotency_key: Some(key.into()),
        request_hash: Some("sha256:abc".into()),
        ..intent(account_id)
    }
}

fn created(b: Begin) -> JournalEntry {
    match b {
        Begin::Created(e) => e,
        Begin::Existing(e) => panic!("expected Created, got Existing({})", e.id),
    }
}

fn existing(b: Begin) -> JournalEntry {
    match b {
        Begin::Existing(e) => e,
        Begin::Created(e) => panic!("expected Existing, got Created({})", e.id),
    }
}

async fn begin(db: &Db, user: &UserCtx, new: NewJournalEntry) -> JournalEntry {
    created(db.store.begin(user, new, TTL).await.unwrap())
}

fn filter(account_id: Option<Uuid>, limit: u32) -> JournalFilter {
    JournalFilter {
        account_id,
        before: None,
        limit,
    }
}

fn ids(entries: &[JournalEntry]) -> Vec<Uuid> {
    entries.iter().map(|e| e.id).collect()
}

/// Two writes in a row must get distinct, ordered creation times on every backend.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

fn assert_recent(t: OffsetDateTime) {
    let age = OffsetDateTime::now_utc() - t;
    assert!(age.whole_seconds().abs() < 60, "a time of now: {age}");
}

contract!(
    begin_complete_get_round_trip,
    same_key_returns_the_first_entry,
    keys_belong_to_one_user,
    an_expired_key_is_given_up,
    concurrent_begins_with_one_key_create_once,
    refused_is_written_complete,
    complete_keeps_fields_it_is_not_given,
    list_is_newest_first_and_pages_without_gaps,
    list_filters_by_account_and_clamps_the_limit,
    users_never_see_each_others_entries,
    entries_only_for_the_users_own_accounts,
    pending_entries_across_users_oldest_first,
    complete_pending_only_touches_pending_entries,
    settle_is_a_compare_and_set_on_the_status,
    a_not_executed_key_is_given_up,
    constraints_are_enforced,
    the_route_is_recorded_while_pending_for_its_user_only,
);

/// Where an order went is written while the entry is pending, by its own user only, read back by
/// every path (the reconciler's included), and left alone once the entry is settled.
async fn the_route_is_recorded_while_pending_for_its_user_only(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let entry = begin(&db, &user, intent(account)).await;
    assert_eq!(entry.route, JournalRoute::default());
    let route = JournalRoute {
        terminal_index: Some(3),
        ledger_id: Some("0123456789abcdef0123456789abcdef".into()),
        process_run_id: Some("run-1".into()),
    };
    let other = new_user(&db).await;
    db.store
        .record_route(&other, entry.id, &route)
        .await
        .unwrap();
    let read = db.store.get_entry(&user, entry.id).await.unwrap().unwrap();
    assert_eq!(read.route, JournalRoute::default(), "another user's write");
    db.store
        .record_route(&user, entry.id, &route)
        .await
        .unwrap();
    let read = db.store.get_entry(&user, entry.id).await.unwrap().unwrap();
    assert_eq!(read.route, route);
    let open = db.store.open_entries().await.unwrap();
    assert_eq!(open.iter().find(|e| e.id == entry.id).unwrap().route, route);
    // A retry elsewhere replaces it.
    let elsewhere = JournalRoute {
        terminal_index: Some(0),
        ledger_id: None,
        ..route.clone()
    };
    db.store
        .record_route(&user, entry.id, &elsewhere)
        .await
        .unwrap();
    let read = db.store.get_entry(&user, entry.id).await.unwrap().unwrap();
    assert_eq!(read.route, elsewhere);
    // Settled, it no longer changes.
    let done = Completion {
        status: Some(JournalStatus::Done),
        ..Default::default()
    };
    db.store.complete(&user, entry.id, done).await.unwrap();
    db.store
        .record_route(&user, entry.id, &route)
        .await
        .unwrap();
    let read = db.store.get_entry(&user, entry.id).await.unwrap().unwrap();
    assert_eq!(read.route, elsewhere);
}

async fn begin_complete_get_round_trip(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let run_id = Uuid::new_v4();
    let new = NewJournalEntry {
        idempotency_key: Some("order-2024-0001".into()),
        request_hash: Some("sha256:0f1e2d".into()),
        source: "algorithm".into(),
        algorithm_id: Some("ma-cross".into()),
        run_id: Some(run_id),
        action: "place".into(),
        request: json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.25,
                        "price": 1.08345, "sl": null, "comment": "bx"}),
        ..intent(account)
    };
    let entry = begin(&db, &user, new.clone()).await;
    assert_eq!(entry.id, new.id);
    assert_eq!(entry.user_id, user.user_id);
    assert_eq!(entry.account_id, account);
    assert_eq!(entry.client_id, new.client_id);
    assert_eq!(entry.idempotency_key.as_deref(), Some("order-2024-0001"));
    assert_eq!(entry.request_hash.as_deref(), Some("sha256:0f1e2d"));
    assert_eq!(entry.source, "algorithm");
    assert_eq!(entry.algorithm_id.as_deref(), Some("ma-cross"));
    assert_eq!(entry.run_id, Some(run_id));
    assert_eq!(entry.action, "place");
    assert_eq!(entry.request, new.request);
    assert_eq!(entry.status, JournalStatus::Pending);
    assert_eq!((entry.retcode, entry.order, entry.deal), (None, None, None));
    assert_eq!((entry.volume, entry.price), (None, None));
    assert_eq!((&entry.error, &entry.response), (&None, &None));
    assert_eq!(entry.completed_at, None);
    assert_recent(entry.created_at);
    // What begin returned is exactly what is read back (timestamps included).
    assert_eq!(
        db.store.get_entry(&user, entry.id).await.unwrap(),
        Some(entry.clone())
    );
    assert_eq!(
        db.store.get_entry(&user, Uuid::new_v4()).await.unwrap(),
        None
    );

    tick().await;
    let response =
        json!({"status": 200, "body": {"success": true, "data": {"order": 5_000_000_123_i64}}});
    let completion = Completion {
        status: Some(JournalStatus::Done),
        retcode: Some(10009),
        order: Some(5_000_000_123),
        deal: Some(9_000_000_000_456),
        volume: Some(0.25),
        price: Some(1.08345),
        error: Some("partial fill note".into()),
        response: Some(response.clone()),
    };
    db.store
        .complete(&user, entry.id, completion)
        .await
        .unwrap();
    let done = db.store.get_entry(&user, entry.id).await.unwrap().unwrap();
    assert_eq!(done.status, JournalStatus::Done);
    assert_eq!(done.retcode, Some(10009));
    assert_eq!(done.order, Some(5_000_000_123));
    assert_eq!(done.deal, Some(9_000_000_000_456));
    assert_eq!(done.volume, Some(0.25));
    assert_eq!(done.price, Some(1.08345));
    assert_eq!(done.error.as_deref(), Some("partial fill note"));
    assert_eq!(done.response, Some(response));
    let completed_at = done.completed_at.unwrap();
    assert!(completed_at > done.created_at);
    assert_recent(completed_at);
    // The intent itself is untouched by completion.
    assert_eq!(
        JournalEntry {
            status: entry.status,
            retcode: None,
            order: None,
            deal: None,
            volume: None,
            price: None,
            error: None,
            response: None,
            completed_at: None,
            ..done.clone()
        },
        entry
    );
    assert!(db.store.pending_entries().await.unwrap().is_empty());
}

async fn same_key_returns_the_first_entry(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let first = begin(&db, &user, keyed(account, "k-1")).await;

    let mut retry = keyed(account, "k-1");
    retry.request = json!({"something": "else"});
    let again = existing(db.store.begin(&user, retry.clone(), TTL).await.unwrap());
    assert_eq!(again, first, "the earlier entry, untouched");
    // The retry wrote nothing.
    assert_eq!(db.store.get_entry(&user, retry.id).await.unwrap(), None);

    // Once completed, the repeat returns the completed entry with its stored response.
    let response = json!({"status": 201, "body": {"ok": true}});
    db.store
        .complete(
            &user,
            first.id,
            Completion {
                status: Some(JournalStatus::Done),
                response: Some(response.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let again = existing(
        db.store
            .begin(&user, keyed(account, "k-1"), TTL)
            .await
            .unwrap(),
    );
    assert_eq!(again.id, first.id);
    assert_eq!(again.status, JournalStatus::Done);
    assert_eq!(again.response, Some(response));

    // Another key, and no key at all, are new entries every time.
    begin(&db, &user, keyed(account, "k-2")).await;
    begin(&db, &user, intent(account)).await;
    begin(&db, &user, intent(account)).await;
    let all = db
        .store
        .list_entries(&user, filter(None, 100))
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
}

async fn keys_belong_to_one_user(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    let b_acc = new_account(&db, &bob).await;
    let a = begin(&db, &alice, keyed(a_acc, "shared-key")).await;
    let b = begin(&db, &bob, keyed(b_acc, "shared-key")).await;
    assert_ne!(a.id, b.id);
    assert_eq!(b.user_id, bob.user_id);
    // Each user's repeat finds their own entry.
    let again = existing(
        db.store
            .begin(&bob, keyed(b_acc, "shared-key"), TTL)
            .await
            .unwrap(),
    );
    assert_eq!(again, b);
    let again = existing(
        db.store
            .begin(&alice, keyed(a_acc, "shared-key"), TTL)
            .await
            .unwrap(),
    );
    assert_eq!(again, a);
}

async fn an_expired_key_is_given_up(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let old = begin(&db, &user, keyed(account, "k")).await;
    let again = existing(
        db.store
            .begin(&user, keyed(account, "k"), 3600)
            .await
            .unwrap(),
    );
    assert_eq!(again.id, old.id);

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let new = created(db.store.begin(&user, keyed(account, "k"), 1).await.unwrap());
    assert_ne!(new.id, old.id);
    assert_eq!(new.idempotency_key.as_deref(), Some("k"));
    // The expired entry keeps everything but the key.
    let old_now = db.store.get_entry(&user, old.id).await.unwrap().unwrap();
    assert_eq!(
        old_now,
        JournalEntry {
            idempotency_key: None,
            ..old
        }
    );
    // The key now leads to the new entry.
    let again = existing(
        db.store
            .begin(&user, keyed(account, "k"), 3600)
            .await
            .unwrap(),
    );
    assert_eq!(again, new);

    // A TTL of zero gives up any earlier holder.
    tick().await;
    let newer = created(db.store.begin(&user, keyed(account, "k"), 0).await.unwrap());
    assert_ne!(newer.id, new.id);
}

async fn concurrent_begins_with_one_key_create_once(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = db.store.clone();
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            store.begin(&user, keyed(account, "race"), TTL).await
        }));
    }
    let mut created_ids = Vec::new();
    let mut existing_ids = Vec::new();
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Begin::Created(e) => created_ids.push(e.id),
            Begin::Existing(e) => existing_ids.push(e.id),
        }
    }
    assert_eq!(created_ids.len(), 1, "exactly one Created");
    assert_eq!(existing_ids.len(), 7);
    assert!(existing_ids.iter().all(|id| *id == created_ids[0]));
    let all = db
        .store
        .list_entries(&user, filter(None, 100))
        .await
        .unwrap();
    assert_eq!(ids(&all), created_ids);
}

async fn refused_is_written_complete(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let new = NewJournalEntry {
        status: JournalStatus::Refused,
        error: Some("risk: max_daily_loss reached".into()),
        ..keyed(account, "refused-1")
    };
    let entry = begin(&db, &user, new).await;
    assert_eq!(entry.status, JournalStatus::Refused);
    assert_eq!(entry.error.as_deref(), Some("risk: max_daily_loss reached"));
    let completed_at = entry.completed_at.unwrap();
    assert!(completed_at >= entry.created_at);
    assert_recent(completed_at);
    assert_eq!(
        db.store.get_entry(&user, entry.id).await.unwrap(),
        Some(entry.clone())
    );
    assert!(db.store.pending_entries().await.unwrap().is_empty());
    // Its key works like any other.
    let again = existing(
        db.store
            .begin(&user, keyed(account, "refused-1"), TTL)
            .await
            .unwrap(),
    );
    assert_eq!(again, entry);
}

async fn complete_keeps_fields_it_is_not_given(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let refused = begin(
        &db,
        &user,
        NewJournalEntry {
            status: JournalStatus::Refused,
            error: Some("kill switch".into()),
            ..intent(account)
        },
    )
    .await;
    // Attaching the response later keeps the status and the refusal's error.
    let response = json!({"status": 403, "body": {"success": false}});
    db.store
        .complete(
            &user,
            refused.id,
            Completion {
                response: Some(response.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let now = db
        .store
        .get_entry(&user, refused.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.status, JournalStatus::Refused);
    assert_eq!(now.error.as_deref(), Some("kill switch"));
    assert_eq!(now.response, Some(response));
    assert!(now.completed_at.is_some());

    // A broker rejection: status and retcode, no order or deal.
    let pending = begin(&db, &user, intent(account)).await;
    db.store
        .complete(
            &user,
            pending.id,
            Completion {
                status: Some(JournalStatus::Rejected),
                retcode: Some(10019),
                error: Some("TRADE_RETCODE_NO_MONEY".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rejected = db
        .store
        .get_entry(&user, pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rejected.status, JournalStatus::Rejected);
    assert_eq!(rejected.retcode, Some(10019));
    assert_eq!((rejected.order, rejected.deal), (None, None));
    assert_eq!(rejected.response, None);

    // A retcode that does not fit the INTEGER column is refused on both backends.
    let err = db
        .store
        .complete(
            &user,
            pending.id,
            Completion {
                retcode: Some(i64::from(i32::MAX) + 1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    assert_eq!(
        db.store.get_entry(&user, pending.id).await.unwrap(),
        Some(rejected)
    );
}

async fn list_is_newest_first_and_pages_without_gaps(db: Db) {
    let user = new_user(&db).await;
    let other = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let other_account = new_account(&db, &other).await;
    let mut made = Vec::new();
    for _ in 0..9 {
        made.push(begin(&db, &user, intent(account)).await.id);
        begin(&db, &other, intent(other_account)).await;
        tick().await;
    }
    // Four entries share one creation time, so only the id orders them.
    let tied: Vec<String> = made[2..6].iter().map(|id| format!("'{id}'")).collect();
    db.raw(&format!(
        "update trade_journal set created_at = (select created_at from trade_journal \
         where id = '{}') where id in ({})",
        made[2],
        tied.join(", ")
    ))
    .await;

    let mut expected = Vec::new();
    for id in &made {
        expected.push(db.store.get_entry(&user, *id).await.unwrap().unwrap());
    }
    let tie_time = expected[2].created_at;
    assert!(expected[2..6].iter().all(|e| e.created_at == tie_time));
    expected.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));

    let all = db
        .store
        .list_entries(&user, filter(None, 100))
        .await
        .unwrap();
    assert_eq!(all, expected, "newest first, ties by id descending");

    // Pages of 2 walk the list exactly once: no duplicates, no gaps.
    let mut walked = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = db
            .store
            .list_entries(
                &user,
                JournalFilter {
                    account_id: None,
                    before,
                    limit: 2,
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        pages += 1;
        before = page.last().map(|e| (e.created_at, e.id));
        walked.extend(page);
    }
    assert_eq!(pages, 5);
    assert_eq!(ids(&walked), ids(&expected));
    let unique: HashSet<Uuid> = walked.iter().map(|e| e.id).collect();
    assert_eq!(unique.len(), 9);

    // A cursor in the middle of the tie continues inside it.
    let cursor = expected
        .iter()
        .position(|e| e.created_at == tie_time)
        .unwrap();
    let rest = db
        .store
        .list_entries(
            &user,
            JournalFilter {
                account_id: None,
                before: Some((expected[cursor].created_at, expected[cursor].id)),
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&rest), ids(&expected[cursor + 1..]));
}

async fn list_filters_by_account_and_clamps_the_limit(db: Db) {
    let user = new_user(&db).await;
    let first = new_account(&db, &user).await;
    let second = new_account(&db, &user).await;
    let mut on_first = Vec::new();
    let mut on_second = Vec::new();
    for i in 0..6 {
        if i % 3 == 0 {
            on_second.push(begin(&db, &user, intent(second)).await.id);
        } else {
            on_first.push(begin(&db, &user, intent(first)).await.id);
        }
        tick().await;
    }
    on_first.reverse();
    on_second.reverse();
    let listed = db
        .store
        .list_entries(&user, filter(Some(first), 100))
        .await
        .unwrap();
    assert_eq!(ids(&listed), on_first);
    let listed = db
        .store
        .list_entries(&user, filter(Some(second), 100))
        .await
        .unwrap();
    assert_eq!(ids(&listed), on_second);
    // An account that is not the user's, or none at all, lists nothing.
    assert!(db
        .store
        .list_entries(&user, filter(Some(Uuid::new_v4()), 100))
        .await
        .unwrap()
        .is_empty());

    // Paging within one account.
    let page = db
        .store
        .list_entries(&user, filter(Some(first), 3))
        .await
        .unwrap();
    let last = page.last().unwrap();
    let next = db
        .store
        .list_entries(
            &user,
            JournalFilter {
                account_id: Some(first),
                before: Some((last.created_at, last.id)),
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&page).into_iter().chain(ids(&next)).collect::<Vec<_>>(),
        on_first
    );

    // A limit of 0 means 1, and more than the maximum means the maximum.
    assert_eq!(
        db.store
            .list_entries(&user, filter(None, 0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.store
            .list_entries(&user, filter(None, u32::MAX))
            .await
            .unwrap()
            .len(),
        6
    );
    // The largest page and the row that tells whether another follows.
    assert_eq!(filter(None, u32::MAX).page_size(), MAX_PAGE + 1);
    assert_eq!(filter(None, 0).page_size(), 1);
    assert_eq!(filter(None, 37).page_size(), 37);
}

async fn users_never_see_each_others_entries(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    let b_acc = new_account(&db, &bob).await;
    let a = begin(&db, &alice, keyed(a_acc, "mine")).await;
    let b = begin(&db, &bob, intent(b_acc)).await;

    assert_eq!(db.store.get_entry(&bob, a.id).await.unwrap(), None);
    assert_eq!(
        ids(&db
            .store
            .list_entries(&bob, filter(None, 100))
            .await
            .unwrap()),
        vec![b.id]
    );
    assert!(db
        .store
        .list_entries(&bob, filter(Some(a_acc), 100))
        .await
        .unwrap()
        .is_empty());

    // Bob's completion of Alice's entry is a no-op.
    db.store
        .complete(
            &bob,
            a.id,
            Completion {
                status: Some(JournalStatus::Failed),
                error: Some("hijacked".into()),
                response: Some(json!({"pwned": true})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(db.store.get_entry(&alice, a.id).await.unwrap(), Some(a));
    assert_eq!(db.store.get_entry(&bob, b.id).await.unwrap(), Some(b));
}

async fn entries_only_for_the_users_own_accounts(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    new_account(&db, &bob).await;
    for new in [intent(a_acc), keyed(a_acc, "k"), intent(Uuid::new_v4())] {
        let id = new.id;
        let err = db.store.begin(&bob, new, TTL).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
        assert_eq!(db.store.get_entry(&bob, id).await.unwrap(), None);
        assert_eq!(db.store.get_entry(&alice, id).await.unwrap(), None);
    }
    assert!(db.store.pending_entries().await.unwrap().is_empty());
}

async fn pending_entries_across_users_oldest_first(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    let b_acc = new_account(&db, &bob).await;
    assert!(db.store.pending_entries().await.unwrap().is_empty());

    let a1 = begin(&db, &alice, intent(a_acc)).await;
    tick().await;
    let b1 = begin(&db, &bob, intent(b_acc)).await;
    tick().await;
    let done = begin(&db, &alice, intent(a_acc)).await;
    db.store
        .complete(
            &alice,
            done.id,
            Completion {
                status: Some(JournalStatus::Done),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    begin(
        &db,
        &bob,
        NewJournalEntry {
            status: JournalStatus::Refused,
            ..intent(b_acc)
        },
    )
    .await;
    tick().await;
    let a2 = begin(&db, &alice, intent(a_acc)).await;

    let pending = db.store.pending_entries().await.unwrap();
    assert_eq!(pending, vec![a1, b1, a2]);
}

async fn complete_pending_only_touches_pending_entries(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    let b_acc = new_account(&db, &bob).await;
    let lost = begin(&db, &alice, intent(a_acc)).await;
    tick().await;
    let found = begin(&db, &bob, intent(b_acc)).await;
    tick().await;
    let finished = begin(&db, &alice, intent(a_acc)).await;
    db.store
        .complete(
            &alice,
            finished.id,
            Completion {
                status: Some(JournalStatus::Done),
                retcode: Some(10009),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    db.store
        .complete_pending(
            lost.id,
            Completion {
                status: Some(JournalStatus::Failed),
                error: Some("no trace in the terminal's history".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    db.store
        .complete_pending(
            found.id,
            Completion {
                status: Some(JournalStatus::Done),
                order: Some(77),
                deal: Some(78),
                volume: Some(0.1),
                price: Some(1.1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // An entry completed by its request is not overwritten by reconciliation.
    db.store
        .complete_pending(
            finished.id,
            Completion {
                status: Some(JournalStatus::Failed),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let lost = db.store.get_entry(&alice, lost.id).await.unwrap().unwrap();
    assert_eq!(lost.status, JournalStatus::Failed);
    assert_eq!(
        lost.error.as_deref(),
        Some("no trace in the terminal's history")
    );
    assert!(lost.completed_at.is_some());
    let found = db.store.get_entry(&bob, found.id).await.unwrap().unwrap();
    assert_eq!(found.status, JournalStatus::Done);
    assert_eq!((found.order, found.deal), (Some(77), Some(78)));
    assert_eq!((found.volume, found.price), (Some(0.1), Some(1.1)));
    let finished_now = db
        .store
        .get_entry(&alice, finished.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(finished_now.status, JournalStatus::Done);
    assert_eq!(finished_now.retcode, Some(10009));
    assert!(db.store.pending_entries().await.unwrap().is_empty());
}

async fn settle_is_a_compare_and_set_on_the_status(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let doubt = begin(&db, &user, intent(account)).await;
    tick().await;
    let sending = begin(&db, &user, intent(account)).await;
    let unknown = || Completion {
        status: Some(JournalStatus::Unknown),
        error: Some("terminal_timeout".into()),
        ..Default::default()
    };
    // pending → unknown: still open, with no completion time.
    assert!(db
        .store
        .settle(doubt.id, JournalStatus::Pending, unknown())
        .await
        .unwrap());
    let e = db.store.get_entry(&user, doubt.id).await.unwrap().unwrap();
    assert_eq!(e.status, JournalStatus::Unknown);
    assert_eq!(e.completed_at, None);
    // A second pending → unknown finds nothing to change.
    assert!(!db
        .store
        .settle(doubt.id, JournalStatus::Pending, unknown())
        .await
        .unwrap());
    let open = db.store.open_entries().await.unwrap();
    assert_eq!(ids(&open), vec![doubt.id, sending.id], "oldest first");

    // Two replicas settle the same entry: exactly one wins, and its outcome stays.
    let done = Completion {
        status: Some(JournalStatus::Done),
        retcode: Some(10009),
        order: Some(5),
        ..Default::default()
    };
    let not_executed = Completion {
        status: Some(JournalStatus::NotExecuted),
        ..Default::default()
    };
    let (a, b) = tokio::join!(
        db.store.settle(doubt.id, JournalStatus::Unknown, done),
        db.store
            .settle(doubt.id, JournalStatus::Unknown, not_executed)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|w| **w).count(),
        1,
        "one settles"
    );
    let e = db.store.get_entry(&user, doubt.id).await.unwrap().unwrap();
    assert!(
        matches!(e.status, JournalStatus::Done | JournalStatus::NotExecuted),
        "{e:?}"
    );
    assert!(e.completed_at.is_some());
    assert_eq!(
        ids(&db.store.open_entries().await.unwrap()),
        vec![sending.id]
    );
}

async fn a_not_executed_key_is_given_up(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let first = begin(&db, &user, keyed(account, "retry-me")).await;
    db.store
        .complete(
            &user,
            first.id,
            Completion {
                status: Some(JournalStatus::NotExecuted),
                error: Some("terminal_unavailable".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Nothing ran: the same key (well within its TTL) writes a new entry, which holds it now.
    let second = created(
        db.store
            .begin(&user, keyed(account, "retry-me"), TTL)
            .await
            .unwrap(),
    );
    assert_ne!(second.id, first.id);
    let first_now = db.store.get_entry(&user, first.id).await.unwrap().unwrap();
    assert_eq!(first_now.idempotency_key, None);
    assert_eq!(first_now.status, JournalStatus::NotExecuted);
    let again = existing(
        db.store
            .begin(&user, keyed(account, "retry-me"), TTL)
            .await
            .unwrap(),
    );
    assert_eq!(again.id, second.id);
    // An unknown holder keeps its key: it may have executed.
    db.store
        .settle(
            second.id,
            JournalStatus::Pending,
            Completion {
                status: Some(JournalStatus::Unknown),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let held = existing(
        db.store
            .begin(&user, keyed(account, "retry-me"), TTL)
            .await
            .unwrap(),
    );
    assert_eq!(held.id, second.id);
}

async fn constraints_are_enforced(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let first = begin(&db, &user, intent(account)).await;

    // The client id finds exactly one entry.
    let dup = NewJournalEntry {
        client_id: first.client_id.clone(),
        ..intent(account)
    };
    let err = db.store.begin(&user, dup, TTL).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");

    // The same id twice is a conflict too.
    let again = NewJournalEntry {
        id: first.id,
        ..intent(account)
    };
    let err = db.store.begin(&user, again, TTL).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");

    // Unknown sources and over-long values are refused by the schema on both backends.
    let bad = [
        NewJournalEntry {
            source: "web".into(),
            ..intent(account)
        },
        NewJournalEntry {
            client_id: "c".repeat(33),
            ..intent(account)
        },
        NewJournalEntry {
            action: "a".repeat(33),
            ..intent(account)
        },
        NewJournalEntry {
            idempotency_key: Some("k".repeat(256)),
            ..intent(account)
        },
    ];
    for new in bad {
        let err = db.store.begin(&user, new, TTL).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    }
    let fits = NewJournalEntry {
        client_id: "c".repeat(32),
        idempotency_key: Some("k".repeat(255)),
        ..intent(account)
    };
    begin(&db, &user, fits).await;
    assert_eq!(
        db.store
            .list_entries(&user, filter(None, 100))
            .await
            .unwrap()
            .len(),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Postgres only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_isolates_journal_entries_on_a_raw_connection() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let a_acc = new_account(&db, &alice).await;
        let b_acc = new_account(&db, &bob).await;
        let a = begin(&db, &alice, intent(a_acc)).await;
        let b = begin(&db, &bob, intent(b_acc)).await;

        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let mut tx = as_user(&mut conn, &bob).await;
        // No user_id filter here: only RLS stands between Bob and Alice's entry.
        let seen: Vec<Uuid> = sqlx::query("select * from trade_journal")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<Uuid, _>("id"))
            .collect();
        assert_eq!(seen, vec![b.id]);
        tx.rollback().await.unwrap();
        // Users may not change entries at all: not another user's, nor hand their own to another.
        let updated = store_support::refused_as_user(
            &mut conn,
            &bob,
            &format!(
                "update trade_journal set status = 'failed' where id = '{}'",
                a.id
            ),
        )
        .await;
        assert_eq!(sql_state(&updated).as_deref(), Some("42501"), "{updated}");
        let moved = store_support::refused_as_user(
            &mut conn,
            &bob,
            &format!(
                "update trade_journal set user_id = '{}' where id = '{}'",
                alice.user_id, b.id
            ),
        )
        .await;
        assert_eq!(sql_state(&moved).as_deref(), Some("42501"), "{moved}");

        // Users cannot delete journal entries, not even their own.
        let mut tx = as_user(&mut conn, &bob).await;
        let denied = sqlx::query("delete from trade_journal where id = $1")
            .bind(b.id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(sql_state(&denied).as_deref(), Some("42501"), "{denied}");
        tx.rollback().await.unwrap();

        // Writing an entry for another user is refused.
        let mut tx = as_user(&mut conn, &bob).await;
        let forged = sqlx::query(
            "insert into trade_journal (id, user_id, account_id, client_id, source, action, \
             request, status) values ($1, $2, $3, 'forged', 'api', 'place', '{}', 'pending')",
        )
        .bind(Uuid::new_v4())
        .bind(alice.user_id)
        .bind(a_acc)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert_eq!(sql_state(&forged).as_deref(), Some("42501"), "{forged}");
        tx.rollback().await.unwrap();

        // Without claims nothing is visible; anon has no grant at all.
        store_support::assert_claimless_sees_nothing_and_anon_is_refused(
            &mut conn,
            "trade_journal",
        )
        .await;

        // Both entries are still there, unchanged.
        let (total,): (i64,) = sqlx::query_as("select count(*) from trade_journal")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(total, 2);
        assert_eq!(db.store.get_entry(&alice, a.id).await.unwrap(), Some(a));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_journal_schema_has_rls_policies_indexes_and_grants() {
    run_postgres(|db| async move {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let (rls,): (bool,) = sqlx::query_as(
            "select relrowsecurity from pg_class where oid = 'public.trade_journal'::regclass",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(rls);

        let policies: Vec<(String, String)> = sqlx::query_as(
            "select policyname::text, cmd::text from pg_policies \
             where schemaname = 'public' and tablename = 'trade_journal' order by policyname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            policies,
            vec![
                (
                    "Service can insert own journal entries".into(),
                    "INSERT".into()
                ),
                (
                    "Service can update own journal entries".into(),
                    "UPDATE".into()
                ),
                ("Users can view own journal entries".into(), "SELECT".into()),
            ],
            "users only read; the service writes; nobody deletes"
        );
        let writers: Vec<(String, Vec<String>)> = sqlx::query_as(
            "select policyname::text, roles::text[] from pg_policies \
             where schemaname = 'public' and tablename = 'trade_journal' order by policyname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let roles: Vec<Vec<String>> = writers.into_iter().map(|(_, r)| r).collect();
        assert_eq!(
            roles,
            vec![
                vec!["mt5_bridge_writer".to_string()],
                vec!["mt5_bridge_writer".to_string()],
                vec!["authenticated".to_string()],
            ]
        );

        let indexes: Vec<(String, String)> = sqlx::query_as(
            "select indexname::text, indexdef from pg_indexes \
             where schemaname = 'public' and tablename = 'trade_journal' order by indexname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "idx_trade_journal_account_created",
                "idx_trade_journal_idempotency",
                "idx_trade_journal_open",
                "idx_trade_journal_run",
                "idx_trade_journal_user_created",
                "trade_journal_client_id_key",
                "trade_journal_pkey",
            ]
        );
        let def = |name: &str| {
            indexes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.clone())
                .unwrap()
        };
        assert!(def("idx_trade_journal_idempotency").starts_with("CREATE UNIQUE INDEX"));
        assert!(
            def("idx_trade_journal_idempotency").contains("WHERE (idempotency_key IS NOT NULL)")
        );
        assert!(
            def("idx_trade_journal_user_created").contains("(user_id, created_at DESC, id DESC)")
        );
        // The entries the reconciler reads: those in flight and those in doubt.
        let open = def("idx_trade_journal_open");
        assert!(
            open.contains("WHERE") && open.contains("'pending'") && open.contains("'unknown'"),
            "{open}"
        );

        let grants: (bool, bool, bool, bool, bool, bool) = sqlx::query_as(
            "select has_table_privilege('authenticated', 'public.trade_journal', 'select'), \
                    has_table_privilege('authenticated', 'public.trade_journal', 'insert'), \
                    has_table_privilege('authenticated', 'public.trade_journal', 'update'), \
                    has_table_privilege('authenticated', 'public.trade_journal', 'delete'), \
                    has_table_privilege('anon', 'public.trade_journal', 'select'), \
                    has_table_privilege('anon', 'public.trade_journal', 'insert')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(grants, (true, false, false, false, false, false));
        let writer: (bool, bool, bool, bool) = sqlx::query_as(
            "select has_table_privilege('mt5_bridge_writer', 'public.trade_journal', 'select'), \
                    has_table_privilege('mt5_bridge_writer', 'public.trade_journal', 'insert'), \
                    has_table_privilege('mt5_bridge_writer', 'public.trade_journal', 'update'), \
                    has_table_privilege('mt5_bridge_writer', 'public.trade_journal', 'delete')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(writer, (true, true, true, false));

        // One key to the account, on (account_id, user_id), with the old key's ON DELETE CASCADE.
        let keys: Vec<(String, String)> = sqlx::query_as(
            "select conname::text, pg_get_constraintdef(oid) from pg_constraint \
             where conrelid = 'public.trade_journal'::regclass and contype = 'f' \
             and confrelid = 'public.mt5_accounts'::regclass",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            keys,
            vec![(
                "trade_journal_account_id_user_id_fkey".to_string(),
                "FOREIGN KEY (account_id, user_id) REFERENCES mt5_accounts(id, user_id) \
                 ON DELETE CASCADE"
                    .to_string()
            )]
        );

        // Timestamps keep microseconds and the journal follows its user out (ON DELETE CASCADE).
        let user = new_user(&db).await;
        let account = new_account(&db, &user).await;
        let entry = begin(&db, &user, intent(account)).await;
        let (micros,): (i64,) = sqlx::query_as(
            "select (extract(microseconds from created_at))::bigint % 1000000 \
             from trade_journal where id = $1",
        )
        .bind(entry.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(micros, i64::from(entry.created_at.microsecond()));
        sqlx::query("delete from auth.users where id = $1")
            .bind(user.user_id)
            .execute(&mut conn)
            .await
            .unwrap();
        let (left,): (i64,) = sqlx::query_as("select count(*) from trade_journal where id = $1")
            .bind(entry.id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_journal_migration_is_idempotent_and_cascades() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("j.db").display());
    let store = store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let db = Db { store, url };
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let entry = begin(&db, &user, intent(account)).await;
    db.raw(&format!("delete from mt5_accounts where id = '{account}'"))
        .await;
    assert_eq!(db.store.get_entry(&user, entry.id).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// The journal is the service's record: users read it, only the service writes it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_users_cannot_write_even_their_own_journal_directly() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let acc = new_account(&db, &alice).await;
        let mine = begin(&db, &alice, keyed(acc, "k-1")).await;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();

        // What the Data API gives Alice: `authenticated` with her own claims, on her own account
        // and her own entry. Planting a "done" entry, completing one, freeing a key, deleting.
        for sql in [
            format!(
                "insert into trade_journal (id, user_id, account_id, client_id, source, action, \
                 request, status) values ('{}', '{}', '{acc}', 'planted', 'api', 'place', '{{}}', \
                 'done')",
                Uuid::new_v4(),
                alice.user_id
            ),
            format!(
                "update trade_journal set status = 'done', retcode = 10009 where id = '{}'",
                mine.id
            ),
            format!(
                "update trade_journal set idempotency_key = null where id = '{}'",
                mine.id
            ),
            format!("delete from trade_journal where id = '{}'", mine.id),
        ] {
            let err = store_support::refused_as_user(&mut conn, &alice, &sql).await;
            assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{sql}: {err}");
        }

        // She still reads her own entries.
        let mut tx = as_user(&mut conn, &alice).await;
        let seen: Vec<(Uuid, String)> = sqlx::query_as("select id, status from trade_journal")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen, vec![(mine.id, "pending".to_string())]);
        tx.rollback().await.unwrap();

        // The service's own writes still work: complete, the key replay, and a key given up
        // after its TTL (an UPDATE then an INSERT, both as the writer).
        db.store
            .complete(
                &alice,
                mine.id,
                Completion {
                    status: Some(JournalStatus::Done),
                    retcode: Some(10009),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let done = db.store.get_entry(&alice, mine.id).await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.retcode),
            (JournalStatus::Done, Some(10009))
        );
        let replay = existing(
            db.store
                .begin(&alice, keyed(acc, "k-1"), TTL)
                .await
                .unwrap(),
        );
        assert_eq!(replay.id, mine.id);
        tick().await;
        let fresh = created(db.store.begin(&alice, keyed(acc, "k-1"), 0).await.unwrap());
        assert_ne!(fresh.id, mine.id);
        let old = db.store.get_entry(&alice, mine.id).await.unwrap().unwrap();
        assert_eq!(old.idempotency_key, None);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_entry_on_another_users_account_is_refused_by_the_key() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let alice_acc = new_account(&db, &alice).await;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let insert = |client_id: &str| {
            format!(
                "insert into trade_journal (id, user_id, account_id, client_id, source, action, \
                 request, status) values ('{}', '{}', '{alice_acc}', '{client_id}', 'api', \
                 'place', '{{}}', 'pending')",
                Uuid::new_v4(),
                bob.user_id
            )
        };

        // Bob's row (his claims, so the writer's policy passes) on Alice's account: the
        // (account_id, user_id) key refuses it, although FK checks ignore RLS.
        let mut tx = store_support::as_writer(&mut conn, &bob).await;
        let err = sqlx::query(&insert("as-writer"))
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(sql_state(&err).as_deref(), Some("23503"), "{err}");
        tx.rollback().await.unwrap();
        // Not even the table's owner, for whom RLS does not apply, can write it.
        let err = sqlx::query(&insert("as-owner"))
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert_eq!(sql_state(&err).as_deref(), Some("23503"), "{err}");

        // Through the store it is "not one of the user's accounts", and nothing is written.
        let err = db
            .store
            .begin(&bob, intent(alice_acc), TTL)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("not one of the user's accounts"),
            "{err}"
        );
        let (n,): (i64,) = sqlx::query_as("select count(*) from trade_journal")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 0);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_entry_on_another_users_account_is_refused_by_the_key() {
    run_sqlite(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let alice_acc = new_account(&db, &alice).await;
        let bob_acc = new_account(&db, &bob).await;
        // sqlx turns foreign keys on for every SQLite connection, as the store's pool does.
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let insert = |user: Uuid, account: Uuid, client_id: &str| {
            format!(
                "insert into trade_journal (id, user_id, account_id, client_id, source, action, \
                 request, status, created_at) values ('{}', '{user}', '{account}', '{client_id}', \
                 'api', 'place', '{{}}', 'pending', '2024-01-01T00:00:00.000000Z')",
                Uuid::new_v4()
            )
        };
        let err = sqlx::query(&insert(bob.user_id, alice_acc, "crossed"))
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        sqlx::query(&insert(bob.user_id, bob_acc, "own"))
            .execute(&mut conn)
            .await
            .unwrap();
        // The key's target is the unique index on mt5_accounts (id, user_id).
        let (unique,): (i64,) = sqlx::query_as(
            "select count(*) from pragma_index_list('mt5_accounts') \
             where name = 'mt5_accounts_id_user_id_key' and \"unique\" = 1",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(unique, 1);
        // The key cascades like the one it replaced.
        sqlx::query(&format!("delete from mt5_accounts where id = '{bob_acc}'"))
            .execute(&mut conn)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as("select count(*) from trade_journal")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 0);
    })
    .await
}
