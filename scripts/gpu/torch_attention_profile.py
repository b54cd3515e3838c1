#!/usr/bin/env python3
"""Times causal prefill attention, forward and backward, through PyTorch's
scaled_dot_product_attention with its FlashAttention backend, and writes the times as a
foresight.profile.v1 profile (docs/calibration.md) that `foresight calibrate --merge` adds
to the microbenchmarks' profile.

foresight's own kernels time decode attention only; training and prefill run
FlashAttention-class kernels, which this measures where PyTorch is installed.

    python3 scripts/gpu/torch_attention_profile.py --out attention.json [--gpu h200_sxm] [--quick]
"""
import argparse
import json
import statistics
import sys

HEAD_DIM = 128


def cases(quick):
    # (query heads, KV heads): Llama-3-8B and Llama-3-70B at TP 1; MHA as GPT-3 has it.
    head_pairs = [(32, 8), (64, 8)] if quick else [(32, 8), (64, 8), (32, 32)]
    lengths = [1024, 4096] if quick else [512, 1024, 2048, 4096, 8192, 16384]
    for heads, kv_heads in head_pairs:
        for length in lengths:
            for batch in ([1] if quick else [1, 4]):
                if batch * length <= 32768:
                    yield batch, heads, kv_heads, length


def timed(torch, run, flush, budget_s, min_reps=5, max_reps=50):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        run()
    times = []
    while len(times) < max_reps and (len(times) < min_reps or sum(times) * 1e-6 < budget_s):
        flush.zero_()  # a cold L2 for every repetition, as the CUDA microbenchmarks have
        start.record()
        run()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e3)
    times.sort()
    pick = lambda q: times[max(int(-(-q * len(times) // 1)), 1) - 1]
    return {"median_us": statistics.median(times), "p10_us": pick(0.1), "p90_us": pick(0.9), "repetitions": len(times)}


def time_attention(torch, F, SDPBackend, sdpa_kernel, flush, batch, heads, kv_heads, length, grouped):
    shape = dict(batch=batch, heads=heads, kv_heads=kv_heads, q_len=length, kv_len=length, head_dim=HEAD_DIM, causal=True)
    make = lambda h: torch.randn(batch, h, length, HEAD_DIM, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    q, k, v = make(heads), make(kv_heads), make(kv_heads)
    found = []
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        forward = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=grouped)
        out = forward()
        grad = torch.randn_like(out)
        backward = lambda: torch.autograd.grad(out, (q, k, v), grad, retain_graph=True)
        for name, run in (("forward", forward), ("backward", backward)):
            spread = timed(torch, run, flush, budget_s=0.05)
            found.append({"op": "attention", "pass": name, "dtype": "bf16", **shape, "kernel": "torch_sdpa_flash", **spread})
            print(f"  {name:8s} b{batch} h{heads}/{kv_heads} s{length}: {spread['median_us']:.1f} us", file=sys.stderr)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--gpu", default="h200_sxm", help="the catalog GPU this profile calibrates")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    props = torch.cuda.get_device_properties(0)
    flush = torch.empty(2 * props.L2_cache_size, dtype=torch.uint8, device="cuda")
    measurements = []
    for batch, heads, kv_heads, length in cases(args.quick):
        for grouped in ([True, False] if kv_heads != heads else [False]):
            ran_kv_heads = kv_heads if grouped or kv_heads == heads else heads  # without GQA support, K and V are expanded
            try:
                measurements += time_attention(torch, F, SDPBackend, sdpa_kernel, flush, batch, heads, ran_kv_heads, length, grouped)
                break
            except RuntimeError as e:  # a shape or option the backend refuses: said, then the next way
                print(f"  b{batch} h{heads}/{ran_kv_heads} s{length} gqa={grouped}: {str(e).splitlines()[0]}", file=sys.stderr)
    device = {"gpu": args.gpu, "name": props.name, "sms": props.multi_processor_count,
              "memory_gb": props.total_memory / 1e9, "l2_mb": props.L2_cache_size / 2**20,
              "cuda": torch.version.cuda or "", "cudnn": str(torch.backends.cudnn.version() or "")}
    document = {"format": "foresight.profile.v1",
                "source": f"scripts/gpu/torch_attention_profile.py{' --quick' if args.quick else ''} "
                          f"(PyTorch {torch.__version__}, scaled_dot_product_attention, FlashAttention backend)",
                "device": device, "measurements": measurements}
    with open(args.out, "w") as f:
        json.dump(document, f, indent=1)
    print(f"wrote {len(measurements)} attention measurements to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
