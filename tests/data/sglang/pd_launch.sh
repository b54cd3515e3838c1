#!/bin/bash
# SGLang's prefill-decode disaggregation on one node of 8 GPUs, as its docs launch it
# (docs/advanced_features/pd_disaggregation.md): one prefill server of TP 2, two decode
# servers of TP 2 with their own batch limit, and sglang_router's PD router in front.
set -e

python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct \
    --disaggregation-mode prefill --disaggregation-ib-device mlx5_roce0 \
    --host 127.0.0.1 --port 30000 --tp 2 --mem-fraction-static 0.85 > prefill.log 2>&1 &

CUDA_VISIBLE_DEVICES=2,3 python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct \
    --disaggregation-mode decode --disaggregation-ib-device mlx5_roce0 \
    --host 127.0.0.1 --port 30001 --tp 2 --mem-fraction-static 0.85 --max-running-requests 128 > decode0.log 2>&1 &
CUDA_VISIBLE_DEVICES=4,5 python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct \
    --disaggregation-mode decode --disaggregation-ib-device mlx5_roce0 \
    --host 127.0.0.1 --port 30002 --tp 2 --mem-fraction-static 0.85 --max-running-requests 128 > decode1.log 2>&1 &

sleep 60  # the servers load their weights
python3 -m sglang_router.launch_router --pd-disaggregation \
    --prefill http://127.0.0.1:30000 8998 \
    --decode http://127.0.0.1:30001 --decode http://127.0.0.1:30002 \
    --policy cache_aware --host 0.0.0.0 --port 8000
