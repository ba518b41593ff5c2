//! `system df`: the space images, containers and volumes take, and how much of it is in use.

use std::collections::HashSet;

use serde::Serialize;

use crate::container::Status;
use crate::context::Context;
use crate::error::EngineError;
use crate::system::du;
use crate::volume;

/// One kind of thing and its space (a row of `system df`).
#[derive(Debug, Serialize)]
pub struct Usage {
    /// `Images`, `Containers`, `Local Volumes`.
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    /// What removing the inactive ones would free.
    pub reclaimable: u64,
}

/// One thing and its space (the rows of `system df -v`).
#[derive(Debug, Serialize)]
pub struct Item {
    pub kind: &'static str,
    pub name: String,
    pub size: u64,
    pub active: bool,
}

/// What `system df` shows: the totals, and each thing for `-v`.
#[derive(Debug, Serialize)]
pub struct Df {
    pub usage: Vec<Usage>,
    pub items: Vec<Item>,
}

/// Measures the store. Images' sizes are their layers' content; containers' the files of their
/// directory (logs, an image container's upper layer); volumes' their data.
pub fn df(ctx: &Context) -> Result<Df, EngineError> {
    let have_db = ctx.paths.root.join(minotaur_state::DB_FILE).exists();
    let containers = if have_db { ctx.list()? } else { Vec::new() };
    let volumes = if have_db {
        volume::list(ctx)?
    } else {
        Vec::new()
    };
    let images = minotaur_image::Store::open(&ctx.paths.root)?.images()?;
    let used_images: HashSet<minotaur_image::ImageId> = containers
        .iter()
        .filter_map(|c| c.config.image_id.parse().ok())
        .collect();
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    for i in &images {
        // An image with several tags is one image.
        if !seen.insert(i.id.to_string()) {
            continue;
        }
        items.push(Item {
            kind: "image",
            name: if i.repository == "<none>" {
                i.id.to_string()
            } else {
                format!("{}:{}", i.repository, i.tag)
            },
            size: i.size,
            active: used_images.contains(&i.id),
        });
    }
    for c in &containers {
        items.push(Item {
            kind: "container",
            name: c.name.to_string(),
            size: du(&ctx.paths.container_dir(&c.id)),
            active: matches!(c.state.status, Status::Running | Status::Restarting),
        });
    }
    for v in &volumes {
        items.push(Item {
            kind: "volume",
            name: v.name.clone(),
            size: du(&v.mountpoint),
            active: !v.containers.is_empty(),
        });
    }
    let usage = [
        ("image", "Images"),
        ("container", "Containers"),
        ("volume", "Local Volumes"),
    ]
    .into_iter()
    .map(|(kind, title)| {
        let of: Vec<&Item> = items.iter().filter(|i| i.kind == kind).collect();
        Usage {
            kind: title,
            total: of.len(),
            active: of.iter().filter(|i| i.active).count(),
            size: of.iter().map(|i| i.size).sum(),
            reclaimable: of.iter().filter(|i| !i.active).map(|i| i.size).sum(),
        }
    })
    .collect();
    Ok(Df { usage, items })
}
