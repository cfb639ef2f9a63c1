//! pharos web: the status page, history and incident pages, Atom/RSS feeds and the JSON API,
//! all rendered when state changes and served from memory; plus the authenticated admin API.
//! Only this crate speaks HTML and the API's JSON shapes.

mod admin;
mod admin_ui;
mod admin_users;
mod admin_views;
mod agent_api;
mod api;
#[cfg(test)]
mod api_schema_test;
mod badges;
pub mod credentials;
mod export;
mod feeds;
mod incident_api;
#[cfg(test)]
mod lean_page_test;
mod login_limiter;
mod maintenance_api;
mod markdown;
mod metrics;
mod operator;
mod pages;
mod publish;
mod region_grid;
mod renderer;
mod router;
mod server;
mod site;
mod snapshot;
mod statuspage;
mod subscribe;
mod view;
mod zero_copy;

pub use export::{export, ExportError};
pub use publish::{Published, Publisher};
pub use renderer::Renderer;
pub use router::{router, Current, ReloadRefused, ReloadRequest, ReloadSummary, Replica, WebState};
pub use server::{raise_descriptor_limit, serve, ServerLimits};
pub use snapshot::PageCache;
pub use zero_copy::MemoryFiles;
