#!/usr/bin/env python3
"""Lists the kernels PyTorch's compiler makes of Megatron-style fused MoE activations
(scripts/gpu/torch_moe_profile.py, fused_activations), with each kernel's time from the
profiler: the weighted backward (which also reduces each row for the routing
probabilities' gradient) beside the same backward without the weights.

    python3 scripts/gpu/torch_moe_activation_kernels.py --out activation_kernels.json
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moe_profile import CONFIGS, fused_activations  # noqa: E402


def unweighted(backward):
    def without_weights(grad, x, weights):
        return backward(grad, x, weights)[0]
    return without_weights


def kernels_of(torch, fn, args, repetitions=10):
    from torch.profiler import ProfilerActivity, profile
    for _ in range(3):
        fn(*args)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repetitions):
            fn(*args)
        torch.cuda.synchronize()
    rows = []
    for event in prof.key_averages():
        if event.device_type.name == "CUDA" and event.count >= repetitions:
            rows.append({"kernel": event.key[:120], "count_per_call": event.count // repetitions,
                         "us_per_call": event.device_time_total / repetitions})
    return sorted(rows, key=lambda r: -r["us_per_call"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch
    records = []
    for name, tokens, hidden, ffn, experts, top_k, ep, kind in CONFIGS:
        if name == "gpt_oss_120b_ep64":
            continue
        rows = tokens * top_k
        forward, backward = fused_activations(torch)[kind]
        x = torch.randn(rows, 2 * ffn, device="cuda", dtype=torch.bfloat16)
        weights = torch.rand(rows, 1, device="cuda", dtype=torch.bfloat16)
        grad = torch.randn(rows, ffn, device="cuda", dtype=torch.bfloat16)
        for label, fn, fn_args in (("forward", forward, (x, weights)), ("backward_weighted", backward, (grad, x, weights)),
                                   ("backward_unweighted", unweighted(backward), (grad, x, weights))):
            torch._dynamo.reset()
            try:
                kernels = kernels_of(torch, torch.compile(fn, dynamic=False), fn_args)
                record = {"config": name, "rows": rows, "ffn": ffn, "kind": kind, "pass": label, "kernels": kernels}
            except Exception as error:
                record = {"config": name, "pass": label, "error": f"{type(error).__name__}: {str(error)[:300]}"}
            records.append(record)
            print(json.dumps(record), flush=True)
    with open(args.out, "w") as f:
        json.dump({"format": "foresight.kernel_list.v1", "source": "scripts/gpu/torch_moe_activation_kernels.py",
                   "torch": torch.__version__, "device": torch.cuda.get_device_name(0), "records": records}, f, indent=1)


if __name__ == "__main__":
    main()
