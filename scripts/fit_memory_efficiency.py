#!/usr/bin/env python3
"""Fits each GPU family's memory-streaming curve of models/gpu_catalog.cpp.

A memory-bound kernel moving B bytes is modelled as

    duration = launch + (B / bandwidth + ramp) / fraction        (launch = 1.5 us)

Rows: decode's skinny GEMMs, whose time is reading the weights. Vidur's per-operator tables
(calibration/data/vidur/mlp_{h100,a100,a40}_Llama-2-{7b,70b}-hf.csv: QKV, output, up and down
projections at 1-8 tokens and TP 1-8, medians) for the H100, A100 and A40, and our H200
profile's bf16 GEMMs with m <= 8 (calibration/profiles/h200_sxm.json). The fit minimizes the
squared relative error (weighted least squares, closed form).

Usage: python3 scripts/fit_memory_efficiency.py
"""
import csv
import json
import os
import statistics

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LAUNCH = 1.5e-6
BANDWIDTH = {"h100": 3.35e12, "a100": 2.039e12, "a40": 0.696e12, "h200": 4.8e12}
# hidden, ffn, key/value width of the two Llama-2 models in Vidur's tables
LLAMA2 = {"Llama-2-7b-hf": (4096, 11008, 4096), "Llama-2-70b-hf": (8192, 28672, 1024)}


def fit(rows, bandwidth):
    """rows: (bytes, seconds beyond the launch gap); returns fraction, ramp (s), median and p90 |error|."""
    s_bb = s_b = s_1 = v_b = v_1 = 0.0
    for b, y in rows:
        w = 1 / (y * y)
        s_bb += w * b * b
        s_b += w * b
        s_1 += w
        v_b += w * b * y
        v_1 += w * y
    det = s_bb * s_1 - s_b * s_b
    slope = (v_b * s_1 - s_b * v_1) / det
    intercept = (s_bb * v_1 - s_b * v_b) / det
    fraction = 1 / (slope * bandwidth)
    errors = sorted(abs((slope * b + intercept) / y - 1) for b, y in rows)
    return fraction, intercept * fraction, statistics.median(errors), errors[int(0.9 * len(errors))]


def vidur_rows(gpu):
    rows = []
    for model, (h, ffn, kv) in LLAMA2.items():
        path = os.path.join(ROOT, "calibration", "data", "vidur", f"mlp_{gpu}_{model}.csv")
        for r in csv.DictReader(open(path)):
            tokens, tp = int(r["num_tokens"]), int(r["num_tensor_parallel_workers"])
            if tokens > 8:
                continue
            weights = {"attn_pre_proj": h * (h + 2 * kv), "attn_post_proj": h * h, "mlp_up_proj": 2 * h * ffn, "mlp_down_proj": ffn * h}
            for op, params in weights.items():
                rows.append((2 * params / tp, float(r[f"time_stats.{op}.median"]) * 1e-3 - LAUNCH))
    return rows


def h200_rows():
    profile = json.load(open(os.path.join(ROOT, "calibration", "profiles", "h200_sxm.json")))
    return [(2 * m["n"] * m["k"], m["median_us"] * 1e-6 - LAUNCH) for m in profile["measurements"]
            if m.get("op") == "gemm" and m["m"] <= 8 and m.get("batch", 1) == 1 and m["dtype"] == "bf16"]


def main():
    for gpu in ("h100", "a100", "a40", "h200"):
        rows = h200_rows() if gpu == "h200" else vidur_rows(gpu)
        fraction, ramp, median, p90 = fit(rows, BANDWIDTH[gpu])
        print(f"{gpu}: {len(rows)} GEMMs  fraction {fraction:.3f}  ramp {ramp * 1e6:.1f} us  "
              f"median |error| {median * 100:.1f}%  p90 {p90 * 100:.1f}%")


if __name__ == "__main__":
    main()
