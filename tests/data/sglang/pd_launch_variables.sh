#!/bin/bash
# pd_launch.sh's servers and router written as launch scripts usually are: the model, the
# shared flags and the ports in variables, one of them with a default the caller may override.
set -e
MODEL=meta-llama/Llama-3.1-8B-Instruct
export HOST=127.0.0.1
COMMON_ARGS="--model-path $MODEL --disaggregation-ib-device mlx5_roce0 --host $HOST --tp 2 --mem-fraction-static 0.85"
PREFILL_PORT=30000

python3 -m sglang.launch_server $COMMON_ARGS --disaggregation-mode prefill --port $PREFILL_PORT > prefill.log 2>&1 &
CUDA_VISIBLE_DEVICES=2,3 python3 -m sglang.launch_server $COMMON_ARGS --disaggregation-mode decode \
    --port 30001 --max-running-requests "${MAX_RUNNING:-128}" > decode0.log 2>&1 &
CUDA_VISIBLE_DEVICES=4,5 python3 -m sglang.launch_server $COMMON_ARGS --disaggregation-mode decode \
    --port 30002 --max-running-requests "${MAX_RUNNING:-128}" > decode1.log 2>&1 &

sleep 60
python3 -m sglang_router.launch_router --pd-disaggregation --prefill "http://${HOST}:${PREFILL_PORT}" 8998 \
    --decode http://$HOST:30001 --decode http://$HOST:30002 --policy cache_aware --host 0.0.0.0 --port 8000
