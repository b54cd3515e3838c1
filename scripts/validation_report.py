#!/usr/bin/env python3
"""Runs the validation tests and writes docs/validation.md and calibration/error_bands.json.

Every validation test leaves its rows, predicted beside measured, in
<build>/test-artifacts/validation/<suite>.json (tests/validation_record.hpp). This script
runs `ctest -L validation` with FORESIGHT_VALIDATION_ALL=1 (so that the slow rows run too),
reads those files and writes:

- docs/validation.md: every public case, predicted beside measured, its error, whether
  its source was used to fit anything or is held out, and every source behind a default;
- calibration/error_bands.json: per regime (GPU family / precision) of the held-out
  end-to-end training cases, the range of predicted / measured throughput, which
  `foresight run` turns into an expected range for its step time, throughput and MFU
  (it is compiled in: rebuild after regenerating).

Usage: python3 scripts/validation_report.py [--build build/release] [--no-run]
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# Every source used to set or fit a default of the training cost path, and what it sets.
SOURCES = [
    ("NVIDIA H100 whitepaper, table 3 (via the NVIDIA developer forum thread "
     "'How to calculate the Tensor Core FP16 performance of H100')",
     "the 1,830 MHz (SXM) and 1,620 MHz (PCIe) tensor clocks behind the datasheet peaks"),
    ("our H200 calibration, calibration/profiles/h200_sxm.json: the two sustained runs",
     "Hopper's sustained clocks at 700 W: 1,485 MHz bf16, 1,335 MHz fp8 (one figure each)"),
    ("our H200 calibration run's telemetry (calibration/runs/2026-11-30-h200/telemetry.csv)",
     "Hopper's static power, 78 W (idle draw; one figure); the SM clock the FlashAttention cases ran at, 1,965 MHz "
     "(1,905-1,980 MHz while they ran), which attention's fractions are scaled from to the sustained clock"),
    ("our H200 calibration, the profile's 1,993 bf16/fp8 GEMMs of at least 1e10 FLOP "
     "(scripts/fit_gemm_efficiency.py)",
     "Hopper's GEMM efficiency per clock, 0.90, and per-tile cost, 240 reduction steps (fitted)"),
    ("our H200 calibration, the profile's 33 causal FlashAttention-2 prefill cases per pass (PyTorch 2.11 SDPA; "
     "scripts/fit_gemm_efficiency.py)",
     "Hopper's FlashAttention-2 fractions 0.36 / 0.34 and per-tile costs 300 / 750 keys (fitted)"),
    ("our H200 MoE run, calibration/runs/2026-12-04-h200-moe/activation_kernels.json (the profiler's kernels of "
     "Megatron-style compiled MoE activations)",
     "the routed experts' activation backward: two kernels, reading 9 elements per output element (the concatenated "
     "input gradient 6, the routing probabilities' row sum 3); Megatron-core's dispatcher's copies into expert order "
     "come from its source (token_dispatcher.py, sort_chunks_by_idxs), not a measurement"),
    ("pytorch/benchmark PR 2391 (FA3 forward, H100, head dim 128, 512-16k tokens)",
     "Hopper's warp-specialized (FA3, cuDNN) forward fraction, 0.62"),
    ("FlashAttention-3 paper (Shah et al. 2024): backward 1.5-1.75x FA2's",
     "Hopper's warp-specialized backward fraction, 0.53"),
    ("FlashAttention-2 paper (Dao 2023): 50-73% of A100 peak forward",
     "the A100's attention fractions stay at the generic 0.55 / 0.45 (inside that range), taken at its 1,410 MHz "
     "tensor clock and scaled to its sustained clock"),
    ("NVIDIA's HPL Rpeak convention, 1,305 MHz for the A100 at its power limit (glennklockwood.com, 'peak FLOPS')",
     "the A100's sustained clock (one figure)"),
    ("microsoft/vidur A100 GEMM tables (calibration/data/vidur), 2,322 fp16 GEMMs of 1e11-1e13 FLOP",
     "the A100's GEMM efficiency, 0.71 of its peak = 0.77 per clock at 1,305 MHz (one median)"),
    ("microsoft/vidur A40 GEMM tables (calibration/data/vidur)", "the A40's GEMM efficiency, 0.76 (one median)"),
    ("NVIDIA/nccl issue 1453 (NCCL INFO log on an H100 cluster: 16 channels)",
     "SMs held by a collective for interference, 16"),
    ("NVIDIA/nccl issue 1424 (an NCCL developer: 2 channels per network peer)",
     "SMs held by a pipeline send/recv, 2"),
    ("pytorch/pytorch PR 115515 (FSDP2's all-gather copy-out at 650-700 GB/s); PRs 117975 and 122888 (its reduce-scatter copy-in)",
     "the rate of FSDP2's copies, 675 GB/s on an H100 (one figure, scaled by HBM bandwidth)"),
    ("Sinha et al. SC'22, 'Not all GPUs are created equal': 8% average spread between a cluster's slowest and fastest GPUs",
     "the speed spread between GPUs, 1.2% (one figure, read as +-3.3 standard deviations)"),
    ("NeMo documentation (NVIDIA/NeMo PR 9188): Transformer Engine prefers cuDNN attention on Hopper",
     "the NeMo and Megatron-Bridge scenarios run attention_kernel: cudnn"),
    ("assumed, no measurement: the H100 SXM holds the H200's sustained clocks (same GH100 die, SMs and 700 W limit)",
     "the H100 SXM's sustained clocks"),
    ("assumed, no measurement: the H100 PCIe keeps the SXM's sustained-to-tensor clock ratio",
     "the H100 PCIe's sustained clocks (1,315 / 1,182 MHz)"),
    ("Llama 3 (Dubey et al. 2024, Sec. 3.3.4): 419 unexpected interruptions in 54 days of pre-training on 16,384 H100s",
     "the time to target's failure rate, 50,650 GPU-hours per job failure (one figure)"),
    ("Llama 3 (Dubey et al. 2024, Sec. 3.3.1): Tectonic's 2 TB/s of sustained writes for 16,384 GPUs",
     "the time to target's checkpoint bandwidth, 122 MB/s per GPU (one figure)"),
    ("assumed, no measurement: a checkpoint-restart's downtime",
     "the time to target's restart, 10 minutes"),
    ("assumed, no measurement: nvidia-smi's typical idle draw of an A100 SXM",
     "the A100's static power, 55 W (matters only for power-limit what-ifs)"),
    ("PyTorch's composite rms_norm (aten/src/ATen/native/layer_norm.cpp: upcast to fp32, then pow, mean, rsqrt and two "
     "multiplies), torchtitan's apply_rotary_emb (fp32 complex multiply) and SwiGLU (silu, then a multiply); no measurement",
     "the kernels and bytes of `training.elementwise: eager`"),
    ("torchtitan's op-level selective activation checkpointing (its save list: attention, reduce-scatters and every "
     "other aten.mm)", "what `recompute: selective_op` keeps and reruns"),
    ("torchtitan's float8 converter (module_filter_fn skips 'output'); Megatron-core's GPTModel (output layer and "
     "router outside Transformer Engine's fp8 autocast); no measurement",
     "FP8 training keeps the output layer and the MoE router in bf16"),
    ("Transformer Engine's LayerNormLinear forward and grad_output_preprocess (cast, then gather); torchao's "
     "Float8ColwiseParallel / Float8RowwiseParallel; no measurement",
     "FP8 training's sequence-parallel all-gathers in fp8, their casts on this rank's shard"),
    ("NVIDIA/TransformerEngine PRs 2004 and 2013 (July 2025): current scaling's amax computed inside the activation "
     "and normalization kernels; no measurement",
     "`fp8_amax_fused`: no amax pass for GEMM inputs a norm or an activation produces"),
    ("pytorch/pytorch PR 149946's review (its micro-pipeline TP pass finds matmul + reduce-scatter only in the forward "
     "graph); no measurement", "`tp_comm_overlap_backward_rs: false` for torchtitan's async TP"),
    ("PyTorch's torch/distributed/_symmetric_memory (fused_matmul_reduce_scatter sends each destination's partial rows "
     "whole and sums the stacked partials with torch.sum after the GEMM); no measurement",
     "`tp_comm_overlap_separate_sum: true` for torchtitan's async TP: a kernel reading m x n partials and writing m/tp x n"),
    ("Wang et al. ASPLOS 2023 (overlap by decomposition), as Megatron's userbuffers and PyTorch's async TP run it; "
     "no measurement", "an overlapped TP pair's unhidden chunk, C / tp"),
    ("modelling assumptions, no measurement: a collective reads and writes each byte it moves once (a reduction reads "
     "it twice), and takes at most half of a GPU's SMs or HBM bandwidth",
     "the HBM traffic of collectives and the cap on interference"),
    ("the roofline's generic curves, unchanged from earlier issues", "GEMM 0.75, attention 0.55 / 0.45 and memory 0.80 of "
     "peak for GPUs with no measured family figures (L40S, L4, custom GPUs whose name spells out no measured "
     "catalog GPU; B200, GB200, H20, AMD's Instinct and the RTX parts but for their GEMMs (RTX: and memory), "
     "Blackwell's attention at its sustained clock)"),
    ("bf16 matmuls of 1k-10k squares as users measured them (zzc0721/torch-performance-test-data, database.md and "
     "issue 160: RTX 4090 173.3, 170.1, 163.1, 162.4; RTX 5090 236.0, 242.2, 5090 D 232.2; RTX PRO 6000 418.0, 409.4, "
     "417.3, 368.4; H20 141.9 TFLOP/s) and 120 s of 8192^3 GEMMs (binbinsh/gpu-bench: RTX 4090 175.1, 5090 D 234.8)",
     "the RTX parts' long-GEMM fraction of their datasheet peaks, the median unit's: RTX 4090 1.03, RTX 5090 1.12 "
     "(GeForce runs past its datasheet boost clock and holds it), RTX PRO 6000 0.82; the H20's 0.96 (one unit)"),
    ("device-to-device copies (binbinsh/gpu-bench: RTX 4090 918.8 of 1,008 GB/s, 5090 D 1,528.8 of 1,792; "
     "xytpai/nvbench's read kernels on a 4090, 904-922); llama.cpp's decode of Llama 3 8B f16 on a 4090 "
     "(XiongjieDai/GPU-Benchmarks-on-LLM-Inference, tg512 54.84 tokens/s: 0.874 of its bandwidth, a whole step)",
     "the RTX parts' memory streaming: 0.91 (RTX 4090), 0.85 (RTX 5090 and, with the same GB202 memory system, the RTX "
     "PRO 6000)"),
    ("stas00/ml-engineering, compute/accelerator/README.md, 'Maximum Achievable Matmul FLOPS comparison table' (the best "
     "cuBLAS matmul over a search of large shapes): H100 SXM 80.3% of bf16 peak and 70.9% of fp8, B200 77.6% and 76.3%, "
     "GB200 72.9% and 72.3%; MI300X 668.4, MI325X 784.9 and MI355X 1,565 TFLOP/s in bf16",
     "Blackwell's sustained clocks (the fraction times the tensor clock, which on Hopper comes within 1-3% of the H200's "
     "measured clocks: B200 1,440 MHz in bf16) with GEMMs at 0.90 of the clock-scaled peak; the AMD parts' long-GEMM "
     "fraction (0.46, 0.54, 0.56 of their datasheet peaks): 0.90 of their figures, the ratio H100's sustained model holds "
     "to H100's"),
    ("XLA's default matmul performance table for sm_100 (tensorflow/tensorflow @ a305421c45, "
     "third_party/xla/xla/backends/gpu/cost_model/matmul_interpolator_data.h; calibration/data/xla): a B200's bf16 "
     "and fp8 GEMMs at 125 shapes, M, N and K each 256 to 4,096; its bf16 rows (fitting)",
     "that Blackwell's GEMMs pay Hopper's fixed cost per output tile, 240 steps of a 16-bit main loop, rather than "
     "none (a choice between the two; the best fit, 200 steps, scores within 0.1 point); its fp8 rows are held out"),
    ("NVIDIA/cudnn-frontend benchmark/sdpa_benchmark_training, artifacts/sdpa_bf16_benchmark_results_NVIDIA_B200.csv "
     "(cuDNN 9.10, PyTorch 2.8, causal, head dim 128, 128 / 8 heads, 512-128k tokens): cuDNN's and PyTorch "
     "FlashAttention-2's forward and backward on a B200",
     "Blackwell's cuDNN attention, 0.72 forward and 0.58 backward x kv / (kv + 1,750 keys) (fitted on 4k-32k tokens); "
     "nothing for FlashAttention-2, which takes Hopper's per-SM, per-clock figures halved (mma.sync) and is only checked "
     "against it"),
    ("CUDA C++ Programming Guide, arithmetic instruction throughput: 16 exp2 / log2 / rcp results per SM per clock; "
     "FlashAttention-3 paper (Shah et al. 2024): an H100 SXM5's 3.9 TFLOPS of special functions",
     "the exponential's cost per attention score, which sets how attention's rate scales from head dim 128 (where "
     "every catalog fraction was measured) to other head dims; nothing fitted"),
    ("FlashAttention-3 paper Fig. 5 (H100 SXM5 forward, FA2, cuDNN and FA3, head dims 64, 128, 256) and "
     "NVIDIA/cudnn-frontend benchmark/attention_inference/results (prefill_sweep and gpt_oss, cuDNN 9.27, an H200 "
     "and a B200; calibration/data/attention)",
     "held out: the rate at head dims 64 and 256 over 128 (tests/attention_head_dim_validation_test.cpp); that "
     "no gain is taken above head dim 128 (measured: 0.80 to 1.64 of 128's rate)"),
    ("NVIDIA/cudnn-frontend benchmark/sdpa_benchmark_training/results (h200_919_only_cudnn, gb200_919_only_cudnn: cuDNN "
     "9.19's forward and backward kernels, bf16, head dims 128 and 64; calibration/data/attention)",
     "held out: training attention per GPU (tests/training_attention_validation_test.cpp); nothing set from it"),
    ("NVIDIA/cudnn-frontend benchmark/attention_inference/results/decode_sweep (cuDNN 9.27 decode kernels on a B200, "
     "GB200, H200, A100 PCIe and RTX PRO 6000; calibration/data/attention)",
     "held out: decode attention per GPU family (tests/decode_attention_validation_test.cpp); nothing set from it"),
    ("NVIDIA's B200 and GB200 spec sheets as hmc-tech.com tabulates them: boost clocks 1,980 and 2,110 MHz, tensor "
     "clocks 1,860 and 2,060 MHz; GB200's superchip at 2,700 W with one Grace",
     "the clock Blackwell's attention fractions are taken to be measured at (attention at sustained / boost clock, 0.73 "
     "on B200 and 0.71 on GB200); GB200's 1,200 W a GPU"),
    ("pytorch/ao PR 4002: the CUDA driver reports B200's memory bus as 7,680 bits at 3,996 MHz",
     "B200's HBM bandwidth, 7.67 TB/s"),
    ("stas00/ml-engineering, insights/when-to-upgrade-gpus: attention inside a Llama 3.1 8B bf16 step at 8k tokens, "
     "834 TFLOP/s on B200 (FlashAttention-4 beta) and 447 on H200 (FA3)",
     "nothing: a cross-check of Blackwell's attention against Hopper's (1.87x measured, 2.2x modelled at sustained clocks)"),
    ("Azure/AI-benchmarking-guide, ND H200 v5 and ND GB200 v6 results (nvbandwidth, one GPU at a time): host-to-device "
     "and device-to-host copies at 52 and 52 GB/s on an H200 (PCIe Gen5 x16), 201 and 193 GB/s on a GB200 (NVLink-C2C); "
     "NVIDIA/Megatron-LM issue 6491 (a Megatron-Core developer): 176 GB/s a GPU on GB200 with every GPU copying, and "
     "nvbandwidth's all_to_host 182-184 and host_to_all 169-175 GB/s a GPU on 4 GB300",
     "`host_copy_gbps`, activation offloading's copy rate: 176 GB/s on GB200 (all GPUs at once, as training offloads), "
     "52/64 of the host link elsewhere (the H200's share of Gen5 x16; one figure, assumed to carry to other PCIe hosts)"),
    ("Transformer Engine's CPU offload as Megatron-core calls it (AsyncDoubleBufferGroupOffloadHandler: layer_window_map, "
     "one copy stream each way, the compute stream waiting at each window's end); Megatron-core's TransformerConfig checks "
     "(no offloading with pipeline parallelism or recomputation); no measurement",
     "when activation offloading's copies start and what waits for them"),
    ("Transformer Engine's Linear, LayerNormLinear and LayerNormMLP forward (an fp8 input kept for the weight gradient, "
     "columnwise only); torchao's Float8Linear (bf16 inputs kept, recast in backward); no measurement",
     "`fp8_saved_inputs`: FP8 activations' memory, one byte an element for fp8 GEMM inputs under Transformer Engine"),
    ("NVIDIA-NeMo/Megatron-Bridge docs on communication overlap ('fp8_param_gather=True conducts the parameter all-gather "
     "in fp8, reducing the all-gather overhead by half'); torchao's FSDP float8 all-gather; no measurement",
     "`fp8_param_gather`: the decoder layers' weights gathered at one byte a parameter"),
]

E2E_ORDER = ["v1_megatron_a100", "v2_zero_bubble_a100", "v4_nemo_h100_fp8", "v5_megatron_bridge_h100_fp8",
             "v6_megatron_bridge_h100_moe", "v7_torchtitan_h100_bf16", "v8_torchtitan_h100_float8",
             "v9_megatron_bridge_blackwell_fp8", "v10_megatron_bridge_blackwell_moe", "v11_automodel_h100_moe",
             "v12_megatron_bridge_h100_moe_user", "v13_cudnn_frontend_h200_bf16", "v14_cudnn_frontend_b200_bf16",
             "v15_megatron_bridge_gpt_oss_h100", "v16_megatron_bridge_gpt_oss_blackwell", "v17_megatron_bridge_gb300_fp8",
             "v18_megatron_bridge_h100_ep_overlap", "v19_megatron_bridge_h100_bf16", "v20_llama3_meta_h100",
             "v21_mtnlg_a100", "v22_bloom_a100", "v23_megatron_gpt3_example", "v24_nemo_h100_fp8_more", "v25_nemo_h100_finetune"]
# Dense step-time cases: the headline summary (V2 is throughput under pipeline schedules, V6 is MoE).
DENSE_STEP_TIME = ["v1_megatron_a100", "v4_nemo_h100_fp8", "v5_megatron_bridge_h100_fp8", "v7_torchtitan_h100_bf16",
                   "v8_torchtitan_h100_float8", "v9_megatron_bridge_blackwell_fp8", "v13_cudnn_frontend_h200_bf16",
                   "v14_cudnn_frontend_b200_bf16", "v17_megatron_bridge_gb300_fp8", "v19_megatron_bridge_h100_bf16",
                   "v20_llama3_meta_h100", "v21_mtnlg_a100",
                   "v22_bloom_a100", "v23_megatron_gpt3_example", "v24_nemo_h100_fp8_more", "v25_nemo_h100_finetune"]
# Serving: iterations (S1) and whole runs (S2-S7); whole runs' held-out rows set the
# serving error bands.
SERVING_ITERATIONS = "s1_splitwise_llama2_70b"
SERVING_RUNS = ["s2_lambda_vllm060", "s3_rtx4090_vllm", "s4_recent_vllm_decode", "s5_trtllm_perf_overview",
                "s6_kvcached_h100_vllm019", "s7_moe_single_stream"]
SERVING_METRICS = ["TTFT", "TPOT", "E2E", "throughput"]
# Listed, but out of the whole-run summary and the bands: MoE serving at scale, whose error
# (S8) is not the dense runs', iteration tables (S9), and S-LoRA's runs (S10-S12), whose engine
# is none of the presets (vLLM 0.5's host side assumed for it).
SERVING_TABLES = ["s8_trtllm_perf_overview_moe", "s9_distserve_profiles_a100", "s10_slora_a100", "s11_slora_no_unified_a100", "s12_slora_load_a100",
                  "kv_capacity_distserve", "kv_capacity_logs", "decode_attention_a100"]
# Training strategies checked against the ratios their papers publish.
STRATEGY_RATIOS = ["zeropp_ratios", "bigscience_layout_ranking"]

# Every source behind a serving default (workloads/serving_config.*, models/gpu_catalog.cpp).
SERVING_SOURCES = [
    ("microsoft/vidur CPU profile of vLLM on a DGX A100 (calibration/data/vidur/cpu_overheads_a100_6d98aa8.csv, 78 rows)",
     "vLLM's host time per iteration: 0.85 ms + 42 us per sequence, 0.87 ms more with TP workers (fitted, median |error| "
     "3.1%); V1's 0.79 ms + 26.5 us (the same profile without output processing); a CUDA-graph replay's 80 us; "
     "2023 vLLM's Ray communication, 6.26 ms per iteration at TP > 1 (S1 only)"),
    ("Splitwise's profiles, the TP 8 batch-1 decode rows of Llama-2-70B (calibration/data/serving/splitwise_perf_model.csv)",
     "the host time per eagerly launched kernel: 21.8 us on a DGX H100 (the default), 35.7 us on a DGX A100 (fitted; "
     "those rows are left out of S1)"),
    ("LambdaLabs' vLLM 0.6.0 run of 320 requests at once on an H100 (S2's n320, its earliest first token)",
     "the API server's time per request taken in, 2.4 ms (one figure; that run is S2's fitting run)"),
    ("kvcached's vLLM 0.19 run of 500 requests of 512 tokens at once to Qwen3-0.6B on an H100 (S6's inf, its 94.9 requests/s)",
     "V1's API-server time per request taken in, 8.0 ms, streaming first (one figure; that run is S6's fitting run)"),
    ("vLLM's logged total_gpu_memory on 24 GB and 80 GB parts (23.55-23.58 and 79.11-79.33 GiB)",
     "the driver's reservation, 0.25 GiB + 0.75% of the capacity (two figures)"),
    ("vLLM's logged non-torch memory (0.1-0.65 GiB on one GPU, 1.39 GiB at TP 4) and activation peaks "
     "(1.19-1.24 GiB for Llama-3.1-8B at 8,192 tokens)",
     "the memory vLLM subtracts before sizing its KV cache (0.3 GiB + 0.35 GiB per extra TP rank; the sampler's three "
     "fp32 copies of the logits)"),
    ("TensorRT-LLM's KvCacheCreator._create_dummy_context_requests (tensorrt_llm/_torch/pyexecutor/_util.py, 1.0): the "
     "profiling pass's dummy prompts of min(max_num_tokens, max_seq_len - 1) tokens; TensorRT-LLM's CUTLASS MoE "
     "workspaces; vLLM's fused_experts (vllm/model_executor/layers/fused_moe/fused_moe.py: one buffer shared by the up- "
     "and down-projections' outputs and one for the activation, VLLM_FUSED_MOE_CHUNK_SIZE 32,768 tokens at a time, "
     "vllm/envs.py)", "the activations TensorRT-LLM's cache sizing subtracts: ceil(tokens / prompt length) logit rows, "
     "and a MoE layer's buffers for tokens x top-k routed rows (TensorRT-LLM: up-projection, activation, "
     "down-projection apart; vLLM: the wider projection's and the activation's, for one chunk), every rank's tokens "
     "under data-parallel attention (read from code, no figure fitted)"),
    ("vLLM's engine arguments (_set_default_args_v1, 0.8-0.10)", "V1's defaults: 8,192 tokens and 1,024 sequences on "
     "parts of 70 GiB and more other than the A100, else 2,048 and 256"),
    ("microsoft/vidur GEMM tables, decode's skinny GEMMs (1-8 tokens, TP 1-8; scripts/fit_memory_efficiency.py); "
     "our H200 profile's GEMMs with m <= 8",
     "memory streaming per family: H100 0.865 of HBM bandwidth + 1.6 us, A100 0.789 + 2.4 us, A40 0.787 + 1.1 us, "
     "H200 0.817 + 5.8 us (fitted); the RTX parts' from their copy benchmarks (the training sources above)"),
    ("assumed: a scenario's own GPU whose name or description spells out a measured catalog GPU (\"RTX 4090\", "
     "\"NVIDIA GeForce RTX 4090 24GB\") is that silicon", "its clocks and kernel efficiencies: S3's custom RTX 4090 runs "
     "the catalog's (`efficiency_from` names another or \"none\")"),
    ("microsoft/vidur FlashAttention decode kernels on an A100 (calibration/data/vidur/attention_a100_llama2-70b-shapes_e2d00e9.csv; "
     "the even batch sizes)", "decode attention's fixed cost, 10.5 us of ideal time beside the memory curve (fitted; the odd "
     "batch sizes are held out)"),
    ("assumed, no measurement: SGLang and TensorRT-LLM host costs (SGLang: V1's figures with its overlap scheduler; "
     "TensorRT-LLM: 0.3 ms + 5 us per sequence, overlapped, and PyTorch's eager launches) and their API servers' 2.4 ms "
     "per request", "the sglang and trtllm presets' host side"),
    ("Ma et al., \"The Illusion of Power Capping in LLM Decode\" (arXiv 2605.11999): memory-bound decode on an H200 "
     "draws 137-300 W of 700 W", "the power memory-bound kernels leave to the GEMMs beside them, 300 W on H100 and H200 SXM "
     "(one figure, the top of the range)"),
    ("TensorRT-LLM 1.0's documentation (\"Overlap Scheduler\": on by default; CudaGraphConfig: graphs for generation "
     "batches up to 128 by default); vLLM's get_flash_attn_version (FA3 on Hopper), SGLang's fa3 backend",
     "the trtllm preset's overlap scheduler and CUDA graphs; Hopper's warp-specialized prefill attention for vllm_v1, "
     "sglang and trtllm"),
]


def run_tests(build):
    env = dict(os.environ, FORESIGHT_VALIDATION_ALL="1")
    result = subprocess.run(["ctest", "--test-dir", build, "-L", "validation", "--output-on-failure"], env=env)
    if result.returncode != 0:
        print("warning: some validation checks failed; the report shows what they measured", file=sys.stderr)


def load_suites(build):
    folder = os.path.join(build, "test-artifacts", "validation")
    if not os.path.isdir(folder):
        sys.exit(f"{folder}: no validation records; run the validation tests first")
    suites = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                doc = json.load(f)
            suites[doc["suite"]] = doc
    return suites


def pct(row):
    return (row["predicted"] / row["measured"] - 1) * 100


def counted(rows):
    """The rows that count: not those measured under a slowdown its maintainers call a regression."""
    return [r for r in rows if not r.get("excluded")]


def stats(rows):
    errors = [pct(r) for r in counted(rows)]
    absolute = sorted(abs(e) for e in errors)
    return {
        "n": len(errors),
        "mape": sum(absolute) / len(absolute),
        "median_abs": statistics.median(absolute),
        "worst": absolute[-1],
        "bias": sum(errors) / len(errors),
        "optimistic": sum(1 for e in errors if e > 0),
    }


def error_bands(suites):
    regimes = {}
    for key in E2E_ORDER:
        doc = suites.get(key)
        if doc is None or not doc["split"].startswith("held out"):
            continue
        entry = regimes.setdefault(doc["regime"], {"ratios": [], "gpus": [], "suites": []})
        entry["suites"].append(doc["title"].split(":")[0])
        for row in counted(doc["rows"]):
            entry["ratios"].append(row["predicted"] / row["measured"])
            entry["gpus"].append(row["gpus"])
    bands = []
    for regime, entry in sorted(regimes.items()):
        parts = [part.strip() for part in regime.split("/")]
        family, precision = parts[0], parts[1]
        ratios = sorted(entry["ratios"])
        bands.append({
            "gpu_family": family,
            "precision": precision,
            "architecture": parts[2] if len(parts) > 2 else "dense",
            "cases": len(ratios),
            "suites": entry["suites"],
            "gpus_min": min(entry["gpus"]),
            "gpus_max": max(entry["gpus"]),
            "throughput_ratio_min": round(ratios[0], 4),
            "throughput_ratio_median": round(statistics.median(ratios), 4),
            "throughput_ratio_max": round(ratios[-1], 4),
        })
    return bands


def e2e_section(doc):
    s = stats(doc["rows"])
    lines = [f"### {doc['title']}", "",
             f"Source: {doc['source']}. Split: **{doc['split']}**. Metric: {doc['metric']}.", "",
             "| case | GPUs | predicted | measured | error |", "|---|---|---|---|---|"]
    for row in doc["rows"]:
        mark = " (not counted)" if row.get("excluded") else ""
        lines.append(f"| {row['case']}{mark} | {row['gpus']:,} | {row['predicted']:,.1f} | {row['measured']:,.1f} | {pct(row):+.1f}% |")
    lines += ["", f"{s['n']} cases: MAPE {s['mape']:.1f}%, median |error| {s['median_abs']:.1f}%, worst {s['worst']:.1f}%, "
                  f"mean signed {s['bias']:+.1f}%, {s['optimistic']} of {s['n']} optimistic.", ""]
    for why in sorted({row["excluded"] for row in doc["rows"] if row.get("excluded")}):
        names = ", ".join(row["case"] for row in doc["rows"] if row.get("excluded") == why)
        lines += [f"Not counted in the statistics above or in the error bands: {names}, measured under a slowdown "
                  f"the framework's maintainers track as a regression, {why}.", ""]
    return lines


def kernel_section(doc):
    lines = [f"### {doc['title']}", "", f"Source: {doc['source']}. Split: **{doc['split']}**.", ""]
    if doc["rows"] and "count" in doc["rows"][0]:
        names = doc.get("summary_columns", [])  # older records name two columns; the count defaults to kernels
        signed, tail, count = names + ["signed error", "tail", "kernels"][len(names):]
        lines += [f"| group | {count} | MAPE | {signed} | {tail} |", "|---|---|---|---|---|"]
        for row in doc["rows"]:
            tail_text = "-" if row["tail"] is None else f"{row['tail']:.1f}%"
            lines.append(f"| {row['case']} | {row['count']:,} | {row['mape']:.1f}% | {row['signed']:+.1f}% | {tail_text} |")
    else:
        lines += ["| case | predicted | measured | error |", "|---|---|---|---|"]
        for row in doc["rows"]:
            digits = ".3f" if max(row["predicted"], row["measured"]) < 10 else ",.1f"  # ratios keep their digits
            lines.append(f"| {row['case']} | {row['predicted']:{digits}} | {row['measured']:{digits}} | {pct(row):+.1f}% |")
    return lines + [""]


def summary_table(suites):
    lines = ["| suite | regime | split | cases | MAPE | median abs | worst | mean signed | optimistic |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in E2E_ORDER:
        doc = suites.get(key)
        if doc is None:
            continue
        s = stats(doc["rows"])
        lines.append(f"| {doc['title'].split(':')[0]} | {doc['regime']} | {doc['split']} | {s['n']} | {s['mape']:.1f}% | "
                     f"{s['median_abs']:.1f}% | {s['worst']:.1f}% | {s['bias']:+.1f}% | {s['optimistic']} of {s['n']} |")
    return lines


def serving_bands(suites):
    """Per metric, the range of predicted / measured over the held-out whole-run rows."""
    bands = []
    for metric in SERVING_METRICS:
        ratios, names = [], []
        for key in SERVING_RUNS:
            doc = suites.get(key)
            if doc is None:
                continue
            rows = [r for r in doc["rows"] if r["case"].split(" ")[1] == metric and "(fitting)" not in r["case"]]
            if rows:
                names.append(doc["title"].split(":")[0])
            ratios += [r["predicted"] / r["measured"] for r in rows]
        if ratios:
            ratios.sort()
            bands.append({"metric": metric.lower(), "cases": len(ratios), "suites": names,
                          "ratio_min": round(ratios[0], 4), "ratio_median": round(statistics.median(ratios), 4),
                          "ratio_max": round(ratios[-1], 4)})
    return bands


def serving_iterations_section(doc):
    groups = {}
    for row in doc["rows"]:
        label = " ".join(row["case"].split(" ")[:3])  # "h100_sxm TP8 prefill"
        groups.setdefault(label, []).append(row)
    lines = [f"### {doc['title']}", "", f"Source: {doc['source']}. Split: **{doc['split']}**.", "",
             "| GPU, TP, phase | rows | MAPE | median abs | worst | mean signed |", "|---|---|---|---|---|---|"]
    for label, rows in sorted(groups.items()):
        st = stats(rows)
        lines.append(f"| {label} | {st['n']} | {st['mape']:.1f}% | {st['median_abs']:.1f}% | {st['worst']:.1f}% | {st['bias']:+.1f}% |")
    return lines + [""]


def serving_section(suites, bands):
    lines = ["## Serving", ""]
    held = [r for k in SERVING_RUNS if k in suites for r in suites[k]["rows"] if "(fitting)" not in r["case"]]
    if held:
        st = stats(held)
        lines += [f"Whole runs, held out (S2-S7 without S2's and S6's fitting runs): {st['n']} values, median |error| "
                  f"{st['median_abs']:.1f}%, MAPE {st['mape']:.1f}%, worst {st['worst']:.1f}%, mean signed {st['bias']:+.1f}%, "
                  f"{st['optimistic']} of {st['n']} above measured (for latencies, slow; for throughput, fast).", ""]
        for metric in SERVING_METRICS:
            rows = [r for r in held if r["case"].split(" ")[1] == metric]
            if rows:
                m = stats(rows)
                lines.append(f"- {metric}: {m['n']} values, median |error| {m['median_abs']:.1f}%, mean signed {m['bias']:+.1f}%")
        lines.append("")
    if SERVING_ITERATIONS in suites:
        lines += serving_iterations_section(suites[SERVING_ITERATIONS])
    for key in SERVING_RUNS + SERVING_TABLES:
        if key in suites:
            lines += kernel_section(suites[key])
    lines += ["### Serving error bands", "",
              "`foresight run` prints, beside a serving run's TTFT, TPOT, end-to-end latency and throughput, the range",
              "the held-out whole runs span, predicted over measured: a predicted value v is expected to measure",
              "between v / ratio_max and v / ratio_min.", "",
              "| metric | cases | suites | predicted / measured: min | median | max |", "|---|---|---|---|---|---|"]
    for b in bands:
        lines.append(f"| {b['metric']} | {b['cases']} | {', '.join(b['suites'])} | {b['ratio_min']:.3f} | {b['ratio_median']:.3f} | "
                     f"{b['ratio_max']:.3f} |")
    lines += ["", "### Every source behind a serving default", "", "| source | sets |", "|---|---|"]
    for source, sets in SERVING_SOURCES:
        lines.append(f"| {source} | {sets} |")
    return lines + [""]


def write_report(suites, bands, path, service_bands=()):
    today = datetime.date.today().isoformat()
    lines = [
        "# Validation: predictions beside published measurements",
        "",
        f"Generated by `python3 scripts/validation_report.py` on {today} from the validation tests' records",
        "(`ctest -L validation`); do not edit by hand. Every case is a run foresight did not fit: the",
        "end-to-end cases are all held out (no figure of the model was set from them). V1, V2 and V4",
        "were in the repository while the model was built, so its authors saw them; V5 to V25 were added",
        "after the figures they check were set and are the clean held-out set (but for Blackwell's attention,",
        "taken from cuDNN-frontend's kernel table after V14, from the same project, was seen; nothing was fitted",
        "to V14). Kernel-level suites say which part was fitted.",
        "",
        "## End-to-end training",
        "",
    ]
    lines += summary_table(suites) + [""]
    held = [r for k in DENSE_STEP_TIME if k in suites for r in counted(suites[k]["rows"])]
    if held:
        s = stats(held)
        names = ", ".join(suites[k]["title"].split(":")[0] for k in DENSE_STEP_TIME if k in suites)
        lines += [f"Dense step-time cases ({names}), all held out: {s['n']} cases, median |error| {s['median_abs']:.1f}%, "
                  f"worst {s['worst']:.1f}%, mean signed {s['bias']:+.1f}%, {s['optimistic']} of {s['n']} optimistic.", ""]
    for key in E2E_ORDER:
        if key in suites:
            lines += e2e_section(suites[key])
    lines += ["## Error bands", "",
              "`foresight run` prints, beside its step time, throughput and MFU, the range the held-out cases",
              "of the same regime (GPU family / precision, and whether the model is a mixture of experts) span:",
              "a prediction p is expected to measure between p / (largest predicted / measured) and",
              "p / (smallest). Regimes without a case say so.", "",
              "| regime | cases | suites | GPUs | predicted / measured: min | median | max |", "|---|---|---|---|---|---|---|"]
    for b in bands:
        moe = " / moe" if b["architecture"] == "moe" else ""
        lines.append(f"| {b['gpu_family']} / {b['precision']}{moe} | {b['cases']} | {', '.join(b['suites'])} | "
                     f"{b['gpus_min']:,}-{b['gpus_max']:,} | {b['throughput_ratio_min']:.3f} | {b['throughput_ratio_median']:.3f} | "
                     f"{b['throughput_ratio_max']:.3f} |")
    lines += [""] + serving_section(suites, service_bands)
    lines += ["## Training strategies and layouts: published ratios and rankings", ""]
    for key in STRATEGY_RATIOS:
        if key in suites:
            lines += kernel_section(suites[key])
    lines += ["## Kernels", ""]
    for key, doc in suites.items():
        if key not in E2E_ORDER + STRATEGY_RATIOS and key != SERVING_ITERATIONS and key not in SERVING_RUNS + SERVING_TABLES:
            lines += kernel_section(doc)
    lines += ["## Every source behind a default", "",
              "The figures the training cost path uses and where each comes from (models/gpu_catalog.cpp and",
              "workloads/comm_interference.hpp cite them beside the code). 'One figure' means the default is that",
              "single published or measured value; 'fitted' means it was fitted to the named data, which is then",
              "in the fitting set (scored above as such); 'assumed' marks a default no measurement sets. None of",
              "the end-to-end cases above is among these sources.", "",
              "| source | sets |", "|---|---|"]
    for source, sets in SOURCES:
        lines.append(f"| {source} | {sets} |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    parser.add_argument("--no-run", action="store_true", help="use the records the last test run left")
    args = parser.parse_args()
    if not args.no_run:
        run_tests(args.build)
    suites = load_suites(args.build)
    bands = error_bands(suites)
    service_bands = serving_bands(suites)
    with open(os.path.join(ROOT, "calibration", "error_bands.json"), "w") as f:
        json.dump({"generated_by": "scripts/validation_report.py", "source": "docs/validation.md", "regimes": bands,
                   "serving": service_bands}, f, indent=2)
        f.write("\n")
    write_report(suites, bands, os.path.join(ROOT, "docs", "validation.md"), service_bands)
    print(f"wrote docs/validation.md and calibration/error_bands.json ({len(suites)} suites, {len(bands)} regimes)")


if __name__ == "__main__":
    main()
