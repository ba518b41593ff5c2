//! Kubernetes YAML on the engine. `kube generate` writes a Pod or a Deployment (with its Service and
//! PersistentVolumeClaims) from containers, a played pod or a compose project; `kube play` runs Pods,
//! Deployments, ConfigMaps, Secrets and PersistentVolumeClaims as minotaur containers.
//!
//! A pod is an infra container that holds the network, UTS and IPC namespaces (as `container:X` does) and
//! the pod's containers joined to them. Labels (see [`labels`]) tie them together, so generating from a
//! played pod gives back the manifest it was played from.
#![forbid(unsafe_code)]

pub mod apply;
pub mod env;
pub mod error;
pub mod find;
pub mod generate;
pub mod labels;
pub mod manifest;
pub mod names;
pub mod plan;
pub mod play;
pub mod probe;
pub mod quantity;
pub mod service;
