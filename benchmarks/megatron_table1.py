#!/usr/bin/env python3
"""Megatron-LM Table 1 (published-cases.md V1): every row, 32 to 3,072 A100 GPUs.

Runs each scenario in scenarios/validation/megatron_table1/ with `foresight run`, turns
the predicted step time into TFLOP/s per GPU with the paper's formula (F = 96 B s l h^2
(1 + s/(6h) + V/(16 l h)) per iteration), and prints it beside the measured value with
the simulator's wall time and peak memory. tests/megatron_validation_test.cpp checks the
rows up to 1,536 GPUs; this script adds the three largest.

Usage: python3 benchmarks/megatron_table1.py [path/to/foresight]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CASES = os.path.join(ROOT, "scenarios", "validation", "megatron_table1")


def paper_tflops_per_gpu(scenario, step_seconds):
    m, t = scenario["model"], scenario["training"]
    b, s, l, h, v = t["global_batch"], t["sequence_length"], m["layers"], m["hidden"], m["vocab"]
    flops = 96 * b * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h))
    gpus = scenario["hardware"]["topology"]["nodes"] * 8
    return flops / step_seconds / gpus / 1e12


def run(foresight, path, out):
    start = time.monotonic()
    child = subprocess.Popen([foresight, "run", path, "--out", out], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"{path}: foresight exited with status {status}")
    return time.monotonic() - start, usage.ru_maxrss / 1024


def main():
    foresight = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/release/sim/runner/foresight")
    errors = []
    print(f"{'model':<11} {'GPUs':>5} {'predicted':>9} {'measured':>8} {'error':>7} {'wall s':>7} {'peak MB':>8}")
    with open(os.path.join(CASES, "measured.csv")) as f, tempfile.TemporaryDirectory() as tmp:
        for row in csv.DictReader(f):
            path = os.path.join(CASES, row["scenario"] + ".json")
            out = os.path.join(tmp, "results.json")
            wall, peak_mb = run(foresight, path, out)
            with open(path) as s, open(out) as r:
                predicted = paper_tflops_per_gpu(json.load(s), json.load(r)["step_time_s"])
            measured = float(row["measured_tflops_per_gpu"])
            errors.append(100 * (predicted / measured - 1))
            print(f"{row['scenario']:<11} {row['gpus']:>5} {predicted:9.1f} {measured:8.0f} {errors[-1]:+6.1f}% "
                  f"{wall:7.2f} {peak_mb:8.0f}")
    mape = sum(abs(e) for e in errors) / len(errors)
    print(f"MAPE {mape:.1f}%, worst {max(abs(e) for e in errors):.1f}% over {len(errors)} rows")


if __name__ == "__main__":
    main()
