#!/usr/bin/env python3
"""Writes scenarios/validation/trtllm_perf_overview/ (dense models, S5) and
scenarios/validation/trtllm_perf_overview_moe/ (Qwen3-235B-A22B, S8): one scenario per row of
TensorRT-LLM's published throughput table (docs/source/performance/perf-overview.md, FP8 rows on
H100 and H200) with the engine settings `trtllm-bench throughput` chooses for that row.

trtllm-bench sizes max_batch_size and max_num_tokens from the model, the GPU's memory and
the dataset's lengths (tensorrt_llm/bench/build/tuning.py, calc_engine_setting and
finetune_setting); this script repeats that arithmetic so every scenario carries the
settings the measured run had. Run it from the repository root; it rewrites the JSON files
and measured.csv.
"""
import csv
import json
import math
import os

OUT = "scenarios/validation/trtllm_perf_overview"
OUT_MOE = "scenarios/validation/trtllm_perf_overview_moe"

# HF configs: parameters (the checkpoints' safetensors counts), attention layers, KV heads, head size.
MODELS = {
    "llama31_8b": {"hf": "nvidia/Llama-3.1-8B-Instruct-FP8", "params": 8.03e9, "layers": 32, "kv_heads": 8, "head": 128},
    "llama33_70b": {"hf": "nvidia/Llama-3.3-70B-Instruct-FP8", "params": 70.55e9, "layers": 80, "kv_heads": 8, "head": 128},
    "llama3_405b": {"hf": "nvidia/Llama-3.1-405B-Instruct-FP8", "params": 405.85e9, "layers": 126, "kv_heads": 8, "head": 128},
    "qwen3_235b_a22b": {"hf": "nvidia/Qwen3-235B-A22B-FP8", "params": 235.09e9, "layers": 94, "kv_heads": 4, "head": 128},
}
# foresight's catalog entry for each model.
CATALOG = {"llama31_8b": "llama31_8b", "llama33_70b": "llama33_70b", "llama3_405b": "llama3_405b",
           "qwen3_235b_a22b": "qwen3_235b_a22b"}
# MoE models run as the page's MoE commands do: --ep with the TP degree and attention data
# parallelism (its llm_options.yml for MoE models sets enable_attention_dp).
MOE = {"qwen3_235b_a22b"}

# Device memory as NVML reports it (total MiB over 1024): 81,559 MiB on an H100 SXM 80GB,
# 143,771 MiB on an H200 SXM 141GB (nvidia-smi).
GPUS = {"h100_sxm": 81559 / 1024, "h200_sxm": 143771 / 1024}

# The table's requests per (input, output) pair ("Preparing a Dataset").
REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (500, 2000): 3000, (1000, 1000): 3000,
            (1000, 2000): 1500, (2048, 128): 3000, (2048, 2048): 1500, (5000, 500): 1500, (20000, 2000): 1000}

# Total output tokens/s as published (FP8 columns; empty cells are left out).
LENGTHS = [(128, 128), (128, 2048), (128, 4096), (500, 2000), (1000, 1000), (1000, 2000), (2048, 128), (2048, 2048),
           (5000, 500), (20000, 2000)]
TABLE = {
    ("llama31_8b", "h200_sxm", 1): [27911, 26221, 18027, 20770, 17744, 16828, 3538, 12194, 3902, 1804],
    ("llama31_8b", "h100_sxm", 1): [28312, 22714, 14325, 17660, 15220, 13899, 3450, 9305, 3459, 1351],
    ("llama33_70b", "h200_sxm", 1): [3803, 4336, 2872, 3666, 2909, 2994, 442, 2003, 566, 283],
    ("llama33_70b", "h100_sxm", 2): [6378, 6651, 4199, 5222, 4205, 4146, 762, 3082, 898, 437],
    ("llama3_405b", "h200_sxm", 8): [3814, 5348, 4741, 4724, 3330, 3722, 456, 2948, 650, 505],
    ("llama3_405b", "h100_sxm", 8): [3627, 4340, 3116, 3994, 2919, 2895, 453, 2296, 610, 345],
    ("qwen3_235b_a22b", "h200_sxm", 8): [30429, 42821, 26852, 28026, 23789, 22061, 3331, 16672, 3623, 1876],
    ("qwen3_235b_a22b", "h100_sxm", 8): [None, 19658, 12447, 18351, 14898, 15136, None, 9924, 3225, None],
}
KV_FRACTION = 0.95  # the table's runs "in many cases" (perf-overview.md)


def rounded_up(value, tiers, least):
    """Up to a multiple of the step of the first (limit, step) tier under whose limit the
    value falls, and at least `least`: tuning.py's rounding."""
    step = next(step for limit, step in tiers if value < limit)
    return max(least, step * math.ceil(value / step))


def finetune(kv_max_requests, isl, osl, pp=1):
    raw_bs = min(kv_max_requests, 4096) / pp
    raw_token = min(raw_bs * (1 + isl / osl), 32768)
    max_bs = rounded_up(raw_bs, [(256, 32), (1024, 128), (math.inf, 256)], 64)
    max_token = rounded_up(raw_token, [(4096, 256), (8192, 512), (math.inf, 1024)], 2048)
    return max_bs, max_token


def engine_setting(model, gpu_gib, tp, isl, osl):
    m = MODELS[model]
    kv_heads = max(tp, m["kv_heads"])
    gib_per_token = 2 * m["layers"] * kv_heads * m["head"] * 1.0 / 1024**3  # fp8 KV cache
    engine = m["params"] * 1.0 / 1024**3  # fp8 weights
    available = gpu_gib * tp - engine
    kv_max_requests = available * KV_FRACTION / (gib_per_token * (isl + osl))
    return finetune(kv_max_requests, isl, osl)


def scenario(model, gpu, tp, isl, osl, max_bs, max_tokens):
    name = f"{model}_{gpu.split('_')[0]}_tp{tp}_{isl}_{osl}"
    body = {
        "name": name,
        "description": (f"TensorRT-LLM perf-overview.md: {MODELS[model]['hf']} on {tp} x {gpu}, trtllm-bench throughput "
                        f"(PyTorch backend), {REQUESTS[(isl, osl)]} requests of {isl} prompt and {osl} output tokens at once; "
                        f"max_batch_size {max_bs} and max_num_tokens {max_tokens} as trtllm-bench chooses them."),
        "hardware": {"gpu": gpu, "topology": {"preset": "nvswitch_node", "gpus": 8}},
        "model": CATALOG[model],
        "serving": {
            "engine": "trtllm",
            "tp": tp,
            "dtype": "fp8",
            "kv_dtype": "fp8",
            "max_batch_size": max_bs,
            "max_num_tokens": max_tokens,
            "kv_cache_free_gpu_mem_fraction": KV_FRACTION,
            "enable_chunked_prefill": True,
            "cuda_graph_max_bs": 8192,
            "traffic": {"arrival": "instant", "requests": REQUESTS[(isl, osl)], "prompt": {"tokens": isl},
                        "output": {"tokens": osl}},
        },
    }
    if model in MOE:
        # Each attention rank takes max_batch_size and max_num_tokens as its own limits.
        body["description"] += f" EP {tp} with attention data parallelism (enable_attention_dp)."
        body["serving"]["enable_attention_dp"] = True
    return name, body


def main():
    rows = {OUT: [], OUT_MOE: []}
    for (model, gpu, tp), values in TABLE.items():
        out = OUT_MOE if model in MOE else OUT
        for (isl, osl), measured in zip(LENGTHS, values):
            if measured is None:
                continue  # the page's empty cells
            max_bs, max_tokens = engine_setting(model, GPUS[gpu], tp, isl, osl)
            name, body = scenario(model, gpu, tp, isl, osl, max_bs, max_tokens)
            with open(os.path.join(out, name + ".json"), "w") as f:
                json.dump(body, f, indent=2)
                f.write("\n")
            rows[out].append([name, "held out", measured])
    for out, table in rows.items():
        with open(os.path.join(out, "measured.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["case", "split", "output_tokens_per_s"])
            w.writerows(table)


if __name__ == "__main__":
    main()
