#!/usr/bin/env python3
"""Times bf16 GEMMs through torch.matmul, as training frameworks issue them, and writes a
foresight.profile.v1 profile, so that the microbenchmarks' cuBLASLt times (the algorithm
cuBLASLt's heuristic ranks first) can be compared with what PyTorch gets for the same
shapes.

    python3 scripts/gpu/torch_gemm_crosscheck.py --out torch_gemm.json [--gpu h200_sxm]
"""
import argparse
import json
import statistics

# (tokens, out, in): Llama-3-8B's QKV, output, gate/up and down projections at 4,096 and
# 512 tokens, Llama-3-70B's at 4,096, and decode-sized GEMMs.
SHAPES = [(t, o, i) for t in (4096, 512, 16) for o, i in ((6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336))] + \
         [(4096, 10240, 8192), (4096, 8192, 8192), (4096, 57344, 8192), (4096, 8192, 28672)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--gpu", default="h200_sxm")
    args = parser.parse_args()
    import torch
    props = torch.cuda.get_device_properties(0)
    flush = torch.empty(2 * props.L2_cache_size, dtype=torch.uint8, device="cuda")
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    measurements = []
    for tokens, out_features, in_features in SHAPES:
        x = torch.rand(tokens, in_features, device="cuda", dtype=torch.bfloat16) * 2 - 1
        w = torch.rand(out_features, in_features, device="cuda", dtype=torch.bfloat16) * 2 - 1
        for _ in range(3):
            torch.matmul(x, w.t())
        times = []
        while len(times) < 50 and (len(times) < 5 or sum(times) < 5e4):
            flush.zero_()
            start.record()
            torch.matmul(x, w.t())
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1e3)
        times.sort()
        measurements.append({"op": "gemm", "dtype": "bf16", "m": tokens, "n": out_features, "k": in_features, "batch": 1,
                             "median_us": statistics.median(times), "p10_us": times[max(len(times) // 10 - 1, 0)],
                             "p90_us": times[min(len(times) * 9 // 10, len(times) - 1)], "repetitions": len(times)})
    document = {"format": "foresight.profile.v1", "source": f"scripts/gpu/torch_gemm_crosscheck.py (PyTorch {torch.__version__}, torch.matmul)",
                "device": {"gpu": args.gpu, "name": props.name, "sms": props.multi_processor_count}, "measurements": measurements}
    with open(args.out, "w") as f:
        json.dump(document, f, indent=1)


if __name__ == "__main__":
    main()
