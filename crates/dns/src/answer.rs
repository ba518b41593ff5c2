//! Answering one query from one network's records: pure, so that unit tests cover it without sockets.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::config::Listener;

/// The TTL of our answers, in seconds: short, because containers come and go and nothing tells a client's
/// cache that one did.
pub const TTL: u32 = 60;

/// The largest UDP answer we send to a client that offers EDNS (RFC 9715's recommended payload size).
const EDNS_PAYLOAD: u16 = 1232;

/// One network's records, indexed for answering.
#[derive(Debug, Default)]
pub struct Zone {
    pub network: String,
    pub internal: bool,
    /// Lower-case name without trailing dot → its addresses (several containers may share an alias).
    names: HashMap<String, Vec<IpAddr>>,
    /// Address → the first name of the first record that has it.
    reverse: HashMap<IpAddr, Name>,
}

impl Zone {
    pub fn new(listener: &Listener) -> Zone {
        let mut zone = Zone {
            network: listener.network.clone(),
            internal: listener.internal,
            ..Zone::default()
        };
        for record in &listener.records {
            zone.add(record);
        }
        zone
    }

    /// Adds one container's record: its names to its addresses, and its first name as their PTR (unless
    /// an earlier record has it).
    pub fn add(&mut self, record: &crate::config::Record) {
        for name in &record.names {
            let addrs = self.names.entry(key(name)).or_default();
            for a in &record.addresses {
                if !addrs.contains(a) {
                    addrs.push(*a);
                }
            }
        }
        let Some(first) = record.names.first() else {
            return;
        };
        let Ok(target) = Name::from_ascii(format!("{}.", first.trim_end_matches('.'))) else {
            log::warn!("network {}: {first:?} is not a DNS name", self.network);
            return;
        };
        for a in &record.addresses {
            self.reverse.entry(*a).or_insert_with(|| target.clone());
        }
    }

    /// Takes back what [`Zone::add`] added for `record`: its addresses from its names (a name another
    /// container shares keeps that one's addresses) and the PTRs of its addresses.
    pub fn remove(&mut self, record: &crate::config::Record) {
        for name in &record.names {
            let k = key(name);
            if let Some(addrs) = self.names.get_mut(&k) {
                addrs.retain(|a| !record.addresses.contains(a));
                if addrs.is_empty() {
                    self.names.remove(&k);
                }
            }
        }
        for a in &record.addresses {
            self.reverse.remove(a);
        }
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this answer.
    Reply(Vec<u8>),
    /// Not one of ours: relay it to the upstream servers.
    Forward,
    /// Not worth an answer (not a query, or too broken to carry an ID).
    Drop,
}

/// Answers `query` (a DNS message as received) from `zone`. `udp` limits the answer to what the client can
/// receive over UDP (512 bytes, or its EDNS payload size up to ours), setting TC when it does not fit.
pub fn answer(query: &[u8], zone: &Zone, udp: bool) -> Outcome {
    answer_in(query, &[zone], udp)
}

/// Answers `query` from the first of `zones` that knows the name: the zone of the network it was asked on,
/// then those of the asking container's other networks (a container on several networks resolves the names
/// of all of them, as with Docker, through the one resolver in its resolv.conf). Forwarding and the flags of
/// the answer follow the first zone.
pub fn answer_in(query: &[u8], zones: &[&Zone], udp: bool) -> Outcome {
    let zone = zones[0];
    let request = match Message::from_vec(query) {
        Ok(m) => m,
        Err(_) if query.len() >= 12 && query[2] & 0x80 == 0 => {
            // A query we cannot parse: FORMERR with its ID, as servers do.
            let id = u16::from_be_bytes([query[0], query[1]]);
            return encode(Message::error_msg(id, OpCode::Query, ResponseCode::FormErr));
        }
        Err(_) => return Outcome::Drop,
    };
    if request.metadata.message_type != MessageType::Query {
        return Outcome::Drop;
    }
    let id = request.metadata.id;
    let op = request.metadata.op_code;
    if op != OpCode::Query {
        return encode(Message::error_msg(id, op, ResponseCode::NotImp));
    }
    let [q] = request.queries.as_slice() else {
        return encode(Message::error_msg(id, op, ResponseCode::FormErr));
    };

    let mut answers = Vec::new();
    let found = if q.query_class() != DNSClass::IN {
        false
    } else if let Some(addrs) = zones
        .iter()
        .find_map(|z| z.names.get(&key(&q.name().to_ascii())))
    {
        for a in addrs {
            let rdata = match (q.query_type(), a) {
                (RecordType::A | RecordType::ANY, IpAddr::V4(v4)) => RData::A(A(*v4)),
                (RecordType::AAAA | RecordType::ANY, IpAddr::V6(v6)) => RData::AAAA(AAAA(*v6)),
                _ => continue,
            };
            answers.push(Record::from_rdata(q.name().clone(), TTL, rdata));
        }
        true
    } else if let Some(target) = zones.iter().find_map(|z| reverse(z, q.name())) {
        if matches!(q.query_type(), RecordType::PTR | RecordType::ANY) {
            answers.push(Record::from_rdata(
                q.name().clone(),
                TTL,
                RData::PTR(PTR(target.clone())),
            ));
        }
        true
    } else {
        false
    };
    if !found && !zone.internal {
        return Outcome::Forward;
    }

    let mut response = Message::response(id, op);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = !zone.internal;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    if !found {
        response.metadata.response_code = ResponseCode::NXDomain;
    }
    response.add_query(q.clone());
    response.answers = answers;
    let mut limit = 512;
    if let Some(edns) = &request.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(EDNS_PAYLOAD);
        response.set_edns(ours);
        limit = edns.max_payload().clamp(512, EDNS_PAYLOAD) as usize;
    }
    match response.to_vec() {
        Ok(bytes) if udp && bytes.len() > limit => {
            response.answers.clear();
            response.metadata.truncation = true;
            encode(response)
        }
        Ok(bytes) => Outcome::Reply(bytes),
        Err(e) => {
            log::warn!("network {}: cannot encode an answer: {e}", zone.network);
            encode(Message::error_msg(id, op, ResponseCode::ServFail))
        }
    }
}

/// The name whose address `name` (an in-addr.arpa or ip6.arpa name) is.
fn reverse<'z>(zone: &'z Zone, name: &Name) -> Option<&'z Name> {
    let mut name = name.clone();
    name.set_fqdn(true);
    let net = name.parse_arpa_name().ok()?;
    if net.prefix_len() != net.max_prefix_len() {
        return None;
    }
    zone.reverse.get(&net.addr())
}

fn encode(message: Message) -> Outcome {
    match message.to_vec() {
        Ok(bytes) => Outcome::Reply(bytes),
        Err(_) => Outcome::Drop,
    }
}

/// A SERVFAIL answer to `query` (for a forwarded query that no upstream answered), or `None` when it carries
/// no ID. The question is echoed when it parses.
pub(crate) fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([query[0], query[1]]);
    let mut response = Message::error_msg(id, OpCode::Query, ResponseCode::ServFail);
    if let Ok(request) = Message::from_vec(query) {
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.add_queries(request.queries);
    }
    response.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Record as Container;
    use hickory_proto::op::Query;

    fn zone(internal: bool) -> Zone {
        Zone::new(&Listener {
            address: "10.89.0.1".parse().unwrap(),
            network: "net".into(),
            internal,
            records: vec![
                Container {
                    names: vec!["web".into(), "www".into()],
                    addresses: vec!["10.89.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
                    container: "c1".into(),
                },
                Container {
                    names: vec!["db".into()],
                    addresses: vec!["10.89.0.3".parse().unwrap()],
                    container: "c2".into(),
                },
            ],
        })
    }

    fn query(name: &str, rtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        m.to_vec().unwrap()
    }

    fn reply(outcome: Outcome) -> Message {
        match outcome {
            Outcome::Reply(b) => Message::from_vec(&b).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn rdata(m: &Message) -> Vec<String> {
        m.answers.iter().map(|r| r.data.to_string()).collect()
    }

    #[test]
    fn a_and_aaaa_answer_names_and_aliases_case_insensitively() {
        let z = zone(false);
        for name in ["web", "web.", "WeB.", "www"] {
            let m = reply(answer(&query(name, RecordType::A), &z, true));
            assert_eq!(m.metadata.id, 0x1234);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.metadata.authoritative);
            assert!(m.metadata.recursion_desired);
            assert_eq!(rdata(&m), ["10.89.0.2"], "{name}");
            assert_eq!(m.answers[0].ttl, TTL);
            assert_eq!(
                m.answers[0].name.to_ascii(),
                format!("{}.", name.trim_end_matches('.')),
                "the question's spelling"
            );
            assert_eq!(m.queries.len(), 1);
        }
        let m = reply(answer(&query("web", RecordType::AAAA), &z, true));
        assert_eq!(rdata(&m), ["fd00::2"]);
    }

    #[test]
    fn known_name_without_such_address_is_noerror_and_empty() {
        let z = zone(false);
        for t in [RecordType::AAAA, RecordType::MX, RecordType::TXT] {
            let m = reply(answer(&query("db", t), &z, true));
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{t}");
            assert!(m.answers.is_empty());
        }
    }

    #[test]
    fn ptr_answers_the_first_name_for_v4_and_v6() {
        let z = zone(false);
        let m = reply(answer(
            &query("2.0.89.10.in-addr.arpa.", RecordType::PTR),
            &z,
            true,
        ));
        assert_eq!(rdata(&m), ["web."]);
        let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
        let m = reply(answer(&query(v6, RecordType::PTR), &z, true));
        assert_eq!(rdata(&m), ["web."]);
        let m = reply(answer(
            &query("3.0.89.10.IN-ADDR.ARPA", RecordType::PTR),
            &z,
            true,
        ));
        assert_eq!(rdata(&m), ["db."]);
    }

    #[test]
    fn unknown_names_are_forwarded_except_on_internal_networks() {
        assert_eq!(
            answer(&query("example.com.", RecordType::A), &zone(false), true),
            Outcome::Forward
        );
        assert_eq!(
            answer(
                &query("9.0.89.10.in-addr.arpa.", RecordType::PTR),
                &zone(false),
                true
            ),
            Outcome::Forward
        );
        for name in ["example.com.", "9.0.89.10.in-addr.arpa."] {
            let m = reply(answer(&query(name, RecordType::A), &zone(true), true));
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
            assert!(!m.metadata.recursion_available);
            assert!(m.answers.is_empty());
        }
    }

    #[test]
    fn other_networks_names_are_not_known() {
        let other = Zone::new(&Listener {
            address: "10.90.0.1".parse().unwrap(),
            network: "other".into(),
            internal: true,
            records: vec![],
        });
        let m = reply(answer(&query("web", RecordType::A), &other, true));
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        // A container on both networks asks on `other`: its other network's names answer too, and the
        // forwarding rule stays `other`'s (internal: NXDOMAIN, not forwarded).
        let m = reply(answer_in(
            &query("web", RecordType::A),
            &[&other, &zone(false)],
            true,
        ));
        assert_eq!(m.answers.len(), 1);
        let m = reply(answer_in(
            &query("example.com.", RecordType::A),
            &[&other, &zone(false)],
            true,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn garbage_gets_formerr_or_nothing() {
        let mut q = query("web", RecordType::A);
        q.truncate(14);
        let m = reply(answer(&q, &zone(false), true));
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(answer(&[1, 2, 3], &zone(false), true), Outcome::Drop);
        let mut response = Message::response(1, OpCode::Query);
        response.add_query(Query::query(
            Name::from_ascii("web").unwrap(),
            RecordType::A,
        ));
        assert_eq!(
            answer(&response.to_vec().unwrap(), &zone(false), true),
            Outcome::Drop
        );
    }

    #[test]
    fn a_record_removed_takes_only_its_own_addresses() {
        let mut z = zone(false);
        let shared = |addr: [u8; 4]| Container {
            names: vec![format!("c{}", addr[3]), "shared".into()],
            addresses: vec![IpAddr::from(addr)],
            container: format!("c{}", addr[3]),
        };
        z.add(&shared([10, 89, 0, 7]));
        z.add(&shared([10, 89, 0, 8]));
        let shared_a = |z: &Zone| rdata(&reply(answer(&query("shared", RecordType::A), z, true)));
        assert_eq!(shared_a(&z), ["10.89.0.7", "10.89.0.8"]);
        z.remove(&shared([10, 89, 0, 7]));
        assert_eq!(
            shared_a(&z),
            ["10.89.0.8"],
            "the other container keeps the alias"
        );
        // Not ours any more: forwarded, as any other name.
        assert_eq!(
            answer(&query("c7", RecordType::A), &z, true),
            Outcome::Forward
        );
        assert_eq!(
            answer(&query("7.0.89.10.in-addr.arpa", RecordType::PTR), &z, true),
            Outcome::Forward
        );
        let ptr = reply(answer(
            &query("8.0.89.10.in-addr.arpa", RecordType::PTR),
            &z,
            true,
        ));
        assert_eq!(rdata(&ptr), ["c8."]);
        // What was there before is untouched.
        assert_eq!(
            rdata(&reply(answer(&query("web", RecordType::A), &z, true))),
            ["10.89.0.2"]
        );
    }

    #[test]
    fn udp_answers_too_big_are_truncated_unless_edns_or_tcp() {
        let many: Vec<IpAddr> = (1..=60).map(|i| IpAddr::from([10, 89, 1, i])).collect();
        let z = Zone::new(&Listener {
            address: "10.89.0.1".parse().unwrap(),
            network: "net".into(),
            internal: false,
            records: vec![Container {
                names: vec!["many".into()],
                addresses: many,
                container: "c".into(),
            }],
        });
        let plain = query("many", RecordType::A);
        let m = reply(answer(&plain, &z, true));
        assert!(m.metadata.truncation);
        assert!(m.answers.is_empty());
        assert_eq!(reply(answer(&plain, &z, false)).answers.len(), 60);
        let mut with_edns = Message::from_vec(&plain).unwrap();
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        with_edns.set_edns(edns);
        let m = reply(answer(&with_edns.to_vec().unwrap(), &z, true));
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 60);
        assert!(m.edns.is_some(), "EDNS is answered with EDNS");
    }

    #[test]
    fn servfail_keeps_id_and_question() {
        let m = Message::from_vec(&servfail(&query("x.test.", RecordType::A)).unwrap()).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(m.queries[0].name().to_ascii(), "x.test.");
    }
}
