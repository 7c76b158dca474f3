//! A fixed set of read connections used from tokio's blocking threads.

use std::sync::{Arc, Mutex};

use oversight_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::{SqliteError, backend};

/// Read connections, each lent to one query at a time.
///
/// A semaphore permit is held for as long as a connection is lent, inside
/// the blocking task, so a caller that stops waiting never frees a permit
/// while its query still uses the connection.
#[derive(Debug)]
pub(crate) struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    pub(crate) fn new(connections: Vec<Connection>) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(connections.len()));
        Arc::new(Self {
            idle: Mutex::new(connections),
            permits,
        })
    }

    /// Runs `query` on an idle connection in a blocking thread, waiting for
    /// a connection if all are busy.
    pub(crate) async fn run<T, F>(
        self: &Arc<Self>,
        operation: &'static str,
        query: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let lease = Lease {
                pool: &pool,
                conn: Some(pool.take()),
            };
            let result = query(lease.connection());
            drop(lease);
            drop(permit);
            result
        })
        .await
        .map_err(|error| backend(operation)(SqliteError::Join(error)))?
    }

    fn take(&self) -> Connection {
        self.idle
            .lock()
            .expect("reader pool mutex is never poisoned")
            .pop()
            .expect("a semaphore permit guarantees an idle connection")
    }

    fn put(&self, conn: Connection) {
        self.idle
            .lock()
            .expect("reader pool mutex is never poisoned")
            .push(conn);
    }
}

/// A lent connection, returned to the pool on drop, also when a query panics.
struct Lease<'a> {
    pool: &'a ReaderPool,
    conn: Option<Connection>,
}

impl Lease<'_> {
    fn connection(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(conn);
        }
    }
}
