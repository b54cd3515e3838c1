#!/usr/bin/env python3
"""Times MoE grouped GEMMs at serving sizes, a few rows per expert, as decode batches give
them: PyTorch's grouped kernels (torch._grouped_mm in bf16, torch._scaled_grouped_mm in fp8
with row-wise scales) and a loop of per-expert GEMMs, for the experts one EP rank holds.

    python3 scripts/gpu/torch_grouped_gemm_decode.py --out grouped_gemm_decode.json
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moe_profile import Timer, run_safely, write_records  # noqa: E402

# (name, local experts, hidden, expert ffn): Qwen3-235B-A22B, DeepSeek-V3 and Mixtral 8x7B at EP 8.
LAYERS = [("qwen3_235b_a22b_ep8", 16, 4096, 1536), ("deepseek_v3_ep8", 32, 7168, 2048), ("mixtral_8x7b_ep8", 1, 4096, 14336)]
ROWS_PER_EXPERT = [1, 4, 16, 64, 256, 1024]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch
    timer = Timer(torch)
    records = []
    for name, local, hidden, ffn in LAYERS:
        for matmul, (k, n) in (("fc1", (hidden, 2 * ffn)), ("fc2", (ffn, hidden))):
            w = torch.randn(local, n, k, device="cuda", dtype=torch.bfloat16) * 0.02
            w8 = w.to(torch.float8_e4m3fn)
            scale_w = torch.ones(local, n, device="cuda", dtype=torch.float32)
            for rows in ROWS_PER_EXPERT:
                m = rows * local
                a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
                a8 = a.to(torch.float8_e4m3fn)
                scale_a = torch.ones(m, device="cuda", dtype=torch.float32)
                offs = torch.arange(rows, m + 1, rows, device="cuda", dtype=torch.int32)
                base = {"config": name, "matmul": matmul, "local_experts": local, "rows_per_expert": rows, "n": n, "k": k,
                        "flops": 2.0 * m * n * k, "weight_bytes_bf16": 2.0 * local * n * k}
                run_safely(records, dict(base, kernel="grouped_mm_bf16"),
                           lambda: timer.time(lambda: torch._grouped_mm(a, w.transpose(1, 2), offs=offs)))
                run_safely(records, dict(base, kernel="scaled_grouped_mm_fp8"),
                           lambda: timer.time(lambda: torch._scaled_grouped_mm(a8, w8.transpose(1, 2), scale_a, scale_w, offs=offs,
                                                                               out_dtype=torch.bfloat16)))

                def loop():
                    for g in range(local):
                        torch.mm(a[g * rows:(g + 1) * rows], w[g].t())

                run_safely(records, dict(base, kernel="per_expert_mm_bf16"), lambda: timer.time(loop))
            del w, w8
            torch.cuda.empty_cache()
    write_records(args.out, "scripts/gpu/torch_grouped_gemm_decode.py", torch, records)


if __name__ == "__main__":
    main()
