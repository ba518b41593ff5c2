//! Traffic shaping over route netlink, like `tc`: a token bucket (`tbf`) as a link's root qdisc, an `ifb`
//! device, and a link's ingress redirected to it. Together they are the CNI `bandwidth` capability's
//! shaping, as the reference `bandwidth` plugin builds it:
//!
//! - traffic *to* the container leaves the host through the host end of its veth, so a `tbf` root qdisc
//!   there ([`Netlink::add_token_bucket`]) shapes it;
//! - traffic *from* the container arrives on the host end's ingress, where the kernel cannot queue (an
//!   ingress qdisc only classifies). So an `ingress` qdisc with a `u32` filter that matches every packet
//!   redirects it (`mirred egress redirect`) to an `ifb` device ([`Netlink::add_ifb`],
//!   [`Netlink::redirect_ingress`]), and a `tbf` on the ifb's root shapes it on the way out of the ifb,
//!   back into the stack.
//!
//! The `u32` filter is used rather than `matchall`, which is simpler but an option many kernels are
//! built without. netlink-packet-route has no `tbf` type, so its options (`struct tc_tbf_qopt` and the
//! 64-bit rate and burst attributes, `include/uapi/linux/pkt_sched.h`) are written here as raw
//! attributes. Deleting a link deletes its qdiscs and filters with it.

use std::io;

use netlink_packet_core::{DefaultNla, Nla, NlasIterator};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirrorOption, TcActionOption,
    TcActionType, TcAttribute, TcFilterU32Option, TcHandle, TcMessage, TcMirror,
    TcMirrorActionType, TcOption, TcU32Key, TcU32Selector, TcU32SelectorFlags,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::link::{Answer, Netlink, NetlinkError};

/// A failed traffic control operation: what was asked, on what link, and the kernel's answer.
#[derive(Debug, thiserror::Error)]
pub enum TcError {
    #[error("cannot add a {kind} qdisc to link {link}")]
    AddQdisc {
        kind: &'static str,
        link: u32,
        #[source]
        source: io::Error,
    },
    #[error("cannot redirect the ingress of link {link} to link {to}")]
    AddFilter {
        link: u32,
        to: u32,
        #[source]
        source: io::Error,
    },
    #[error("cannot create ifb device {name}")]
    CreateIfb {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot list the qdiscs of link {link}")]
    Dump {
        link: u32,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

/// A token bucket: `rate` bytes per second on average, bursts of up to `burst` bytes at line rate, and at
/// most `limit` bytes queued waiting for tokens (more are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    pub rate: u64,
    pub burst: u32,
    pub limit: u32,
}

impl TokenBucket {
    /// The bucket the reference `bandwidth` plugin makes for a rate and burst given in **bits** (per
    /// second): the queue holds the burst plus what the rate sends in 25 ms, so a packet waits at most
    /// about that long for tokens.
    pub fn from_bits(rate_bits: u64, burst_bits: u64) -> TokenBucket {
        const LATENCY_MS: u64 = 25;
        let rate = rate_bits / 8;
        let burst = u32::try_from(burst_bits / 8).unwrap_or(u32::MAX);
        let queued = rate.saturating_mul(LATENCY_MS) / 1000;
        let limit = u32::try_from(queued.saturating_add(u64::from(burst))).unwrap_or(u32::MAX);
        TokenBucket { rate, burst, limit }
    }
}

/// `tbf`'s attributes (`TCA_TBF_*`).
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// `tc_ratespec.linklayer`: with it set the kernel computes transmission times itself, and needs no
/// rate table (`TCA_TBF_RTAB`) from user space.
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// The kernel's scheduler clock ticks are 64 ns (`PSCHED_SHIFT` is 6).
const PSCHED_TICK_NS: u64 = 64;
/// `ETH_P_ALL`, which a filter's protocol is given in, in network byte order (`tcm_info`'s low half).
const ETH_P_ALL_BE: u32 = 0x0003_u16.to_be() as u32;

/// The `TCA_OPTIONS` of a `tbf` qdisc.
fn tbf_options(tb: &TokenBucket) -> Vec<TcOption> {
    // struct tc_tbf_qopt { struct tc_ratespec rate, peakrate; __u32 limit, buffer, mtu; }, where
    // struct tc_ratespec { u8 cell_log, linklayer; u16 overhead; s16 cell_align; u16 mpu; u32 rate; }.
    let mut qopt = [0u8; 36];
    qopt[1] = TC_LINKLAYER_ETHERNET;
    let rate32 = u32::try_from(tb.rate).unwrap_or(u32::MAX);
    qopt[8..12].copy_from_slice(&rate32.to_ne_bytes());
    // No peak rate: its spec stays zero.
    qopt[24..28].copy_from_slice(&tb.limit.to_ne_bytes());
    // The bucket's size as the time the rate takes to fill it, in ticks; TCA_TBF_BURST below gives it in
    // bytes, which the kernel prefers, and this keeps what `tc qdisc show` prints consistent with it.
    let buffer_ns = u64::from(tb.burst).saturating_mul(1_000_000_000) / tb.rate.max(1);
    let buffer = u32::try_from(buffer_ns / PSCHED_TICK_NS).unwrap_or(u32::MAX);
    qopt[28..32].copy_from_slice(&buffer.to_ne_bytes());
    let mut options = vec![TcOption::Other(DefaultNla::new(
        TCA_TBF_PARMS,
        qopt.to_vec(),
    ))];
    if tb.rate > u64::from(u32::MAX) {
        options.push(TcOption::Other(DefaultNla::new(
            TCA_TBF_RATE64,
            tb.rate.to_ne_bytes().to_vec(),
        )));
    }
    options.push(TcOption::Other(DefaultNla::new(
        TCA_TBF_BURST,
        tb.burst.to_ne_bytes().to_vec(),
    )));
    options
}

/// What a qdisc dump says about one qdisc: its kind, its parent (root or ingress) and, for `tbf`, its
/// rate in bytes per second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qdisc {
    pub kind: String,
    pub root: bool,
    pub rate: Option<u64>,
}

impl Netlink {
    /// Sets a token bucket as the root qdisc of link `index` (`tc qdisc add dev L root handle 1: tbf`).
    pub fn add_token_bucket(&mut self, index: u32, tb: &TokenBucket) -> Result<(), TcError> {
        let mut m = TcMessage::with_index(index as i32);
        m.header.handle = TcHandle { major: 1, minor: 0 };
        m.header.parent = TcHandle::ROOT;
        m.attributes.push(TcAttribute::Kind("tbf".into()));
        m.attributes.push(TcAttribute::Options(tbf_options(tb)));
        self.create(RouteNetlinkMessage::NewQueueDiscipline(m))
            .map_err(|source| TcError::AddQdisc {
                kind: "tbf",
                link: index,
                source,
            })
    }

    /// Creates ifb device `name` with `mtu`, sets it up and returns its ifindex.
    pub fn add_ifb(&mut self, name: &str, mtu: u32) -> Result<u32, TcError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Ifb)]));
        self.create(RouteNetlinkMessage::NewLink(m))
            .map_err(|source| TcError::CreateIfb {
                name: name.to_owned(),
                source,
            })?;
        let index = self.link_index(name)?.ok_or_else(|| TcError::CreateIfb {
            name: name.to_owned(),
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
        self.set_up(index)?;
        Ok(index)
    }

    /// Sends every packet arriving on link `index` out of link `to` instead (`tc qdisc add dev L ingress`,
    /// then `tc filter add dev L parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect
    /// dev TO`).
    pub fn redirect_ingress(&mut self, index: u32, to: u32) -> Result<(), TcError> {
        let mut q = TcMessage::with_index(index as i32);
        q.header.handle = TcHandle {
            major: 0xffff,
            minor: 0,
        };
        q.header.parent = TcHandle::INGRESS;
        q.attributes.push(TcAttribute::Kind("ingress".into()));
        self.create(RouteNetlinkMessage::NewQueueDiscipline(q))
            .map_err(|source| TcError::AddQdisc {
                kind: "ingress",
                link: index,
                source,
            })?;

        let mut sel = TcU32Selector::default();
        sel.flags = TcU32SelectorFlags::Terminal;
        sel.nkeys = 1;
        // One key with a zero mask: every packet matches.
        sel.keys = vec![TcU32Key::default()];
        let mut mirred = TcMirror::default();
        mirred.generic = TcActionGeneric::default();
        mirred.generic.action = TcActionType::Stolen;
        mirred.eaction = TcMirrorActionType::EgressRedir;
        mirred.ifindex = to;
        let mut action = TcAction::default();
        action.tab = 1;
        action.attributes = vec![
            TcActionAttribute::Kind("mirred".into()),
            TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
                mirred,
            ))]),
        ];
        let mut f = TcMessage::with_index(index as i32);
        f.header.parent = TcHandle {
            major: 0xffff,
            minor: 0,
        };
        // tcm_info: the priority in the high half (1), the protocol in the low half.
        f.header.info = (1 << 16) | ETH_P_ALL_BE;
        f.attributes.push(TcAttribute::Kind("u32".into()));
        f.attributes.push(TcAttribute::Options(vec![
            TcOption::U32(TcFilterU32Option::Selector(sel)),
            TcOption::U32(TcFilterU32Option::Action(vec![action])),
        ]));
        self.create(RouteNetlinkMessage::NewTrafficFilter(f))
            .map_err(|source| TcError::AddFilter {
                link: index,
                to,
                source,
            })
    }

    /// The qdiscs of link `index`, as `tc qdisc show dev L` lists them.
    pub fn qdiscs(&mut self, index: u32) -> Result<Vec<Qdisc>, TcError> {
        let replies = self
            .exchange(
                RouteNetlinkMessage::GetQueueDiscipline(TcMessage::with_index(0)),
                Answer::Dump,
            )
            .map_err(|source| TcError::Dump {
                link: index,
                source,
            })?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewQueueDiscipline(m) if m.header.index == index as i32 => {
                    Some(qdisc_of(&m))
                }
                _ => None,
            })
            .collect())
    }
}

fn qdisc_of(m: &TcMessage) -> Qdisc {
    let kind = m
        .attributes
        .iter()
        .find_map(|a| match a {
            TcAttribute::Kind(k) => Some(k.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let options = m.attributes.iter().find_map(|a| match a {
        TcAttribute::Options(o) => Some(o),
        _ => None,
    });
    // An option block of a kind netlink-packet-route does not know is kept whole, as one attribute
    // holding the nested ones.
    let nested: Vec<u8> = options
        .and_then(|o| match o.as_slice() {
            [TcOption::Other(nla)] => {
                let mut v = vec![0; nla.value_len()];
                nla.emit_value(&mut v);
                Some(v)
            }
            _ => None,
        })
        .unwrap_or_default();
    let raw = |kind: u16| {
        NlasIterator::new(nested.as_slice())
            .filter_map(Result::ok)
            .find(|n| n.kind() == kind)
            .map(|n| n.value().to_vec())
    };
    let rate = (kind == "tbf")
        .then(|| {
            let rate64 = raw(TCA_TBF_RATE64)
                .and_then(|v| Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?)));
            rate64.or_else(|| {
                let qopt = raw(TCA_TBF_PARMS)?;
                Some(u64::from(u32::from_ne_bytes(
                    qopt.get(8..12)?.try_into().ok()?,
                )))
            })
        })
        .flatten();
    Qdisc {
        kind,
        root: m.header.parent == TcHandle::ROOT,
        rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_the_reference_plugins() {
        // 1 Mbit/s with a 64 kbit burst: 125,000 B/s, 8,000 B, and 25 ms of the rate queued beyond it.
        let tb = TokenBucket::from_bits(1_000_000, 64_000);
        assert_eq!(
            tb,
            TokenBucket {
                rate: 125_000,
                burst: 8_000,
                limit: 8_000 + 3_125
            }
        );
    }

    #[test]
    fn tbf_options_carry_rate_limit_and_burst() {
        let tb = TokenBucket::from_bits(8_000_000, 800_000);
        let opts = tbf_options(&tb);
        let TcOption::Other(parms) = &opts[0] else {
            panic!("parms first")
        };
        let mut v = vec![0; 36];
        parms.emit_value(&mut v);
        assert_eq!(v[1], TC_LINKLAYER_ETHERNET);
        assert_eq!(u32::from_ne_bytes(v[8..12].try_into().unwrap()), 1_000_000);
        assert_eq!(u32::from_ne_bytes(v[24..28].try_into().unwrap()), tb.limit);
        // 100,000 bytes at 1,000,000 B/s is 100 ms: 1,562,500 ticks of 64 ns.
        assert_eq!(u32::from_ne_bytes(v[28..32].try_into().unwrap()), 1_562_500);
        assert_eq!(opts.len(), 2, "no 64-bit rate below 4 GB/s");
        let fast = tbf_options(&TokenBucket::from_bits(80_000_000_000, 800_000));
        assert_eq!(fast.len(), 3);
    }
}
