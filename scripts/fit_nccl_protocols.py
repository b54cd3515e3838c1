#!/usr/bin/env python3
"""Fits NCCL's per-protocol costs (topologies/nccl_costs.cpp) to nccl-tests tables.

Training set: calibration/data/serving/comm_H100-SXM-80GB_{all_reduce,all_gather,
reduce_scatter}.csv (apex_plus), one node, 2, 4 and 8 GPUs. Held out: the published
DGX H100 curve (shared/validation/published-cases.md V3), printed at the end, and the
other tables checked by tests/collective_data_validation_test.cpp.

The model is what the flow network computes on an idle NVSwitch node (B per GPU port
each way, h = 0.25 us per NVLink hop), so the fit and the simulator agree:
  ring, protocol p:  L + k (2h + d_p) + k (S/n) / (e_p f_p B)
                     k = 2(n-1) for all-reduce, n-1 for all-gather and reduce-scatter
  nvls (all-reduce): L + d_N + h + S (n+1)/n / (f_N B)
and NCCL runs whichever is fastest. e_p (payload per wire byte) is fixed by each
protocol's format; L, d_p (handshake per step) and f_p (fraction of the link a
connection reaches) are fitted by minimising the mean relative error with a seeded
random local search. Standard library only: python3 scripts/fit_nccl_protocols.py
"""
import csv
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("FORESIGHT_PUBLIC_DATA_DIR", os.path.join(HERE, "..", "calibration", "data"))
LINK = 450e9            # H100 NVLink 4, bytes/s per direction per GPU
HOP = 0.25e-6           # per NVLink hop (topologies/topology_spec.cpp)
WIRE = {"LL": 0.5, "LL128": 120 / 128, "Simple": 1.0}


def load_rows():
    rows = []
    for op in ("all_reduce", "all_gather", "reduce_scatter"):
        path = os.path.join(DATA, "serving", f"comm_H100-SXM-80GB_{op}.csv")
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r["num_nodes"] == "1":
                    rows.append((op, int(r["num_gpus_per_node"]), float(r["size(kb)"]) * 1024, float(r["time(us)"]) * 1e-6))
    return rows


def options(P, op, n, size):
    steps = 2 * (n - 1) if op == "all_reduce" else n - 1
    times = {p: P["L"] + steps * (2 * HOP + P["d" + p]) + steps * (size / n) / (WIRE[p] * P["f" + p] * LINK) for p in WIRE}
    if op == "all_reduce":
        times["NVLS"] = P["L"] + P["dNVLS"] + HOP + size * (n + 1) / n / (P["fNVLS"] * LINK)
    return times


def predict(P, op, n, size):
    times = options(P, op, n, size)
    best = min(times, key=times.get)
    return times[best], best


def loss(P, rows):
    if any(v <= 0 for v in P.values()) or any(P[k] > 1 for k in P if k.startswith("f")):
        return math.inf
    return sum(abs(predict(P, op, n, s)[0] - t) / t for op, n, s, t in rows) / len(rows)


def fit(rows):
    P = {"L": 5e-6, "dLL": 0.3e-6, "dLL128": 1e-6, "dSimple": 3e-6,
         "fLL": 0.5, "fLL128": 0.5, "fSimple": 0.7, "dNVLS": 10e-6, "fNVLS": 0.6}
    best = loss(P, rows)
    rng = random.Random(1)
    for step in range(60000):
        key = rng.choice(sorted(P))
        trial = dict(P)
        trial[key] *= math.exp(rng.gauss(0, 0.3 if step < 30000 else 0.03))
        value = loss(trial, rows)
        if value < best:
            best, P = value, trial
    return P, best


def main():
    rows = load_rows()
    P, mape = fit(rows)
    print(f"fitted on {len(rows)} rows, mean relative error {mape:.1%}")
    for key, value in P.items():
        print(f"  {key:8s} {value * 1e6:.2f} us" if not key.startswith("f") else f"  {key:8s} {value:.3f}")
    for op in ("all_reduce", "all_gather", "reduce_scatter"):
        for n in (2, 4, 8):
            errs = [abs(predict(P, o, g, s)[0] - t) / t for o, g, s, t in rows if o == op and g == n]
            print(f"  {op} on {n} GPUs: {sum(errs) / len(errs):.1%} over {len(errs)} rows")
    print("held out, published-cases.md V3 (8x H100 all-reduce):")
    for size, measured in ((8, 13.67), (64 << 10, 19.54), (1 << 20, 27.37), (16 << 20, 123.8),
                           (64 << 20, 324.7), (256 << 20, 1112.5), (1 << 30, 4029.4), (8 << 30, 31307)):
        t, proto = predict(P, "all_reduce", 8, size)
        print(f"  {size:>11} B  {t * 1e6:9.1f} us  measured {measured:9.1f}  {proto:6s} {(t * 1e6 - measured) / measured:+.1%}")


if __name__ == "__main__":
    main()
