//! The generic store suite, run on SQLite.

use std::sync::Arc;

use estate_server::store::{SqliteStore, Store, conformance};

fn open(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join("estate.db"), 4096, 512).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(open(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        store
            .ingest(conformance::sample_report(
                "keep",
                conformance::at(0),
                Some("h1"),
            ))
            .await
            .unwrap();
    }
    // The writer thread ends when its queue closes; reopen the same file.
    let store = open(&dir);
    let host = store.host("keep".to_owned()).await.unwrap().unwrap();
    assert_eq!(host.inventory_hash.as_deref(), Some("h1"));
    assert_eq!(store.counts().await.unwrap().series, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_writer_queue_answers_busy() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("estate.db"), 1, 1).unwrap());
    // Enqueue many writes before awaiting any: with a queue of one, some must be refused.
    let futures: Vec<_> = (0..50)
        .map(|i| store.ingest(conformance::sample_report("busy", conformance::at(i), None)))
        .collect();
    let mut busy = 0;
    for f in futures {
        match f.await {
            Ok(_) => {}
            Err(estate_server::store::StoreError::Busy) => busy += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(busy > 0, "no write was refused");
    assert_eq!(store.counts().await.unwrap().series, 50 - busy);
}
