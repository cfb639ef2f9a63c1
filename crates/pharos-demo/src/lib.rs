//! The built-in demo: small in-process targets (HTTP, TCP, DNS) that fail and recover on a
//! cycle, and a webhook receiver that verifies signatures, so `pharos serve --demo` shows the
//! whole loop from first failure to resolved incident with no set-up. The DNS responder and the
//! receiver double as real peers for tests.

pub mod dns;

pub use dns::DnsResponder;
pub use hickory_proto::rr::{rdata, Name, RData, RecordType};
