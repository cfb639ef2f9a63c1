//! The pharos binary end to end: real processes, real targets, a real verifying webhook
//! receiver, SIGKILL and restart, and the page in a real headless Chromium.

mod admin_browser;
mod browser;
mod cli;
mod demo_admin;
mod demo_agents;
mod dependencies;
mod end_to_end;
mod failover;
mod incident_cli;
#[allow(dead_code)]
#[path = "../../../pharos-probe/tests/probes/mailstack.rs"]
mod mailstack;
mod maintenance;
#[path = "../../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;
mod postgres;
mod publish;
mod regions;
mod regression;
mod restart;
mod statuspage_api;
mod stored_xss;
mod subscribers;
mod support;
mod watch;
