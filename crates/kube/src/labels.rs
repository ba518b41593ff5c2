//! The labels that tie a played pod's containers together, so that `kube generate` and `kube play --down`
//! find them again with no other record.

/// The pod a container belongs to (on every container of the pod, the infra container included).
pub const POD: &str = "io.minotaur.kube.pod";
/// The container's name inside its pod.
pub const CONTAINER: &str = "io.minotaur.kube.container";
/// Set to `true` on the container that holds the pod's namespaces.
pub const INFRA: &str = "io.minotaur.kube.infra";
/// Set to `true` on an init container.
pub const INIT: &str = "io.minotaur.kube.init";
/// The container's place in its pod (init containers first), so the order survives.
pub const INDEX: &str = "io.minotaur.kube.index";
/// The Deployment that made the pod.
pub const DEPLOYMENT: &str = "io.minotaur.kube.deployment";
/// The pod's `hostname`, when its spec set one.
pub const HOSTNAME: &str = "io.minotaur.kube.hostname";
/// A container's `ports`, as its manifest gave them (they are published by the infra container).
pub const PORTS: &str = "io.minotaur.kube.ports";
/// A container's `volumeMounts`, as its manifest gave them.
pub const MOUNTS: &str = "io.minotaur.kube.mounts";
/// The pod's `volumes`, as its manifest gave them (on the infra container).
pub const VOLUMES: &str = "io.minotaur.kube.volumes";
/// The Services that select the pod, as its manifest gave them with the node ports `play` chose (on
/// the infra container), for `kube generate` to write back.
pub const SERVICES: &str = "io.minotaur.kube.services";
/// The prefix of every label above: the pod's own labels are the infra container's other labels.
pub const PREFIX: &str = "io.minotaur.kube.";
