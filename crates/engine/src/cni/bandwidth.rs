//! The `bandwidth` capability: an attachment's traffic shaped to the runtime's rates, as the reference
//! `bandwidth` plugin shapes it, but by `minotaur-cni` itself.
//!
//! Ingress (traffic to the container) is a token bucket on the host end of the veth, which that traffic
//! leaves the host through. Egress (traffic from the container) arrives on the host end, where nothing can
//! be queued, so it is redirected to an ifb device named after the host end (`mb` and its 13 hex digits)
//! whose own token bucket shapes it. Deleting the host end takes its qdiscs and filter with it; the ifb is
//! deleted by name. See `minotaur_net::tc` for the kernel objects.

use minotaur_net::{Netlink, TokenBucket};

use crate::cni::error::CniError;
use crate::error::network::NetworkError;
use crate::network::record::{CniBandwidth, CniRecord};

/// The prefix of an attachment's ifb device; the rest is its host veth's (`mc…`).
const IFB_PREFIX: &str = "mb";

/// The ifb device of the attachment whose host end is `host_veth`.
pub(crate) fn ifb_name(host_veth: &str) -> String {
    format!("{IFB_PREFIX}{}", host_veth.get(2..).unwrap_or_default())
}

/// The host veth an ifb device of ours serves, if `name` is one by its form.
pub(crate) fn veth_of_ifb(name: &str) -> Option<String> {
    let hex = name.strip_prefix(IFB_PREFIX)?;
    (hex.len() == 13 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("mc{hex}"))
}

/// Shapes a new attachment's traffic (its host end exists and is up). What it made is taken away with
/// the host end and by [`unshape`] if a later step fails.
pub(crate) fn shape(
    nl: &mut Netlink,
    rec: &CniRecord,
    bw: &CniBandwidth,
    mtu: u32,
) -> Result<(), CniError> {
    let host = &rec.endpoint.host_veth;
    let index = nl
        .link_index(host)
        .map_err(NetworkError::from)?
        .ok_or_else(|| CniError::Check(format!("host interface {host} vanished")))?;
    if bw.ingress_rate > 0 {
        nl.add_token_bucket(
            index,
            &TokenBucket::from_bits(bw.ingress_rate, bw.ingress_burst),
        )
        .map_err(NetworkError::from)?;
    }
    if bw.egress_rate > 0 {
        let ifb = nl
            .add_ifb(&ifb_name(host), mtu)
            .map_err(NetworkError::from)?;
        nl.add_token_bucket(
            ifb,
            &TokenBucket::from_bits(bw.egress_rate, bw.egress_burst),
        )
        .map_err(NetworkError::from)?;
        nl.redirect_ingress(index, ifb)
            .map_err(NetworkError::from)?;
    }
    Ok(())
}

/// Deletes the attachment's ifb device, if it has one; one already gone is not an error.
pub(crate) fn unshape(nl: &mut Netlink, rec: &CniRecord) -> Result<(), NetworkError> {
    if rec.bandwidth.is_some_and(|b| b.egress_rate > 0) {
        nl.delete_link(&ifb_name(&rec.endpoint.host_veth))?;
    }
    Ok(())
}

/// CHECK: the token buckets are there with the recorded rates, and egress is redirected to the ifb.
pub(crate) fn check(nl: &mut Netlink, rec: &CniRecord) -> Result<(), CniError> {
    let Some(bw) = rec.bandwidth else {
        return Ok(());
    };
    let host = &rec.endpoint.host_veth;
    let bucket_of = |nl: &mut Netlink, link: &str| -> Result<(Option<u64>, bool), CniError> {
        let index = nl
            .link_index(link)
            .map_err(NetworkError::from)?
            .ok_or_else(|| CniError::Check(format!("interface {link} is gone")))?;
        let qdiscs = nl.qdiscs(index).map_err(NetworkError::from)?;
        let rate = qdiscs
            .iter()
            .find(|q| q.root && q.kind == "tbf")
            .and_then(|q| q.rate);
        Ok((rate, qdiscs.iter().any(|q| q.kind == "ingress")))
    };
    let (ingress, redirected) = bucket_of(nl, host)?;
    if bw.ingress_rate > 0 && ingress != Some(bw.ingress_rate / 8) {
        return Err(CniError::Check(format!(
            "{host} has no token bucket of {} bit/s at its root",
            bw.ingress_rate
        )));
    }
    if bw.egress_rate > 0 {
        let ifb = ifb_name(host);
        let (egress, _) = bucket_of(nl, &ifb)?;
        if egress != Some(bw.egress_rate / 8) || !redirected {
            return Err(CniError::Check(format!(
                "the egress of {host} is not shaped to {} bit/s through {ifb}",
                bw.egress_rate
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ifb_is_named_after_its_host_veth_and_back() {
        let ifb = ifb_name("mc0123456789abc");
        assert_eq!(ifb, "mb0123456789abc");
        assert_eq!(veth_of_ifb(&ifb).as_deref(), Some("mc0123456789abc"));
        assert_eq!(veth_of_ifb("mbx"), None);
        assert_eq!(veth_of_ifb("ifb0"), None);
    }
}
