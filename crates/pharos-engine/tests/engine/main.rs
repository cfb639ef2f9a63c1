//! The engine: detection and incidents with a controlled clock, and the running scheduler
//! against real targets.

mod dependencies;
mod detection;
mod maintenance;
mod providers;
mod regions;
mod regression;
mod running;
mod support;
