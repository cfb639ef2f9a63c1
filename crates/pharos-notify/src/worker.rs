//! The outbox worker: delivers due messages through their channels, records every attempt,
//! and schedules retries. Messages live in the store, so a restart resumes where it stopped:
//! delivery is at least once, and the stable message id lets receivers drop duplicates.

use crate::backoff::next_attempt;
use crate::channel::{Channel, Delivery};
use crate::routing::Notifier;
use chrono::Utc;
use pharos_store::{Batch, DeliveryAttempt, NextStep, OutboxMessage, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// Channel senders by channel id.
pub type Channels = HashMap<String, Arc<dyn Channel>>;

/// Messages picked per look at the outbox.
const BATCH: u32 = 64;
/// The most deliveries under way at once.
const MAX_IN_FLIGHT: usize = 256;
/// The longest the worker sleeps without looking at the outbox.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// How often the outbox is looked at while the only due messages are already under way.
const BUSY_RECHECK: Duration = Duration::from_millis(200);
/// How long attempts under way at shutdown may take to be recorded.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub struct OutboxWorker {
    store: Arc<dyn Store>,
    channels: Arc<Channels>,
    notifier: Arc<Notifier>,
    wake: Arc<Notify>,
    /// Whether deliveries may start now (a replica sure it still holds the lease); none:
    /// always.
    gate: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl OutboxWorker {
    pub fn new(store: Arc<dyn Store>, notifier: Arc<Notifier>, wake: Arc<Notify>) -> Self {
        Self {
            store,
            channels: Arc::new(notifier.channels()),
            notifier,
            wake,
            gate: None,
        }
    }

    /// Starts deliveries only while `gate` says so: a replica that was paused past its lease
    /// sends nothing the new leader may be sending too.
    pub fn with_gate(mut self, gate: Arc<dyn Fn() -> bool + Send + Sync>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Delivers until `shutdown` turns true. Each delivery runs on its own, so one service
    /// that hangs until its timeout delays neither the other channels nor the hand-over of a
    /// fallback chain whose step missed its deadline.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut deliveries: JoinSet<(String, String, Delivery)> = JoinSet::new();
        let mut in_flight: HashSet<String> = HashSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let started = match self.start_due(&mut deliveries, &mut in_flight).await {
                Ok(started) => started,
                Err(error) => {
                    tracing::error!(%error, "outbox: cannot read due messages");
                    0
                }
            };
            let sleep = if started > 0 {
                Duration::ZERO
            } else {
                match self.store.next_due_at().await {
                    Ok(Some(due)) => (due - Utc::now())
                        .to_std()
                        .unwrap_or_default()
                        .min(IDLE_CHECK),
                    _ => IDLE_CHECK,
                }
            };
            // A message still in flight stays pending in the store: do not spin on it.
            let sleep = if sleep.is_zero() && started == 0 && !in_flight.is_empty() {
                BUSY_RECHECK
            } else {
                sleep
            };
            tokio::select! {
                Some(done) = deliveries.join_next(), if !deliveries.is_empty() => {
                    self.finished(done, &mut in_flight).await;
                }
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        // Attempts under way get their answer recorded, within a bound.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(done) = deliveries.join_next().await {
                self.finished(done, &mut in_flight).await;
            }
        })
        .await;
    }

    /// Starts delivering every due message not already under way; returns how many started.
    async fn start_due(
        &self,
        deliveries: &mut JoinSet<(String, String, Delivery)>,
        in_flight: &mut HashSet<String>,
    ) -> Result<usize, pharos_store::StoreError> {
        if self.gate.as_ref().is_some_and(|gate| !gate()) {
            return Ok(0);
        }
        // Chain steps that missed their deadline hand over to the next step first.
        let expired = self.store.expire_chain_steps(Utc::now()).await?;
        if expired > 0 {
            tracing::info!(
                expired,
                "fallback: steps not delivered in time handed over to the next channel"
            );
        }
        if in_flight.len() >= MAX_IN_FLIGHT {
            return Ok(0);
        }
        // Messages under way are still pending: ask for enough to see past them.
        let limit = BATCH + u32::try_from(in_flight.len()).unwrap_or(u32::MAX);
        let due = self.store.due_messages(Utc::now(), limit).await?;
        let mut started = 0;
        for message in due {
            if in_flight.len() >= MAX_IN_FLIGHT {
                break;
            }
            if !in_flight.insert(message.id.clone()) {
                continue;
            }
            started += 1;
            let store = self.store.clone();
            let channels = self.channels.clone();
            let subscribers = self.notifier.subscribers();
            deliveries.spawn(async move {
                let id = message.id.clone();
                let channel = message.channel_id.clone();
                let outcome =
                    deliver_one(store.as_ref(), &channels, subscribers.as_deref(), message).await;
                (id, channel, outcome)
            });
        }
        Ok(started)
    }

    /// Notes a finished delivery: no longer under way, and its channel's health.
    async fn finished(
        &self,
        done: Result<(String, String, Delivery), tokio::task::JoinError>,
        in_flight: &mut HashSet<String>,
    ) {
        let Ok((id, channel, outcome)) = done else {
            return;
        };
        in_flight.remove(&id);
        if let Some(change) = self
            .notifier
            .health()
            .record(&channel, &outcome, Utc::now())
        {
            self.announce(change).await;
        }
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

async fn deliver_one(
    store: &dyn Store,
    channels: &Channels,
    subscribers: Option<&crate::subscribers::Subscribers>,
    message: OutboxMessage,
) -> Delivery {
    let started = Instant::now();
    let at = Utc::now();
    let outcome = match (channels.get(&message.channel_id), subscribers) {
        (_, Some(subscribers)) if message.channel_id == crate::subscribers::FANOUT => {
            subscribers.fan_out(store, &message).await
        }
        (_, Some(subscribers)) if message.channel_id.starts_with(crate::subscribers::PREFIX) => {
            subscribers.deliver(store, &message).await
        }
        (Some(channel), _) => channel.deliver(&message).await,
        (None, _) => Delivery::GiveUp {
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
