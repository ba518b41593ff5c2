//! What a change to the table is made of: elements of its sets and maps, typed, and the batch of commands
//! libnftables applies as one transaction, rendered in nft's own syntax.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::table::{CHAINS, MAPS, SETS, TABLE};

/// The transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// How a batch changes elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Adds; an element that is already there (with the same value) is not an error.
    Add,
    /// Adds; an element whose key is already there fails the whole batch (`EEXIST`).
    Create,
    /// Removes; a missing element fails the whole batch (`ENOENT`).
    Delete,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "add",
            Verb::Create => "create",
            Verb::Delete => "delete",
        }
    }
}

/// One element of a set or map, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Element {
    Ifname(String),
    /// `iifname . oifname`.
    IfnamePair(String, String),
    Net(IpNet),
    /// A port map element: `[host address .] proto . port : container address . port`.
    Port {
        host: Option<IpAddr>,
        proto: Proto,
        port: u16,
        to: IpAddr,
        to_port: u16,
    },
    /// A cluster IP's slot: `cluster IP . proto . port . slot : endpoint address . port`.
    Service(Slot),
    /// One address.
    Addr(IpAddr),
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Validated by `check_bridge`: no quote or backslash can end the string early.
            Element::Ifname(name) => write!(f, "\"{name}\""),
            Element::IfnamePair(a, b) => write!(f, "\"{a}\" . \"{b}\""),
            Element::Net(net) => write!(f, "{}", net.trunc()),
            Element::Port {
                host,
                proto,
                port,
                to,
                to_port,
            } => {
                if let Some(h) = host {
                    write!(f, "{h} . ")?;
                }
                write!(f, "{proto} . {port} : {to} . {to_port}")
            }
            Element::Service(s) => write!(f, "{s}"),
            Element::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// One command of a batch.
#[derive(Debug)]
pub(crate) enum Command {
    /// `add table` (nothing if it exists) or `delete table` (with everything in it).
    Table(Verb),
    /// Declares the fixed sets, maps and chains, empties the chains and adds their fixed rules: the result is
    /// the same whether the table was empty or already complete.
    Skeleton,
    Elements {
        verb: Verb,
        set: &'static str,
        elements: Vec<Element>,
    },
}

/// Commands that libnftables applies as one transaction: all of them or none.
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) commands: Vec<Command>,
}

impl Batch {
    pub(crate) fn push_elements(&mut self, verb: Verb, set: &'static str, elements: Vec<Element>) {
        if !elements.is_empty() {
            self.commands.push(Command::Elements {
                verb,
                set,
                elements,
            });
        }
    }

    /// Adds and then deletes the elements in the same transaction: the add makes the delete valid when an
    /// element is missing (nftables 1.0.6 has no `destroy`), so removing is idempotent and still atomic.
    pub(crate) fn push_removal(&mut self, set: &'static str, elements: Vec<Element>) {
        self.push_elements(Verb::Add, set, elements.clone());
        self.push_elements(Verb::Delete, set, elements);
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

impl fmt::Display for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for command in &self.commands {
            match command {
                Command::Table(verb) => writeln!(f, "{} table {TABLE}", verb.as_str())?,
                Command::Skeleton => {
                    for s in SETS {
                        writeln!(f, "add {} {TABLE} {} {{ {} }}", s.kind, s.name, s.spec)?;
                    }
                    for c in CHAINS {
                        match c.base {
                            Some(base) => writeln!(f, "add chain {TABLE} {} {{ {base} }}", c.name)?,
                            None => writeln!(f, "add chain {TABLE} {}", c.name)?,
                        }
                    }
                    for c in CHAINS {
                        writeln!(f, "flush chain {TABLE} {}", c.name)?;
                        for r in c.rules {
                            writeln!(f, "add rule {TABLE} {} {r}", c.name)?;
                        }
                    }
                }
                Command::Elements {
                    verb,
                    set,
                    elements,
                } => {
                    // One element per line, so that nft's error message points at the one it refused.
                    for e in elements {
                        writeln!(f, "{} element {TABLE} {set} {{ {e} }}", verb.as_str())?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where a slot's connections arrive: a cluster IP, or a node port on any address of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Front {
    ClusterIp(IpAddr),
    Node,
}

/// One element of a map: a port's slot (0 to 15) and the endpoint it leads to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub front: Front,
    pub proto: ProtoKey,
    pub port: u16,
    /// Whether the slot is the client's address's (`sessionAffinity: ClientIP`) or its source port's.
    pub by_client: bool,
    pub slot: u16,
    pub to: IpAddr,
    pub to_port: u16,
}

impl Slot {
    /// The map the slot is an element of.
    pub fn map(&self) -> &'static str {
        match (self.front, self.by_client) {
            (Front::ClusterIp(IpAddr::V4(_)), false) => MAPS[0].0,
            (Front::ClusterIp(IpAddr::V4(_)), true) => MAPS[1].0,
            (Front::ClusterIp(IpAddr::V6(_)), false) => MAPS[2].0,
            (Front::ClusterIp(IpAddr::V6(_)), true) => MAPS[3].0,
            (Front::Node, false) => MAPS[4].0,
            (Front::Node, true) => MAPS[5].0,
        }
    }
}

/// The element as its map holds it (see [`Slot::map`]).
impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Front::ClusterIp(ip) = self.front {
            write!(f, "{ip} . ")?;
        }
        write!(f, "{} . {} . ", self.proto, self.port)?;
        if self.by_client {
            match self.to {
                IpAddr::V4(_) => write!(f, "{}", Ipv4Addr::from(u32::from(self.slot)))?,
                IpAddr::V6(_) => write!(f, "{}", Ipv6Addr::from(u128::from(self.slot)))?,
            }
        } else {
            write!(f, "{}", self.slot * 2)?;
        }
        write!(f, " : {} . {}", self.to, self.to_port)
    }
}

/// [`Proto`] with an order, for sorting slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProtoKey {
    Tcp,
    Udp,
}

impl From<Proto> for ProtoKey {
    fn from(p: Proto) -> ProtoKey {
        match p {
            Proto::Tcp => ProtoKey::Tcp,
            Proto::Udp => ProtoKey::Udp,
        }
    }
}

impl fmt::Display for ProtoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtoKey::Tcp => "tcp",
            ProtoKey::Udp => "udp",
        })
    }
}
