//! Every probe against real peers on 127.0.0.1: HTTP and TLS servers with generated
//! certificates, TCP listeners, and an in-process DNS server.

mod dns;
mod http;
mod mail_channel;
mod mail_domain;
mod mail_faults;
mod mail_incidents;
mod mail_protocols;
mod mailstack;
mod providers;
mod regression;
mod support;
mod tcp;
mod tls;
