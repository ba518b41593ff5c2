//! Renderers of the engine's topology graph: a terminal tree ([`text`]), Graphviz ([`dot`]), Mermaid
//! ([`mermaid`]) and SVG laid out in-process by `layout-rs` ([`svg`]), with no `dot` to run.
//!
//! Each network namespace is a group (a DOT cluster, a Mermaid subgraph) holding its interfaces; veth
//! pairs, bridge ports, a network's bridge, containers' namespaces, published ports and the default route
//! are edges.

use std::collections::BTreeSet;
use std::io::{self, Write};

use minotaur_engine::topology::graph::{EdgeKind, Graph, Node, NodeKind};

/// One line of a node's label: its name, then its details.
fn lines(n: &Node) -> Vec<String> {
    let mut v = vec![n.label.clone()];
    v.extend(n.details.iter().cloned());
    v
}

/// The namespace node an interface node belongs to (`if:INODE:INDEX` → `ns:INODE`).
fn ns_of_iface(id: &str) -> Option<String> {
    let ino = id.strip_prefix("if:")?.split(':').next()?;
    Some(format!("ns:{ino}"))
}

fn edge_label(kind: EdgeKind, label: Option<&str>) -> String {
    let what = match kind {
        EdgeKind::Veth => "veth",
        EdgeKind::PortOf => "port of",
        EdgeKind::Bridge => "bridge",
        EdgeKind::Route => "route",
        EdgeKind::Publishes => "to port",
        EdgeKind::In => "netns",
        EdgeKind::Has => "",
    };
    match (what, label) {
        ("", Some(l)) => l.to_owned(),
        (w, Some(l)) => format!("{w} {l}"),
        (w, None) => w.to_owned(),
    }
}

/// The edges drawn between boxes (an interface's place in its namespace is drawn by grouping instead).
fn drawn_edges(g: &Graph) -> impl Iterator<Item = &minotaur_engine::topology::graph::Edge> {
    g.edges.iter().filter(|e| {
        !(e.kind == EdgeKind::Has && e.from.starts_with("ns:") && e.to.starts_with("if:"))
    })
}

// --- text -------------------------------------------------------------------------------------------------

/// An interface as one line: `eth0 172.17.0.2/16 <-> mt1a2b3c4d50`.
fn iface_line(g: &Graph, n: &Node) -> String {
    let mut s = n.label.clone();
    for d in n.details.iter().filter(|d| *d != "veth") {
        s.push(' ');
        s.push_str(d);
    }
    if let Some(peer) = g.veth_peer(&n.id) {
        s.push_str(&format!(" <-> {}", peer.label));
        if ns_of_iface(&peer.id) != ns_of_iface(&n.id) {
            if let Some(ns) = ns_of_iface(&peer.id).and_then(|id| g.node(&id)) {
                s.push_str(&format!(" ({})", ns.label));
            }
        }
    }
    s
}

/// The terminal tree: the host, its uplink, each network with its containers, then everything else.
pub fn text(out: &mut impl Write, g: &Graph) -> io::Result<()> {
    let Some(host) = g.nodes.iter().find(|n| n.kind == NodeKind::Netns) else {
        return Ok(());
    };
    writeln!(out, "{}", lines(host).join(" "))?;
    let mut shown: BTreeSet<String> = BTreeSet::new();
    shown.insert(host.id.clone());
    for e in g.edges.iter().filter(|e| e.kind == EdgeKind::Route) {
        if let Some(up) = g.node(&e.from) {
            writeln!(
                out,
                "  uplink {} -> outside{}",
                iface_line(g, up),
                e.label
                    .as_deref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )?;
        }
    }
    for net in g.nodes.iter().filter(|n| n.kind == NodeKind::Network) {
        let bridge = g
            .out(&net.id, EdgeKind::Bridge)
            .map(|(_, b)| format!(" on {}", iface_line(g, b)))
            .next()
            .unwrap_or_default();
        writeln!(out, "  {} ({}){bridge}", net.label, net.details.join(", "))?;
        for (e, c) in g.out(&net.id, EdgeKind::Has) {
            let ifname = e.label.as_deref().unwrap_or("");
            container_lines(out, g, c, Some(ifname), "    ")?;
            shown.insert(c.id.clone());
        }
    }
    let rest: Vec<&Node> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Container && !shown.contains(&n.id))
        .collect();
    if !rest.is_empty() {
        writeln!(out, "  containers on no network of their own")?;
        for c in rest {
            container_lines(out, g, c, None, "    ")?;
        }
    }
    let used: BTreeSet<&str> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::In)
        .map(|e| e.to.as_str())
        .collect();
    let others: Vec<&Node> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Netns && n.id != host.id && !used.contains(n.id.as_str()))
        .collect();
    if !others.is_empty() {
        writeln!(out, "other network namespaces")?;
        for ns in others {
            writeln!(out, "  {}", lines(ns).join(" "))?;
            for (_, i) in g.out(&ns.id, EdgeKind::Has) {
                writeln!(out, "    {}", iface_line(g, i))?;
            }
        }
    }
    Ok(())
}

fn container_lines(
    out: &mut impl Write,
    g: &Graph,
    c: &Node,
    ifname: Option<&str>,
    indent: &str,
) -> io::Result<()> {
    let ns = g.out(&c.id, EdgeKind::In).next();
    let ns_text = ns
        .map(|(e, n)| {
            let shared = e
                .label
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            format!(
                " in {}{shared}",
                n.details.first().cloned().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "{indent}{} [{}]{ns_text}",
        c.label,
        c.details.join(", ")
    )?;
    // The host's own interfaces are drawn at the top, not under each host-network container.
    let host = g
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Netns)
        .map(|n| n.id.as_str());
    if let Some((_, ns)) = ns.filter(|(_, ns)| Some(ns.id.as_str()) != host) {
        for (_, i) in g.out(&ns.id, EdgeKind::Has) {
            if ifname.is_none_or(|w| w == i.label) {
                writeln!(out, "{indent}  {}", iface_line(g, i))?;
            }
        }
    }
    for (e, p) in g.into(&c.id, EdgeKind::Publishes) {
        writeln!(
            out,
            "{indent}  published {} -> {}",
            p.label,
            e.label.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

// --- dot --------------------------------------------------------------------------------------------------

fn dot_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn dot_shape(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Outside => "ellipse",
        NodeKind::Netns => "box",
        NodeKind::Interface => "box",
        NodeKind::Network => "hexagon",
        NodeKind::Container => "component",
        NodeKind::Port => "cds",
    }
}

/// Graphviz: one cluster per network namespace, holding its interfaces.
pub fn dot(out: &mut impl Write, g: &Graph) -> io::Result<()> {
    writeln!(out, "graph minotaur {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [fontname=\"sans-serif\", fontsize=10];")?;
    for (i, ns) in g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Netns)
        .enumerate()
    {
        writeln!(out, "  subgraph cluster_{i} {{")?;
        writeln!(out, "    label={};", dot_quote(&lines(ns).join("\n")))?;
        writeln!(out, "    style=rounded;")?;
        // The cluster needs a node of its own to be the end of edges to the namespace.
        writeln!(
            out,
            "    {} [label={}, shape=point];",
            dot_quote(&ns.id),
            dot_quote("")
        )?;
        for (_, iface) in g.out(&ns.id, EdgeKind::Has) {
            writeln!(
                out,
                "    {} [label={}, shape=box];",
                dot_quote(&iface.id),
                dot_quote(&lines(iface).join("\n"))
            )?;
        }
        writeln!(out, "  }}")?;
    }
    for n in g
        .nodes
        .iter()
        .filter(|n| n.kind != NodeKind::Netns && n.kind != NodeKind::Interface)
    {
        writeln!(
            out,
            "  {} [label={}, shape={}];",
            dot_quote(&n.id),
            dot_quote(&lines(n).join("\n")),
            dot_shape(n.kind)
        )?;
    }
    for e in drawn_edges(g) {
        let style = match e.kind {
            EdgeKind::Veth => ", penwidth=2",
            EdgeKind::In | EdgeKind::Publishes => ", style=dashed",
            _ => "",
        };
        writeln!(
            out,
            "  {} -- {} [label={}{style}];",
            dot_quote(&e.from),
            dot_quote(&e.to),
            dot_quote(&edge_label(e.kind, e.label.as_deref()))
        )?;
    }
    writeln!(out, "}}")
}

// --- mermaid ----------------------------------------------------------------------------------------------

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Mermaid's flowchart, for Markdown: one subgraph per network namespace.
pub fn mermaid(out: &mut impl Write, g: &Graph) -> io::Result<()> {
    let index: std::collections::HashMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let label = |n: &Node| mermaid_text(&lines(n).join("<br/>"));
    writeln!(out, "flowchart LR")?;
    for ns in g.nodes.iter().filter(|n| n.kind == NodeKind::Netns) {
        writeln!(
            out,
            "  subgraph n{}[\"{}\"]",
            index[ns.id.as_str()],
            label(ns)
        )?;
        for (_, iface) in g.out(&ns.id, EdgeKind::Has) {
            writeln!(
                out,
                "    n{}[\"{}\"]",
                index[iface.id.as_str()],
                label(iface)
            )?;
        }
        writeln!(out, "  end")?;
    }
    for n in g
        .nodes
        .iter()
        .filter(|n| n.kind != NodeKind::Netns && n.kind != NodeKind::Interface)
    {
        let (open, close) = match n.kind {
            NodeKind::Network => ("{{", "}}"),
            NodeKind::Outside => ("((", "))"),
            NodeKind::Port => (">", "]"),
            _ => ("[", "]"),
        };
        writeln!(
            out,
            "  n{}{open}\"{}\"{close}",
            index[n.id.as_str()],
            label(n)
        )?;
    }
    for e in drawn_edges(g) {
        let (Some(a), Some(b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            continue;
        };
        let l = edge_label(e.kind, e.label.as_deref());
        let line = if matches!(e.kind, EdgeKind::In | EdgeKind::Publishes) {
            "-.-"
        } else {
            "---"
        };
        if l.is_empty() {
            writeln!(out, "  n{a} {line} n{b}")?;
        } else {
            writeln!(out, "  n{a} {line}|\"{}\"| n{b}", mermaid_text(&l))?;
        }
    }
    Ok(())
}

// --- svg --------------------------------------------------------------------------------------------------

/// SVG laid out and drawn by `layout-rs` (a Sugiyama-style layered layout, as Graphviz's `dot` does).
/// It has no clusters: an interface's namespace is named in its box.
pub fn svg(out: &mut impl Write, g: &Graph) -> io::Result<()> {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::color::Color;
    use layout::core::geometry::Point;
    use layout::core::style::{LineStyleKind, StyleAttr};
    use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
    use layout::topo::layout::VisualGraph;

    let mut vg = VisualGraph::new(Orientation::LeftToRight);
    let mut handles = std::collections::HashMap::new();
    for n in &g.nodes {
        let mut text = lines(n);
        if n.kind == NodeKind::Interface {
            if let Some(ns) = ns_of_iface(&n.id).and_then(|id| g.node(&id)) {
                text.push(format!("in {}", ns.label));
            }
        }
        let text = text.join("\n");
        let fill = match n.kind {
            NodeKind::Outside => "lightgrey",
            NodeKind::Netns => "white",
            NodeKind::Interface => "lightyellow",
            NodeKind::Network => "lightblue",
            NodeKind::Container => "palegreen",
            NodeKind::Port => "orange",
        };
        let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast(fill)), 4, 12);
        let shape = ShapeKind::new_box(&text);
        let size = layout::core::geometry::get_size_for_str(&text, 12);
        let el = Element::create(
            shape,
            look,
            Orientation::LeftToRight,
            Point::new(size.x + 20.0, size.y + 10.0),
        );
        handles.insert(n.id.clone(), vg.add_node(el));
    }
    for e in &g.edges {
        let (Some(a), Some(b)) = (handles.get(&e.from), handles.get(&e.to)) else {
            continue;
        };
        let style = if matches!(e.kind, EdgeKind::In | EdgeKind::Publishes) {
            LineStyleKind::Dashed
        } else {
            LineStyleKind::Normal
        };
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::None,
            style,
            &edge_label(e.kind, e.label.as_deref()),
            &StyleAttr::simple(),
            &None,
            &None,
        );
        vg.add_edge(arrow, *a, *b);
    }
    let mut writer = SVGWriter::new();
    if vg.num_nodes() > 0 {
        vg.do_it(false, false, false, &mut writer);
    }
    out.write_all(writer.finalize().as_bytes())?;
    writeln!(out)
}
