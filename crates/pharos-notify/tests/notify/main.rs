//! Notification channels against real receivers on 127.0.0.1.

mod channels;
mod fallback;
mod health;
mod order;
mod regression;
mod service;
mod worker;
