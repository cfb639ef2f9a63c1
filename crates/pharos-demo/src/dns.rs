//! A small authoritative DNS responder on UDP, for the demo and for tests: it serves the
//! records it is given, answers NXDOMAIN for unknown names, and can be told to stop answering.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

type Zone = HashMap<(Name, RecordType), Vec<RData>>;

/// A running responder; dropping the handle does not stop it (it lives as long as the runtime).
#[derive(Clone)]
pub struct DnsResponder {
    address: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    silent: Arc<AtomicBool>,
}

impl DnsResponder {
    /// Binds a UDP socket on `address` (use port 0 for any) and starts answering.
    pub async fn start(address: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(address).await?;
        let responder = Self {
            address: socket.local_addr()?,
            zone: Arc::new(Mutex::new(HashMap::new())),
            silent: Arc::new(AtomicBool::new(false)),
        };
        let serving = responder.clone();
        tokio::spawn(async move { serving.serve(socket).await });
        Ok(responder)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Replaces the answers for one name and type.
    pub fn set(&self, name: &str, record_type: RecordType, answers: Vec<RData>) {
        let Ok(name) = Name::from_str(&fqdn(name)) else {
            return;
        };
        if let Ok(mut zone) = self.zone.lock() {
            zone.insert((name, record_type), answers);
        }
    }

    /// While silent, queries get no answer at all (the resolver times out).
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    async fn serve(self, socket: UdpSocket) {
        let mut buffer = vec![0u8; 4096];
        loop {
            let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
                continue;
            };
            if self.silent.load(Ordering::SeqCst) {
                continue;
            }
            if let Some(answer) = self.answer(&buffer[..length]) {
                let _ = socket.send_to(&answer, peer).await;
            }
        }
    }

    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let request = Message::from_vec(query).ok()?;
        let mut response = Message::new();
        response
            .set_id(request.id())
            .set_message_type(MessageType::Response)
            .set_op_code(request.op_code())
            .set_authoritative(true)
            .set_recursion_desired(request.recursion_desired())
            .set_recursion_available(false);
        let zone = self.zone.lock().ok()?;
        let mut known_name = false;
        for question in request.queries() {
            response.add_query(question.clone());
            let name = question.name().to_lowercase();
            known_name |= zone.keys().any(|(zoned, _)| zoned == &name);
            if let Some(answers) = zone.get(&(name.clone(), question.query_type())) {
                for data in answers {
                    response.add_answer(Record::from_rdata(name.clone(), 60, data.clone()));
                }
            }
        }
        if !known_name {
            response.set_response_code(ResponseCode::NXDomain);
        }
        response.to_vec().ok()
    }
}

fn fqdn(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with('.') {
        lower
    } else {
        format!("{lower}.")
    }
}
