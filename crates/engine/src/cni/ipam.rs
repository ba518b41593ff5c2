//! The addresses of an attachment, as host-local chooses them but from minotaur's allocator: per address
//! family, one address from each range set (the sets of a family are windows of the network's one subnet,
//! checked by the configuration), each set's ranges tried in order, and the addresses a runtime asks for
//! (`CNI_ARGS` `IP`, `args.cni.ips`, the `ips` capability) each in the first set that holds it.

use std::net::IpAddr;

use ipnet::IpNet;
use minotaur_net::pool;
use minotaur_state::StateError;

use crate::cni::config::{Invocation, NetConf};
use crate::cni::error::CniError;
use crate::error::network::NetworkError;
use crate::network::record::Network;

/// Takes the attachment's addresses in `tx` (the transaction that records it): for each family the
/// network has, one per range set (or one from the whole pool when the configuration has no set of that
/// family), in the order of the sets.
pub(crate) fn allocate(
    tx: &minotaur_state::WriteTx<'_>,
    net: &Network,
    conf: &NetConf,
    inv: &Invocation,
    wanted: &[IpAddr],
) -> Result<Vec<IpNet>, CniError> {
    let mut addrs: Vec<IpNet> = Vec::new();
    for v6 in [false, true] {
        let Some(s) = net.subnet_of(v6) else {
            continue;
        };
        let sets: Vec<Vec<(Option<IpAddr>, Option<IpAddr>)>> = {
            let of_family = conf.range_sets_of(v6);
            if of_family.is_empty() {
                vec![vec![(None, None)]]
            } else {
                of_family
                    .iter()
                    .map(|set| set.iter().map(|r| (r.range_start, r.range_end)).collect())
                    .collect()
            }
        };
        let within = |a: IpAddr, (lo, hi): (Option<IpAddr>, Option<IpAddr>)| {
            lo.is_none_or(|l| a >= l) && hi.is_none_or(|h| a <= h)
        };
        let wants: Vec<IpAddr> = wanted
            .iter()
            .copied()
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        for &a in &wants {
            if !s.subnet.contains(&a) || a == s.gateway || a == s.subnet.network() {
                return Err(NetworkError::AddressOutside {
                    address: a,
                    network: net.name.clone(),
                }
                .into());
            }
        }
        // Each requested address to the first set that holds it and has none yet.
        let mut set_wants: Vec<Option<IpAddr>> = vec![None; sets.len()];
        for a in wants {
            let Some(slot) = sets.iter().enumerate().find_map(|(i, windows)| {
                (set_wants[i].is_none() && windows.iter().any(|w| within(a, *w))).then_some(i)
            }) else {
                return Err(CniError::InvalidConfig(format!(
                    "requested address {a} is in none of the configuration's range sets of {} \
                     that has no requested address yet (one address per set)",
                    s.subnet
                )));
            };
            set_wants[slot] = Some(a);
        }
        for (windows, want) in sets.iter().zip(set_wants) {
            let candidates = windows.iter().flat_map(|w| {
                pool::hosts(&s.subnet, s.ip_range.as_ref(), s.gateway)
                    .filter(move |a| within(*a, *w))
            });
            let addr = tx
                .allocate_cni_address(&net.id, &inv.container_id, &inv.ifname, want, candidates)
                .map_err(|e| match e {
                    StateError::AddressesExhausted { .. } => StateError::AddressesExhausted {
                        network: net.name.clone(),
                    },
                    e => e,
                })?;
            addrs.push(IpNet::new(addr, s.subnet.prefix_len()).expect("prefix of a valid subnet"));
        }
    }
    Ok(addrs)
}

/// The addresses asked for, as host-local gathers them: the `ips` capability, `args.cni.ips` and
/// `CNI_ARGS`' `IP` (`IP=10.1.0.5` or several, comma-separated); at most one per range set (checked as
/// they are taken).
pub(crate) fn wanted_ips(conf: &NetConf, inv: &Invocation) -> Result<Vec<IpAddr>, CniError> {
    let mut wanted = conf.requested_ips()?;
    let Some(list) = inv.args.get("IP") else {
        return Ok(wanted);
    };
    for s in list.split(',') {
        let s = s.split('/').next().unwrap_or(s);
        let a: IpAddr = s
            .parse()
            .map_err(|_| CniError::InvalidEnv(format!("CNI_ARGS IP {s:?} is not an address")))?;
        if !wanted.contains(&a) {
            wanted.push(a);
        }
    }
    Ok(wanted)
}
