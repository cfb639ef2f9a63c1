//! The outbox worker: delivers due messages through their channels, records every attempt,
//! and schedules retries. Messages live in the store, so a restart resumes where it stopped:
//! delivery is at least once, and the stable message id lets receivers drop duplicates.

use crate::backoff::next_attempt;
use crate::channel::{Channel, Delivery};
use crate::routing::Notifier;
use chrono::Utc;
use pharos_store::{Batch, DeliveryAttempt, NextStep, OutboxMessage, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// Channel senders by channel id.
pub type Channels = HashMap<String, Arc<dyn Channel>>;

/// Messages picked per round, and how many are delivered at once.
const BATCH: u32 = 64;
/// The longest the worker sleeps without looking at the outbox.
const IDLE_CHECK: Duration = Duration::from_secs(30);

pub struct OutboxWorker {
    store: Arc<dyn Store>,
    channels: Arc<Channels>,
    notifier: Arc<Notifier>,
    wake: Arc<Notify>,
}

impl OutboxWorker {
    pub fn new(store: Arc<dyn Store>, notifier: Arc<Notifier>, wake: Arc<Notify>) -> Self {
        Self {
            store,
            channels: Arc::new(notifier.channels()),
            notifier,
            wake,
        }
    }

    /// Delivers until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let delivered_some = match self.deliver_due().await {
                Ok(count) => count > 0,
                Err(error) => {
                    tracing::error!(%error, "outbox: cannot read due messages");
                    false
                }
            };
            if delivered_some {
                continue;
            }
            let sleep = match self.store.next_due_at().await {
                Ok(Some(due)) => (due - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(IDLE_CHECK),
                _ => IDLE_CHECK,
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Delivers every message due now; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, pharos_store::StoreError> {
        // Chain steps that missed their deadline hand over to the next step first.
        let expired = self.store.expire_chain_steps(Utc::now()).await?;
        if expired > 0 {
            tracing::info!(
                expired,
                "fallback: steps not delivered in time handed over to the next channel"
            );
        }
        let due = self.store.due_messages(Utc::now(), BATCH).await?;
        let count = due.len();
        let mut deliveries = JoinSet::new();
        for message in due {
            let store = self.store.clone();
            let channels = self.channels.clone();
            let health = self.notifier.health();
            deliveries.spawn(async move {
                let channel = message.channel_id.clone();
                let outcome = deliver_one(store.as_ref(), &channels, message).await;
                health.record(&channel, &outcome, Utc::now())
            });
        }
        let mut changes = Vec::new();
        while let Some(joined) = deliveries.join_next().await {
            if let Ok(Some(change)) = joined {
                changes.push(change);
            }
        }
        for change in changes {
            self.announce(change).await;
        }
        Ok(count)
    }

    /// Queues the news of a channel's health through the other channels.
    async fn announce(&self, event: pharos_core::Event) {
        match &event {
            pharos_core::Event::ChannelUnhealthy(news) => {
                tracing::error!(channel = %news.channel, failures = news.failures, reason = %news.reason, "notification channel unhealthy")
            }
            pharos_core::Event::ChannelRecovered(news) => {
                tracing::info!(channel = %news.channel, "notification channel recovered")
            }
            _ => {}
        }
        let batch = Batch {
            outbox: self.notifier.messages(&event, Utc::now(), &|_| None),
            ..Batch::default()
        };
        if batch.outbox.is_empty() {
            return;
        }
        if let Err(error) = self.store.commit(&batch).await {
            tracing::error!(%error, event = event.kind().as_str(), "outbox: cannot queue the news of a channel's health");
        }
    }
}

async fn deliver_one(store: &dyn Store, channels: &Channels, message: OutboxMessage) -> Delivery {
    let started = Instant::now();
    let at = Utc::now();
    let outcome = match channels.get(&message.channel_id) {
        Some(channel) => channel.deliver(&message).await,
        None => Delivery::GiveUp {
            status_code: None,
            reason: format!("channel `{}` is no longer configured", message.channel_id),
        },
    };
    let attempts = message.attempts + 1;
    let next = match &outcome {
        Delivery::Delivered { .. } => NextStep::Delivered,
        Delivery::GiveUp { .. } => NextStep::GiveUp,
        Delivery::Retry { retry_after, .. } => {
            let now = Utc::now();
            let asked = retry_after
                .and_then(|wait| chrono::Duration::from_std(wait).ok())
                .map(|wait| now + wait);
            match next_attempt(now, attempts, message.give_up_at, &mut rand::rng()) {
                // The service's own wait, when it asked for a longer one than the backoff.
                Some(retry_at) => match asked {
                    Some(asked) if asked > message.give_up_at => NextStep::GiveUp,
                    Some(asked) if asked > retry_at => NextStep::RetryAt(asked),
                    _ => NextStep::RetryAt(retry_at),
                },
                None => NextStep::GiveUp,
            }
        }
    };
    let error = outcome.reason().map(str::to_owned);
    match (&next, &error) {
        // A later step of a chain delivered: the fallback did its work, worth a line at info.
        (NextStep::Delivered, _) if message.chain.as_ref().is_some_and(|link| link.step > 0) => {
            let step = message.chain.as_ref().map_or(0, |link| link.step + 1);
            tracing::info!(message = %message.id, event = message.event.as_str(), "fallback chain: delivered through {} (step {step})", message.channel_id)
        }
        (NextStep::Delivered, _) => {
            tracing::debug!(message = %message.id, channel = %message.channel_id, event = message.event.as_str(), attempts, "notification delivered")
        }
        (NextStep::RetryAt(retry_at), Some(error)) => {
            tracing::warn!(message = %message.id, channel = %message.channel_id, attempts, %error, retry_at = %retry_at, "notification delivery failed; will retry")
        }
        (_, error) => {
            tracing::error!(message = %message.id, channel = %message.channel_id, attempts, error = error.as_deref().unwrap_or(""), "notification given up")
        }
    }
    let attempt = DeliveryAttempt {
        at,
        duration: started.elapsed(),
        status_code: outcome.status_code(),
        error,
    };
    if let Err(error) = store.record_attempt(&message.id, attempt, next).await {
        tracing::error!(%error, message = %message.id, "outbox: cannot record a delivery attempt; it will be retried");
    }
    outcome
}
