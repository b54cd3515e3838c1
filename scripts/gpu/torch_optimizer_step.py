#!/usr/bin/env python3
"""Times the optimizer's part of a training step on one GPU, as Megatron's distributed
optimizer runs it on a rank's shard: Adam over fp32 master weights with fp32 moments and
gradients (torch.optim.AdamW, fused and multi-tensor), the bf16 copy of the updated
weights, the gradient norm for clipping (torch.nn.utils.clip_grad_norm_, multi-tensor) and
zeroing the gradients, for shards of 0.25-2 billion parameters in tensors of a Llama-like
layer's sizes.

    python3 scripts/gpu/torch_optimizer_step.py --out optimizer_step.json
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moe_profile import Timer, run_safely, write_records  # noqa: E402

# A Llama-3-8B layer's weights (q, k, v, o, gate, up, down, two norms), as flat shards.
LAYER = [4096 * 4096, 1024 * 4096, 1024 * 4096, 4096 * 4096, 14336 * 4096, 14336 * 4096, 4096 * 14336, 4096, 4096]
SHARDS = [0.25e9, 0.5e9, 1e9, 2e9]


def tensors_for(torch, parameters):
    sizes, total = [], 0
    while total < parameters:
        for size in LAYER:
            sizes.append(size)
            total += size
    return [torch.zeros(size, device="cuda", dtype=torch.float32) for size in sizes], total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch
    timer = Timer(torch)
    records = []
    for shard in SHARDS:
        params, total = tensors_for(torch, shard)
        params = [torch.nn.Parameter(p) for p in params]
        for p in params:
            p.grad = torch.randn_like(p) * 1e-3
        copies = [torch.empty_like(p, dtype=torch.bfloat16) for p in params]
        base = {"parameters": total, "tensors": len(params)}
        for implementation in ("fused", "foreach"):
            optimizer = torch.optim.AdamW(params, lr=1e-4, **{implementation: True})
            optimizer.step()  # creates the moments
            run_safely(records, dict(base, component="adamw_step", implementation=implementation), lambda: timer.time(optimizer.step, reps=10))
            del optimizer
            torch.cuda.empty_cache()
        run_safely(records, dict(base, component="bf16_copy", implementation="foreach"),
                   lambda: timer.time(lambda: torch._foreach_copy_(copies, params), reps=10))
        run_safely(records, dict(base, component="grad_norm", implementation="foreach"),
                   lambda: timer.time(lambda: torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True), reps=10))
        grads = [p.grad for p in params]
        run_safely(records, dict(base, component="zero_grad", implementation="foreach"),
                   lambda: timer.time(lambda: torch._foreach_zero_(grads), reps=10))
        del params, copies, grads
        torch.cuda.empty_cache()
    write_records(args.out, "scripts/gpu/torch_optimizer_step.py", torch, records)


if __name__ == "__main__":
    main()
