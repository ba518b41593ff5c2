//! The Go types behind Docker's `inspect` documents, as far as a template can tell them apart.
//!
//! Docker runs an `inspect --format` template over its own Go structs, and Go prints a struct as `{v1 v2}`,
//! a nil list as `[]` and a nil map as `map[]`, where the JSON document only has objects and `null`. These
//! declarations say which objects of our documents are structs (with their fields in Go's order, to print
//! and to fill in the ones the JSON leaves out), which are maps and which `null`s are lists or maps.
//! Objects not described here are maps, as in Docker's own fallback to the raw JSON.
//!
//! The field lists follow the Docker Engine API types (`container.InspectResponse`, `network.Inspect`,
//! `image.InspectResponse`). A struct is `complete` when every field is listed: only those print as Go
//! structs; a partial one (the big ones: `HostConfig`, `Config`) only types the fields it lists.

use std::collections::HashMap;

use gtmpl::Value;

use crate::gofmt::STRUCT_FIELDS;

/// A Go type, for converting a JSON value into a template value.
pub enum Ty {
    /// Whatever the JSON says: objects are maps.
    Any,
    Str,
    Int,
    Bool,
    /// A slice: `null` is an empty list.
    List(&'static Ty),
    /// A map with string keys: `null` is an empty map.
    Map(&'static Ty),
    /// A pointer: `null` is `<nil>`; otherwise what it points to (text/template prints through pointers).
    Ptr(&'static Ty),
    /// A struct's fields by their JSON names, in Go's order; `complete` when all of them are listed.
    Struct {
        fields: &'static [(&'static str, Ty)],
        complete: bool,
    },
}

const STRINGS: Ty = Ty::List(&Ty::Str);
const STRING_MAP: Ty = Ty::Map(&Ty::Str);
const EMPTY_STRUCT: Ty = Ty::Struct {
    fields: &[],
    complete: true,
};
/// `nat.PortSet`, `map[string]struct{}`: `map[80/tcp:{}]`.
const SET: Ty = Ty::Map(&EMPTY_STRUCT);
const PORT_BINDING: Ty = Ty::Struct {
    fields: &[("HostIp", Ty::Str), ("HostPort", Ty::Str)],
    complete: true,
};
/// `nat.PortMap`: `map[80/tcp:[{ 8080}]]`.
const PORT_MAP: Ty = Ty::Map(&Ty::List(&PORT_BINDING));

const HEALTH: Ty = Ty::Struct {
    fields: &[
        ("Status", Ty::Str),
        ("FailingStreak", Ty::Int),
        ("Log", Ty::List(&Ty::Any)),
    ],
    complete: true,
};
const STATE: Ty = Ty::Struct {
    fields: &[
        ("Status", Ty::Str),
        ("Running", Ty::Bool),
        ("Paused", Ty::Bool),
        ("Restarting", Ty::Bool),
        ("OOMKilled", Ty::Bool),
        ("Dead", Ty::Bool),
        ("Pid", Ty::Int),
        ("ExitCode", Ty::Int),
        ("Error", Ty::Str),
        ("StartedAt", Ty::Str),
        ("FinishedAt", Ty::Str),
        ("Health", Ty::Ptr(&HEALTH)),
    ],
    complete: true,
};
const MOUNT_POINT: Ty = Ty::Struct {
    fields: &[
        ("Type", Ty::Str),
        ("Name", Ty::Str),
        ("Source", Ty::Str),
        ("Destination", Ty::Str),
        ("Driver", Ty::Str),
        ("Mode", Ty::Str),
        ("RW", Ty::Bool),
        ("Propagation", Ty::Str),
    ],
    complete: true,
};
const RESTART_POLICY: Ty = Ty::Struct {
    fields: &[("Name", Ty::Str), ("MaximumRetryCount", Ty::Int)],
    complete: true,
};
const LOG_CONFIG: Ty = Ty::Struct {
    fields: &[("Type", Ty::Str), ("Config", STRING_MAP)],
    complete: true,
};
const HOST_CONFIG: Ty = Ty::Struct {
    fields: &[
        ("Binds", STRINGS),
        ("LogConfig", LOG_CONFIG),
        ("PortBindings", PORT_MAP),
        ("RestartPolicy", RESTART_POLICY),
        ("VolumesFrom", STRINGS),
        ("CapAdd", STRINGS),
        ("CapDrop", STRINGS),
        ("Dns", STRINGS),
        ("DnsOptions", STRINGS),
        ("DnsSearch", STRINGS),
        ("ExtraHosts", STRINGS),
        ("GroupAdd", STRINGS),
        ("Links", STRINGS),
        ("SecurityOpt", STRINGS),
        ("StorageOpt", STRING_MAP),
        ("Tmpfs", STRING_MAP),
        ("Sysctls", STRING_MAP),
        ("MaskedPaths", STRINGS),
        ("ReadonlyPaths", STRINGS),
        ("Init", Ty::Ptr(&Ty::Bool)),
        ("PidsLimit", Ty::Ptr(&Ty::Int)),
    ],
    complete: false,
};
const CONFIG: Ty = Ty::Struct {
    fields: &[
        ("ExposedPorts", SET),
        ("Env", STRINGS),
        ("Cmd", STRINGS),
        ("Volumes", SET),
        ("Entrypoint", STRINGS),
        ("OnBuild", STRINGS),
        ("Labels", STRING_MAP),
        ("StopTimeout", Ty::Ptr(&Ty::Int)),
        ("Shell", STRINGS),
    ],
    complete: false,
};
const ENDPOINT_SETTINGS: Ty = Ty::Struct {
    fields: &[
        ("Links", STRINGS),
        ("Aliases", STRINGS),
        ("DriverOpts", STRING_MAP),
        ("DNSNames", STRINGS),
    ],
    complete: false,
};
const NETWORK_SETTINGS: Ty = Ty::Struct {
    fields: &[
        ("Ports", PORT_MAP),
        ("Networks", Ty::Map(&Ty::Ptr(&ENDPOINT_SETTINGS))),
    ],
    complete: false,
};
const GRAPH_DRIVER: Ty = Ty::Struct {
    fields: &[("Data", STRING_MAP), ("Name", Ty::Str)],
    complete: true,
};

/// `docker container inspect`'s document.
pub const CONTAINER: Ty = Ty::Struct {
    fields: &[
        ("Args", STRINGS),
        ("State", Ty::Ptr(&STATE)),
        ("ExecIDs", STRINGS),
        ("HostConfig", Ty::Ptr(&HOST_CONFIG)),
        ("GraphDriver", GRAPH_DRIVER),
        ("Mounts", Ty::List(&MOUNT_POINT)),
        ("Config", Ty::Ptr(&CONFIG)),
        ("NetworkSettings", Ty::Ptr(&NETWORK_SETTINGS)),
    ],
    complete: false,
};

const IPAM_CONFIG: Ty = Ty::Struct {
    fields: &[
        ("Subnet", Ty::Str),
        ("IPRange", Ty::Str),
        ("Gateway", Ty::Str),
        ("AuxiliaryAddresses", STRING_MAP),
    ],
    complete: true,
};
const IPAM: Ty = Ty::Struct {
    fields: &[
        ("Driver", Ty::Str),
        ("Options", STRING_MAP),
        ("Config", Ty::List(&IPAM_CONFIG)),
    ],
    complete: true,
};
const ENDPOINT_RESOURCE: Ty = Ty::Struct {
    fields: &[
        ("Name", Ty::Str),
        ("EndpointID", Ty::Str),
        ("MacAddress", Ty::Str),
        ("IPv4Address", Ty::Str),
        ("IPv6Address", Ty::Str),
    ],
    complete: true,
};

/// `docker network inspect`'s document.
pub const NETWORK: Ty = Ty::Struct {
    fields: &[
        ("IPAM", IPAM),
        ("ConfigFrom", CONFIG_REFERENCE),
        ("Containers", Ty::Map(&ENDPOINT_RESOURCE)),
        ("Options", STRING_MAP),
        ("Labels", STRING_MAP),
    ],
    complete: false,
};
const CONFIG_REFERENCE: Ty = Ty::Struct {
    fields: &[("Network", Ty::Str)],
    complete: true,
};

const ROOTFS: Ty = Ty::Struct {
    fields: &[("Type", Ty::Str), ("Layers", STRINGS)],
    complete: true,
};

/// `docker image inspect`'s document.
pub const IMAGE: Ty = Ty::Struct {
    fields: &[
        ("RepoTags", STRINGS),
        ("RepoDigests", STRINGS),
        ("Config", Ty::Ptr(&CONFIG)),
        ("GraphDriver", GRAPH_DRIVER),
        ("RootFS", ROOTFS),
    ],
    complete: false,
};

/// `docker volume inspect`'s document.
pub const VOLUME: Ty = Ty::Struct {
    fields: &[("Labels", STRING_MAP), ("Options", STRING_MAP)],
    complete: false,
};

/// Converts a JSON value into a template value of type `ty`.
pub fn to_value(v: &serde_json::Value, ty: &Ty) -> Value {
    use serde_json::Value as J;
    match (v, ty) {
        (J::Null, Ty::List(_)) => Value::Array(Vec::new()),
        (J::Null, Ty::Map(_)) => Value::Map(HashMap::new()),
        (J::Null, _) => Value::Nil,
        (_, Ty::Ptr(inner)) => to_value(v, inner),
        (J::Bool(b), _) => Value::Bool(*b),
        (J::Number(n), _) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        (J::String(s), _) => Value::String(s.clone()),
        (J::Array(a), Ty::List(elem)) => {
            Value::Array(a.iter().map(|e| to_value(e, elem)).collect())
        }
        (J::Array(a), _) => Value::Array(a.iter().map(|e| to_value(e, &Ty::Any)).collect()),
        (J::Object(o), Ty::Map(elem)) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v, elem)))
                .collect(),
        ),
        (J::Object(o), Ty::Struct { fields, complete }) => {
            let field = |k: &str| fields.iter().find(|(name, _)| *name == k).map(|(_, t)| t);
            let mut m: HashMap<String, Value> = o
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v, field(k).unwrap_or(&Ty::Any))))
                .collect();
            if *complete {
                for (name, t) in fields.iter() {
                    m.entry((*name).to_owned()).or_insert_with(|| zero(t));
                }
                let names = fields.iter().map(|(n, _)| Value::String((*n).to_owned()));
                m.insert(STRUCT_FIELDS.to_owned(), Value::Array(names.collect()));
            }
            Value::Map(m)
        }
        (J::Object(o), _) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v, &Ty::Any)))
                .collect(),
        ),
    }
}

/// Go's zero value of a type, for the fields of a struct the JSON leaves out (`omitempty`).
fn zero(ty: &Ty) -> Value {
    match ty {
        Ty::Str => Value::String(String::new()),
        Ty::Int => Value::from(0),
        Ty::Bool => Value::Bool(false),
        Ty::Struct { .. } => to_value(&serde_json::json!({}), ty),
        Ty::List(_) | Ty::Map(_) | Ty::Ptr(_) | Ty::Any => to_value(&serde_json::Value::Null, ty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gofmt::print;
    use serde_json::json;

    #[test]
    fn port_bindings_print_as_maps_of_structs() {
        let doc = json!({"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
                         "NetworkSettings": {"Ports": {"80/tcp": null}},
                         "Config": {"ExposedPorts": {"80/tcp": {}}, "Entrypoint": null}});
        let Value::Map(v) = to_value(&doc, &CONTAINER) else {
            panic!("a map")
        };
        let get = |a: &str, b: &str| match &v[a] {
            Value::Map(m) => print(&m[b]),
            _ => panic!("a map"),
        };
        assert_eq!(get("HostConfig", "PortBindings"), "map[80/tcp:[{ 8080}]]");
        assert_eq!(get("NetworkSettings", "Ports"), "map[80/tcp:[]]");
        assert_eq!(get("Config", "ExposedPorts"), "map[80/tcp:{}]");
        assert_eq!(get("Config", "Entrypoint"), "[]");
    }

    #[test]
    fn fields_left_out_of_the_json_print_as_zero_values() {
        let m = json!([{"Type": "bind", "Source": "/a", "Destination": "/b", "Mode": "", "RW": true,
                        "Propagation": "rprivate"}]);
        assert_eq!(
            print(&to_value(&m, &Ty::List(&MOUNT_POINT))),
            "[{bind  /a /b   true rprivate}]"
        );
    }
}
