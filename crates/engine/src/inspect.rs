//! A container's `inspect` document: the model's own part, with its networks and published ports from the
//! network records.

use std::collections::BTreeMap;

use serde_json::json;

use crate::container::Container;
use crate::context::Context;
use crate::error::EngineError;
use crate::network::ports::Published;
use crate::network::record::{endpoint_id, read_attachments, Network};

/// A container's `inspect` document with its networks and published ports filled in.
pub fn inspect(ctx: &Context, c: &Container) -> Result<serde_json::Value, EngineError> {
    let mut doc = c.inspect();
    let (attached, ports) = {
        let mut st = ctx.store()?;
        st.read(|tx| -> Result<_, EngineError> {
            Ok((
                read_attachments(tx, Some(c.id.as_str()), None)?,
                tx.ports(Some(c.id.as_str()))?,
            ))
        })?
    };
    let ns = &mut doc["NetworkSettings"];
    let mut nets = serde_json::Map::new();
    for a in &attached {
        let e = &a.endpoint;
        nets.insert(
            a.network.clone(),
            json!({
                "IPAMConfig": null,
                "Links": null,
                "Aliases": e.aliases,
                "MacAddress": e.mac,
                "NetworkID": e.network_id,
                "EndpointID": endpoint_id(&a.container_id, &e.network_id),
                "Gateway": e.gateway4.map(|g| g.to_string()).unwrap_or_default(),
                "IPAddress": e.ipv4.map(|n| n.addr().to_string()).unwrap_or_default(),
                "IPPrefixLen": e.ipv4.map_or(0, |n| n.prefix_len()),
                "IPv6Gateway": e.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                "GlobalIPv6Address": e.ipv6.map(|n| n.addr().to_string()).unwrap_or_default(),
                "GlobalIPv6PrefixLen": e.ipv6.map_or(0, |n| n.prefix_len()),
                "DNSNames": std::iter::once(c.name.to_string())
                    .chain(e.aliases.iter().cloned())
                    .chain(std::iter::once(c.id.short().to_owned()))
                    .collect::<Vec<_>>(),
            }),
        );
    }
    // The first network's addresses are the top-level ones, as Docker shows its default network's.
    if let Some(first) = attached.iter().min_by_key(|a| a.endpoint.ifname.clone()) {
        let e = &first.endpoint;
        ns["IPAddress"] = json!(e.ipv4.map(|n| n.addr().to_string()).unwrap_or_default());
        ns["IPPrefixLen"] = json!(e.ipv4.map_or(0, |n| n.prefix_len()));
        ns["Gateway"] = json!(e.gateway4.map(|g| g.to_string()).unwrap_or_default());
        ns["MacAddress"] = json!(e.mac);
        ns["GlobalIPv6Address"] = json!(e.ipv6.map(|n| n.addr().to_string()).unwrap_or_default());
        ns["IPv6Gateway"] = json!(e.gateway6.map(|g| g.to_string()).unwrap_or_default());
    }
    if matches!(c.config.host.network_mode.as_str(), "host" | "none") {
        nets.insert(
            c.config.host.network_mode.clone(),
            json!({"NetworkID": Network::builtin(&c.config.host.network_mode).id, "IPAddress": "", "Gateway": "", "MacAddress": "", "Aliases": null}),
        );
    }
    ns["Networks"] = serde_json::Value::Object(nets);
    let mut port_map: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for &(port, proto) in &c.config.host.exposed {
        port_map.insert(
            format!("{port}/{}", proto.as_str()),
            serde_json::Value::Null,
        );
    }
    for p in ports.iter().map(Published::from_row) {
        let entry = port_map
            .entry(format!("{}/{}", p.container_port, p.proto.as_str()))
            .or_insert_with(|| json!([]));
        if !entry.is_array() {
            *entry = json!([]);
        }
        entry.as_array_mut().expect("an array").push(json!({
            "HostIp": p.host_ip.map_or("0.0.0.0".to_owned(), |ip| ip.to_string()),
            "HostPort": p.host_port.to_string(),
        }));
    }
    ns["Ports"] = json!(port_map);
    Ok(doc)
}
