//! One line per packet, in tcpdump's default format (`HH:MM:SS.micro IP a.p > b.q: Flags [S], ...`), with
//! the interface named after the time as `tcpdump -i any` does. Headers are parsed with etherparse; times
//! are UTC (tcpdump prints local time, which would need the zone database).

use std::fmt::Write;
use std::time::Duration;

use etherparse::{ArpOperation, Icmpv4Type, Icmpv6Type, NetSlice, SlicedPacket, TransportSlice};

/// The line for one Ethernet frame captured on `iface`, `len` bytes long on the wire.
pub(crate) fn line(ts: Duration, iface: &str, len: u32, data: &[u8]) -> String {
    let secs = ts.as_secs() % 86_400;
    let mut out = format!(
        "{:02}:{:02}:{:02}.{:06} {iface} ",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ts.subsec_micros()
    );
    let Ok(p) = SlicedPacket::from_ethernet(data) else {
        let _ = write!(out, "[|ether], length {len}");
        return out;
    };
    let (src, dst, ip_len) = match &p.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            out.push_str("IP ");
            (
                h.source_addr().to_string(),
                h.destination_addr().to_string(),
                ip.payload().payload.len(),
            )
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            out.push_str("IP6 ");
            (
                h.source_addr().to_string(),
                h.destination_addr().to_string(),
                ip.payload().payload.len(),
            )
        }
        Some(NetSlice::Arp(arp)) => {
            let _ = match arp.to_packet().try_eth_ipv4() {
                Ok(a) if arp.to_packet().operation == ArpOperation::REQUEST => write!(
                    out,
                    "ARP, Request who-has {} tell {}, length {len}",
                    a.target_ipv4_addr(),
                    a.sender_ipv4_addr()
                ),
                Ok(a) if arp.to_packet().operation == ArpOperation::REPLY => write!(
                    out,
                    "ARP, Reply {} is-at {}, length {len}",
                    a.sender_ipv4_addr(),
                    mac(&a.sender_mac)
                ),
                _ => write!(out, "ARP, length {len}"),
            };
            return out;
        }
        None => {
            let ty = data.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
            let _ = match ty {
                Some(t) => write!(out, "ethertype 0x{t:04x}, length {len}"),
                None => write!(out, "length {len}"),
            };
            return out;
        }
    };
    let _ = match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            let mut flags = String::new();
            for (on, c) in [
                (t.syn(), 'S'),
                (t.fin(), 'F'),
                (t.psh(), 'P'),
                (t.rst(), 'R'),
                (t.urg(), 'U'),
                (t.ack(), '.'),
            ] {
                if on {
                    flags.push(c);
                }
            }
            let _ = write!(
                out,
                "{src}.{} > {dst}.{}: Flags [{flags}], seq {}",
                t.source_port(),
                t.destination_port(),
                t.sequence_number()
            );
            if t.ack() {
                let _ = write!(out, ", ack {}", t.acknowledgment_number());
            }
            write!(
                out,
                ", win {}, length {}",
                t.window_size(),
                t.payload().len()
            )
        }
        Some(TransportSlice::Udp(u)) => write!(
            out,
            "{src}.{} > {dst}.{}: UDP, length {}",
            u.source_port(),
            u.destination_port(),
            u.payload().len()
        ),
        Some(TransportSlice::Icmpv4(i)) => match i.icmp_type() {
            Icmpv4Type::EchoRequest(e) => write!(
                out,
                "{src} > {dst}: ICMP echo request, id {}, seq {}, length {ip_len}",
                e.id, e.seq
            ),
            Icmpv4Type::EchoReply(e) => write!(
                out,
                "{src} > {dst}: ICMP echo reply, id {}, seq {}, length {ip_len}",
                e.id, e.seq
            ),
            _ => write!(out, "{src} > {dst}: ICMP, length {ip_len}"),
        },
        Some(TransportSlice::Icmpv6(i)) => match i.icmp_type() {
            Icmpv6Type::EchoRequest(_) => {
                write!(out, "{src} > {dst}: ICMP6, echo request, length {ip_len}")
            }
            Icmpv6Type::EchoReply(_) => {
                write!(out, "{src} > {dst}: ICMP6, echo reply, length {ip_len}")
            }
            _ => write!(out, "{src} > {dst}: ICMP6, length {ip_len}"),
        },
        _ => write!(out, "{src} > {dst}: length {ip_len}"),
    };
    out
}

fn mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_syn_reads_as_tcpdump_prints_it() {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64)
            .tcp(40000, 80, 1000, 64240)
            .syn();
        let mut frame = Vec::new();
        builder.write(&mut frame, &[]).unwrap();
        let ts = Duration::new(3600 * 25 + 61, 5_000);
        assert_eq!(
            line(ts, "web/eth0", frame.len() as u32, &frame),
            "01:01:01.000005 web/eth0 IP 10.0.0.2.40000 > 10.0.0.3.80: Flags [S], seq 1000, win 64240, length 0"
        );
    }

    #[test]
    fn udp_and_icmp() {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [3; 6])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64)
            .udp(5353, 53)
            .write(&mut frame, b"abcd")
            .unwrap();
        let l = line(Duration::ZERO, "x/eth0", frame.len() as u32, &frame);
        assert!(
            l.ends_with("IP 10.0.0.2.5353 > 10.0.0.3.53: UDP, length 4"),
            "{l}"
        );
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [3; 6])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64)
            .icmpv4_echo_request(7, 1)
            .write(&mut frame, b"ping")
            .unwrap();
        let l = line(Duration::ZERO, "x/eth0", frame.len() as u32, &frame);
        assert!(
            l.ends_with("IP 10.0.0.2 > 10.0.0.3: ICMP echo request, id 7, seq 1, length 12"),
            "{l}"
        );
    }
}
