#!/usr/bin/env bash
# Runs minotaur's whole test suite: unit tests, and the privileged integration tests that run the real binary
# inside throwaway hosts (needs root). Installs the Debian packages the tests use when one is missing.
set -euo pipefail
cd "$(dirname "$0")"

need=(ip:iproute2 nsenter:util-linux unshare:util-linux lsns:util-linux dnsmasq:dnsmasq-base
      busybox:busybox-static curl:curl pgrep:procps nft:nftables dig:dnsutils
      docker-registry:docker-registry skopeo:skopeo umoci:umoci htpasswd:apache2-utils openssl:openssl
      tcpdump:tcpdump tshark:tshark capsh:libcap2-bin setcap:libcap2-bin dot:graphviz
      podman:podman conmon:conmon ctr:containerd /usr/lib/cni/loopback:containernetworking-plugins
      /lib/systemd/systemd:systemd dbus-daemon:dbus)
missing=()
for pair in "${need[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# Loaded at run time, not linked: libpcap (the capture crate's packet sockets and filter compiler).
compgen -G '/usr/lib/*/libpcap.so.0.8' >/dev/null || missing+=(libpcap0.8)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Kubernetes schemas the kube tests validate generated manifests against.
python3 -c 'import kubernetes_validate' 2>/dev/null ||
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore kubernetes-validate

# The CRI client of the containerd CRI test.
python3 -c 'import grpc' 2>/dev/null ||
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore grpcio

# As root, a test host that cannot be built is a failure, not a skip.
[ "$(id -u)" = 0 ] && export MINOTAUR_TEST_REQUIRE_HOST=1
exec cargo test --workspace --no-fail-fast "$@"
