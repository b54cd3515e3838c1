#!/usr/bin/env python3
"""Times causal attention under a document mask (sequences packed from documents of one
length, each query meeting only its own document's keys) against the same sequence without
the mask, forward and backward, with FlexAttention (a FlashAttention-2-class Triton kernel
that skips the tiles the mask empties): Llama 3 8B's 32 / 8 heads of dim 128, 8,192 tokens.

    python3 scripts/gpu/torch_document_mask_attention.py --out document_mask_attention.json
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moe_profile import Timer, run_safely, time_forward_backward, write_records  # noqa: E402

SEQUENCE, HEADS, KV_HEADS, HEAD_DIM, BATCH = 8192, 32, 8, 128, 2
DOCUMENTS = [0, 4096, 2048, 1024, 512, 256, 128]  # 0: one document, plain causal


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    timer = Timer(torch)
    flex = torch.compile(flex_attention, dynamic=False)
    bf16 = torch.bfloat16
    q = torch.randn(BATCH, HEADS, SEQUENCE, HEAD_DIM, device="cuda", dtype=bf16, requires_grad=True)
    k = torch.randn(BATCH, KV_HEADS, SEQUENCE, HEAD_DIM, device="cuda", dtype=bf16, requires_grad=True)
    v = torch.randn(BATCH, KV_HEADS, SEQUENCE, HEAD_DIM, device="cuda", dtype=bf16, requires_grad=True)
    dout = torch.randn(BATCH, HEADS, SEQUENCE, HEAD_DIM, device="cuda", dtype=bf16)
    document_of = torch.zeros(SEQUENCE, device="cuda", dtype=torch.int32)

    def mask(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & (document_of[q_idx] == document_of[kv_idx])

    records = []
    for length in DOCUMENTS:
        document_of.copy_(torch.arange(SEQUENCE, device="cuda", dtype=torch.int32) // (length or SEQUENCE))
        d = length or SEQUENCE
        keys_per_query = (d + 1) / 2  # causal within each document
        base = {"kernel": "flex_attention", "batch": BATCH, "seq": SEQUENCE, "heads": HEADS, "kv_heads": KV_HEADS,
                "head_dim": HEAD_DIM, "document": length, "flops": 4.0 * BATCH * HEADS * SEQUENCE * keys_per_query * HEAD_DIM}

        def timed():
            block_mask = create_block_mask(mask, None, None, SEQUENCE, SEQUENCE, device="cuda")
            return time_forward_backward(torch, timer, lambda: flex(q, k, v, block_mask=block_mask, enable_gqa=True), (q, k, v), dout)

        run_safely(records, base, timed)
    write_records(args.out, "scripts/gpu/torch_document_mask_attention.py", torch, records)


if __name__ == "__main__":
    main()
