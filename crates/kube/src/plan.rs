//! What `kube play` makes of a stream of manifests ([`crate::play::plan`]), for [`crate::apply`] to make:
//! the pods as creation requests, the claims, and the cluster IPs their Services ask for.

use std::net::IpAddr;

use minotaur_engine::create::CreateRequest;

use crate::env::{PodAddresses, PodField};

/// A pod to make.
#[derive(Debug)]
pub struct PodPlan {
    pub name: String,
    pub infra: CreateRequest,
    /// Run to completion, in order, before `containers` start.
    pub init: Vec<CreateRequest>,
    pub containers: Vec<CreateRequest>,
    /// Volumes the pod owns (emptyDir, configMap and secret contents): removed with it.
    pub volumes: Vec<String>,
    /// Volumes of PersistentVolumeClaims: made when missing, kept by `--down`.
    pub claims: Vec<String>,
    /// Files to write into the pod's volumes: (volume, path inside it, content, mode).
    pub files: Vec<(String, String, Vec<u8>, u32)>,
    /// Environment variables known only once the infra container has its address: (container, index
    /// in its `env`, field). Their entries hold `NAME=` until [`PodPlan::fill`].
    pub late_env: Vec<(String, usize, PodField)>,
    /// The Services whose selector matches the pod, as the manifest gave them (see
    /// [`crate::service::fill`]).
    pub services: Vec<k8s_openapi::api::core::v1::Service>,
}

impl PodPlan {
    /// `req` (one of this pod's init containers or containers) with its late environment filled in.
    pub fn fill(&self, req: &CreateRequest, addrs: &PodAddresses) -> Result<CreateRequest, String> {
        let mut req = req.clone();
        let name = req
            .name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        for (_, index, field) in self.late_env.iter().filter(|(c, _, _)| *c == name) {
            let (list, all) = match field {
                PodField::PodIp => (&addrs.pod, false),
                PodField::PodIps => (&addrs.pod, true),
                PodField::HostIp => (&addrs.host, false),
                PodField::HostIps => (&addrs.host, true),
            };
            let value = if all {
                list.join(",")
            } else {
                list.first().cloned().unwrap_or_default()
            };
            if value.is_empty() {
                return Err(format!(
                    "container {name}: the pod has no address for {}",
                    field.path()
                ));
            }
            if let Some(e) = req.env.get_mut(*index) {
                e.push_str(&value);
            }
        }
        Ok(req)
    }
}

impl PodPlan {
    /// Every image the pod's containers need.
    pub fn images(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .init
            .iter()
            .chain(&self.containers)
            .map(|r| r.image.as_str())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What `plan` makes of a stream: its pods, and the claims (`PersistentVolumeClaim`) it declares.
#[derive(Debug, Default)]
pub struct Plan {
    pub pods: Vec<PodPlan>,
    pub claims: Vec<String>,
    /// Services with a cluster IP: their names and the addresses and families they ask for (chosen at
    /// apply: see [`crate::service::assign`]).
    pub services: Vec<(String, Wanted)>,
    /// The network the pods join (`kube play --network`, `bridge` by default).
    pub network: String,
    pub warnings: Vec<String>,
}

/// The cluster IPs a Service asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `clusterIPs` (or `clusterIP`), as the manifest names them.
    pub fixed: Vec<IpAddr>,
    /// `ipFamilies`, `true` for IPv4, in order; empty when not given.
    pub families: Vec<bool>,
    pub policy: FamilyPolicy,
}

/// `ipFamilyPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FamilyPolicy {
    /// One cluster IP, of the first of `ipFamilies`, or of the pods' network's first family.
    #[default]
    SingleStack,
    /// One per family the pods' network has.
    PreferDualStack,
    /// One per family; refused on a network without both.
    RequireDualStack,
}
