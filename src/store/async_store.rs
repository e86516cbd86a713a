//! [`AsyncStore`]: the store for async code. sled calls block (and fsync), so every call
//! runs on tokio's blocking pool via `spawn_blocking`, never on an async worker thread.

use std::path::PathBuf;

use super::{
    AnswerUpdate, ConversationState, Outbound, OutboxMessage, Passphrase, RecordOutcome, Store,
    StoreError,
};

/// A cheap-clone async handle to a [`Store`].
#[derive(Clone, Debug)]
pub struct AsyncStore {
    store: Store,
}

impl AsyncStore {
    /// Wraps an open store.
    pub fn new(store: Store) -> Self {
        AsyncStore { store }
    }

    /// Opens (or creates) the store on the blocking pool.
    pub async fn open(path: PathBuf, passphrase: Passphrase) -> Result<Self, StoreError> {
        let store = blocking(move || Store::open(&path, &passphrase)).await?;
        Ok(AsyncStore { store })
    }

    /// The synchronous store (for use inside `spawn_blocking` only).
    pub fn blocking_store(&self) -> &Store {
        &self.store
    }

    /// Runs any store operation on the blocking pool.
    pub async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        blocking(move || f(&store)).await
    }

    /// [`Store::record_answer`] on the blocking pool.
    pub async fn record_answer(
        &self,
        user_id: String,
        survey_id: String,
        round: u32,
        event_id: String,
        apply: impl Fn(&mut ConversationState) -> AnswerUpdate + Send + 'static,
    ) -> Result<RecordOutcome, StoreError> {
        self.run(move |s| s.record_answer(&user_id, &survey_id, round, &event_id, apply))
            .await
    }

    /// [`Store::queue`] on the blocking pool.
    pub async fn queue(&self, messages: Vec<Outbound>) -> Result<Vec<u64>, StoreError> {
        self.run(move |s| s.queue(&messages)).await
    }

    /// [`Store::pending`] on the blocking pool.
    pub async fn pending(&self) -> Result<Vec<OutboxMessage>, StoreError> {
        self.run(|s| s.pending()).await
    }

    /// [`Store::mark_sent`] for `m` on the blocking pool.
    pub async fn mark_sent(&self, m: &OutboxMessage) -> Result<bool, StoreError> {
        let (room_id, id) = (m.message.room_id.clone(), m.id);
        self.run(move |s| s.mark_sent(&room_id, id)).await
    }

    /// [`Store::set_bot_state`] on the blocking pool.
    pub async fn set_bot_state(&self, name: String, value: Vec<u8>) -> Result<(), StoreError> {
        self.run(move |s| s.set_bot_state(&name, &value)).await
    }

    /// [`Store::bot_state`] on the blocking pool.
    pub async fn bot_state(&self, name: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(move |s| s.bot_state(&name)).await
    }
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}
