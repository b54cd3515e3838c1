#!/usr/bin/env python3
"""Writes tests/data/chakra/pipeline.{0,1}.et: two ranks of a small pipelined training step
as Chakra execution traces (MLCommons' schema, protobuf messages each prefixed by its varint
length, a GlobalMetadata first), the input `foresight import chakra` reads.

The bytes are encoded here by hand (no protobuf package needed) with the field numbers of
Chakra's schema/protobuf/et_def.proto: Node 1 id, 2 name, 3 type, 4 ctrl_deps, 5 data_deps,
6 start_time_micros, 7 duration_micros, 10 attr; AttributeProto 1 name, 9 int64_val,
27 bool_val, 29 string_val. Node types: 4 COMP, 5 COMM_SEND, 6 COMM_RECV, 7 COMM_COLL,
2 MEM_LOAD; CollectiveCommType 0 ALL_REDUCE.

    python3 scripts/make_chakra_traces.py    # rewrites the two files
    python3 scripts/make_chakra_traces.py --nodes 100000 --out DIR   # DIR/step.{0,1}.et for benchmarks/chakra_import.sh
"""
import argparse
import pathlib


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number, wire_type):
    return varint(number << 3 | wire_type)


def uint_field(number, value):
    return key(number, 0) + varint(value) if value else b""


def bytes_field(number, payload):
    return key(number, 2) + varint(len(payload)) + payload


def attr(name, value):
    body = bytes_field(1, name.encode())
    if isinstance(value, bool):
        body += key(27, 0) + varint(int(value))
    elif isinstance(value, int):
        body += key(9, 0) + varint(value)
    else:
        body += bytes_field(29, value.encode())
    return bytes_field(10, body)


def node(id, name, type, deps=(), data_deps=(), start=0, duration=0, **attrs):
    body = uint_field(1, id) + bytes_field(2, name.encode()) + uint_field(3, type)
    if deps:
        body += bytes_field(4, b"".join(varint(d) for d in deps))  # packed
    for d in data_deps:
        body += key(5, 0) + varint(d)  # unpacked, as older writers did
    body += uint_field(6, start) + uint_field(7, duration)
    for name_, value in attrs.items():
        body += attr(name_, value)
    return body


def metadata(version):
    return bytes_field(1, version.encode())


COMP, MEM_LOAD, SEND, RECV, COLL = 4, 2, 5, 6, 7
MB = 1 << 20


def rank0():
    return [
        metadata("0.0.4"),
        node(1, "data_loader", COMP, start=0, duration=40, is_cpu_op=True),
        node(2, "load_weights", MEM_LOAD, deps=[1], start=40),
        node(3, "aten::mm fwd", COMP, deps=[2], start=50, duration=900, is_cpu_op=False),
        node(4, "aten::gelu fwd", COMP, data_deps=[3], start=950, duration=120),
        node(5, "send activations", SEND, deps=[4], start=1070, comm_dst=1, comm_size=4 * MB, comm_tag=7),
        node(6, "autograd::engine", COMP, deps=[5], start=1080, duration=15, is_cpu_op=True),
        node(7, "aten::mm bwd", COMP, deps=[6], start=1100, duration=1800),
        node(8, "all_reduce gradients", COLL, deps=[7], start=2900, duration=350, comm_type=0, comm_size=32 * MB, pg_name="0"),
        node(9, "optimizer", COMP, data_deps=[8, 99], start=3250, duration=200),
    ]


def rank1():
    return [
        metadata("0.0.4"),
        node(11, "recv activations", RECV, start=1070, comm_src=0, comm_size=4 * MB, comm_tag=7),
        node(12, "aten::mm fwd", COMP, deps=[11], start=1200, duration=900),
        node(13, "aten::mm bwd", COMP, deps=[12], start=2100, duration=1800),
        node(14, "all_reduce gradients", COLL, deps=[13], start=3900, duration=300, comm_type=0, comm_size=32 * MB, pg_name="0"),
        node(15, "optimizer", COMP, deps=[14], start=4200, duration=200),
    ]


def long_chain(nodes):
    """One rank of a long step: GPU kernels of 20 us in a chain, every third node a CPU
    operator between them and every hundredth a 1 MiB all-reduce."""
    messages, previous = [metadata("0.0.4")], None
    for i in range(1, nodes + 1):
        deps = [previous] if previous else []
        if i % 100 == 0:
            messages.append(node(i, "all_reduce", COLL, deps=deps, start=20 * i, duration=50, comm_type=0, comm_size=MB, pg_name="0"))
        elif i % 3 == 0:
            messages.append(node(i, "aten::add", COMP, deps=deps, start=20 * i, duration=5, is_cpu_op=True))
        else:
            messages.append(node(i, "sm90_gemm", COMP, deps=deps, start=20 * i, duration=20))
        previous = i
    return messages


def write(path, messages):
    path.write_bytes(b"".join(varint(len(m)) + m for m in messages))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, help="write two ranks of this many nodes each (step.<rank>.et) instead")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "chakra")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.nodes:
        for rank in (0, 1):
            write(args.out / ("step.%d.et" % rank), long_chain(args.nodes))
    else:
        write(args.out / "pipeline.0.et", rank0())
        write(args.out / "pipeline.1.et", rank1())
    print("wrote Chakra traces in", args.out)
