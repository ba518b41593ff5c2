#!/usr/bin/env python3
"""A small CRI client for the tests: the few RuntimeService calls a kubelet makes for a pod sandbox,
over containerd's gRPC socket, with the CRI v1 messages (k8s.io/cri-api's api.proto) encoded by hand.

    cri_client.py SOCKET version
    cri_client.py SOCKET run NAME UID NAMESPACE CGROUP_PARENT LOG_DIR   -> prints the sandbox ID
    cri_client.py SOCKET status ID                                      -> prints {"state", "ip", "ips"}
    cri_client.py SOCKET stop ID
    cri_client.py SOCKET remove ID

Needs grpcio. Errors go to stderr with a non-zero exit.
"""

import json
import sys

import grpc

SERVICE = "/runtime.v1.RuntimeService/"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def decode(data):
    """The message's fields as {number: [value, ...]}: varints as ints, length-delimited as bytes."""
    fields = {}
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            n, i = read_varint(data, i)
            value, i = data[i : i + n], i + n
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire} in field {number}")
        fields.setdefault(number, []).append(value)
    return fields


def read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def call(channel, method, request):
    rpc = channel.unary_unary(
        SERVICE + method,
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    return decode(rpc(request, timeout=120))


def main():
    socket, verb, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    channel = grpc.insecure_channel("unix://" + socket)
    if verb == "version":
        # VersionRequest{version}; VersionResponse{version, runtime_name, runtime_version, runtime_api_version}
        r = call(channel, "Version", field_bytes(1, "v1"))
        print(r[2][0].decode(), r[3][0].decode(), r[4][0].decode())
    elif verb == "run":
        name, uid, namespace, cgroup_parent, log_dir = args
        # PodSandboxMetadata{name, uid, namespace, attempt}
        metadata = field_bytes(1, name) + field_bytes(2, uid) + field_bytes(3, namespace)
        # LinuxPodSandboxConfig{cgroup_parent}
        linux = field_bytes(1, cgroup_parent)
        # PodSandboxConfig{metadata, hostname, log_directory, linux}
        config = (
            field_bytes(1, metadata)
            + field_bytes(2, name)
            + field_bytes(3, log_dir)
            + field_bytes(8, linux)
        )
        # RunPodSandboxRequest{config}; RunPodSandboxResponse{pod_sandbox_id}
        r = call(channel, "RunPodSandbox", field_bytes(1, config))
        print(r[1][0].decode())
    elif verb == "status":
        # PodSandboxStatusRequest{pod_sandbox_id}; PodSandboxStatusResponse{status}
        r = call(channel, "PodSandboxStatus", field_bytes(1, args[0]))
        status = decode(r[1][0])
        # PodSandboxStatus{id, metadata, state (0 ready, 1 not ready), created_at, network{ip, additional_ips}}
        state = status.get(3, [0])[0]
        network = decode(status.get(5, [b""])[0])
        ip = network.get(1, [b""])[0].decode()
        extra = [decode(p).get(1, [b""])[0].decode() for p in network.get(2, [])]
        print(
            json.dumps(
                {
                    "state": "ready" if state == 0 else "notready",
                    "ip": ip,
                    "ips": [ip] + extra if ip else extra,
                }
            )
        )
    elif verb in ("stop", "remove"):
        method = "StopPodSandbox" if verb == "stop" else "RemovePodSandbox"
        call(channel, method, field_bytes(1, args[0]))
    else:
        raise SystemExit(f"unknown verb {verb}")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        print(f"cri_client: {sys.argv[2]}: {e.code()}: {e.details()}", file=sys.stderr)
        sys.exit(1)
