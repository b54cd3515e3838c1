#!/usr/bin/env python3
"""Times an MoE layer's parts on one GPU, as Megatron-style training runs them on one
expert-parallel rank, and attention at the head sizes those models use.

What one EP rank does per micro-batch: the router (a GEMM, softmax, top-k), the permute
that groups its tokens' copies by expert, the experts' grouped GEMMs and activation on the
rows the all-to-all brought it (balanced: tokens * top_k * ep / experts rows per local
expert), and the unpermute that sums each token's copies weighted by its routing
probabilities. Each part is timed alone with CUDA events (median of up to 20 runs, L2
flushed before each), forward and backward, in the implementations frameworks use:
torch._grouped_mm (one CUTLASS grouped kernel) and a loop of per-expert GEMMs (Transformer
Engine's GroupedLinear in BF16 issues one cuBLAS GEMM per expert), the activation eager and
compiled into one kernel, and the permutes as PyTorch's index_select / index_add. Memory-
bound parts are also timed as a plain copy of the same bytes, their floor. A whole layer's
forward and backward through autograd (with the host reading the tokens-per-expert counts,
as dropless routing does) gives the time the parts add up to once launched together.

    python3 scripts/gpu/torch_moe_profile.py --out moe_profile.json

Writes JSON: the device, driver and library versions, and one record per timed part.
"""
import argparse
import json
import statistics
import subprocess
import time

# (name, tokens per micro-batch, hidden, expert ffn, experts, top_k, ep, gated activation)
CONFIGS = [
    ("gpt_oss_120b_ep8", 4 * 4096, 2880, 2880, 128, 4, 8, "quick_geglu_clamped"),
    ("gpt_oss_120b_ep64", 4 * 4096, 2880, 2880, 128, 4, 64, "quick_geglu_clamped"),
    ("qwen3_30b_a3b_ep8", 2 * 4096, 2048, 768, 128, 8, 8, "swiglu"),
    ("deepseek_v3_ep8", 4096, 7168, 2048, 256, 8, 8, "swiglu"),
    ("mixtral_8x7b_ep8", 4096, 4096, 14336, 8, 2, 8, "swiglu"),
]

# (name, batch, sequence, heads, kv heads, head dim, window or 0)
ATTENTION = [
    ("gpt_oss_full", 4, 4096, 64, 8, 64, 0),
    ("gpt_oss_window128", 4, 4096, 64, 8, 64, 128),
    ("hd128_same_flops", 4, 4096, 32, 4, 128, 0),
    ("qwen3_30b_a3b", 2, 4096, 32, 4, 128, 0),
]


class Timer:
    def __init__(self, torch):
        self.torch = torch
        props = torch.cuda.get_device_properties(0)
        self.flush = torch.empty(2 * props.L2_cache_size, dtype=torch.uint8, device="cuda")
        self.start = torch.cuda.Event(enable_timing=True)
        self.stop = torch.cuda.Event(enable_timing=True)

    def time(self, fn, reps=20, warmups=3, budget_us=2e5):
        for _ in range(warmups):
            fn()
        self.torch.cuda.synchronize()
        times = []
        while len(times) < reps and (len(times) < 5 or sum(times) < budget_us):
            self.flush.zero_()
            self.start.record()
            fn()
            self.stop.record()
            self.stop.synchronize()
            times.append(self.start.elapsed_time(self.stop) * 1e3)
        times.sort()
        return {"median_us": statistics.median(times), "p10_us": times[max(len(times) // 10 - 1, 0)],
                "p90_us": times[min(len(times) * 9 // 10, len(times) - 1)], "repetitions": len(times)}


def time_forward_backward(torch, timer, forward, inputs, grad_output):
    """The forward's time, then its backward's from one saved output (autograd.grad
    retaining the graph, so each repetition runs the same backward)."""
    out = forward()
    return {"forward": timer.time(forward),
            "backward": timer.time(lambda: torch.autograd.grad(out, inputs, grad_output, retain_graph=True))}


def write_records(path, source, torch, records, format_name="foresight.moe_profile.v1"):
    with open(path, "w") as f:
        json.dump({"format": format_name, "source": source, "device": versions(torch), "records": records}, f, indent=1)


def run_safely(records, base, fn):
    try:
        record = dict(base)
        record.update(fn())
    except Exception as error:  # a kernel this PyTorch lacks is recorded, not fatal
        record = dict(base)
        record["error"] = f"{type(error).__name__}: {str(error)[:300]}"
    records.append(record)
    print(json.dumps(record), flush=True)


def activation(kind):
    import torch

    def quick_geglu_clamped(x, probs):
        gate, up = x.chunk(2, dim=-1)
        gate = gate.clamp(max=7.0)
        up = up.clamp(min=-7.0, max=7.0)
        return gate * torch.sigmoid(1.702 * gate) * (up + 1) * probs

    def swiglu(x, probs):
        gate, up = x.chunk(2, dim=-1)
        return torch.nn.functional.silu(gate) * up * probs

    return quick_geglu_clamped if kind == "quick_geglu_clamped" else swiglu


def moe_config(torch, timer, records, config):
    name, tokens, hidden, ffn, experts, top_k, ep, act_kind = config
    local = experts // ep
    rows_per_expert = tokens * top_k * ep // experts
    rows = local * rows_per_expert
    bf16 = torch.bfloat16
    dev = "cuda"
    base = {"config": name, "tokens": tokens, "hidden": hidden, "ffn": ffn, "experts": experts, "top_k": top_k,
            "ep": ep, "local_experts": local, "rows_per_expert": rows_per_expert, "rows": rows}

    def rec(component, pass_, fn, **extra):
        b = dict(base, component=component, **{"pass": pass_}, **extra)
        run_safely(records, b, fn)

    x_tokens = torch.randn(tokens, hidden, device=dev, dtype=bf16)
    router_w = torch.randn(experts, hidden, device=dev, dtype=bf16) * 0.02
    rec("router_gemm", "forward", lambda: timer.time(lambda: x_tokens @ router_w.t()),
        m=tokens, n=experts, k=hidden, flops=2.0 * tokens * experts * hidden)
    logits = (x_tokens @ router_w.t()).float()

    def softmax_topk():
        probs = torch.softmax(logits, dim=-1)
        return torch.topk(probs, top_k, dim=-1)

    rec("router_softmax_topk", "forward", lambda: timer.time(softmax_topk))
    _, chosen = softmax_topk()
    flat = chosen.reshape(-1)

    def permute():
        order = torch.argsort(flat, stable=True)
        return x_tokens.index_select(0, order // top_k)

    copies = tokens * top_k
    moved = 2.0 * copies * hidden * 2
    rec("permute_index_select", "forward", lambda: timer.time(permute), bytes=moved)
    permuted = permute()
    scratch = torch.empty_like(permuted)
    rec("permute_copy_floor", "forward", lambda: timer.time(lambda: scratch.copy_(permuted)), bytes=moved)
    tokens_per_expert = torch.bincount(flat, minlength=experts)
    rec("host_reads_counts", "forward", lambda: timer.time(lambda: torch.bincount(flat, minlength=experts).tolist()))
    del tokens_per_expert

    order = torch.argsort(flat, stable=True)
    token_of_row = (order // top_k).contiguous()
    probs_of_row = torch.rand(copies, 1, device=dev, dtype=bf16)
    expert_out = torch.randn(copies, hidden, device=dev, dtype=bf16)

    def unpermute():
        out = torch.zeros(tokens, hidden, device=dev, dtype=bf16)
        out.index_add_(0, token_of_row, expert_out * probs_of_row)
        return out

    rec("unpermute_index_add", "forward", lambda: timer.time(unpermute), bytes=2.0 * copies * hidden * 2 + tokens * hidden * 2)
    rec("unpermute_gather_backward", "backward", lambda: timer.time(lambda: x_tokens.index_select(0, token_of_row) * probs_of_row),
        bytes=moved)
    del expert_out, permuted, scratch

    # The experts on this rank: rows arrive grouped by local expert, balanced.
    inner = 2 * ffn
    x = torch.randn(rows, hidden, device=dev, dtype=bf16)
    offs = torch.arange(rows_per_expert, rows + 1, rows_per_expert, device=dev, dtype=torch.int32)
    for layer, (k_in, n_out) in (("fc1", (hidden, inner)), ("fc2", (ffn, hidden))):
        a = x if layer == "fc1" else torch.randn(rows, ffn, device=dev, dtype=bf16)
        w = torch.randn(local, n_out, k_in, device=dev, dtype=bf16) * 0.02  # [G, out, in], nn.Linear's layout
        w_t = w.transpose(1, 2).contiguous()  # [G, in, out]
        dy = torch.randn(rows, n_out, device=dev, dtype=bf16)
        a_t = a.t().contiguous()
        dy_t = dy.t().contiguous()
        flops = 2.0 * rows * n_out * k_in
        gemm = dict(m=rows, n=n_out, k=k_in, groups=local, flops=flops)
        rec(f"{layer}_grouped_mm", "forward", lambda: timer.time(lambda: torch._grouped_mm(a, w.transpose(1, 2), offs=offs)), **gemm)
        rec(f"{layer}_grouped_mm", "dgrad", lambda: timer.time(lambda: torch._grouped_mm(dy, w_t.transpose(1, 2), offs=offs)),
            **dict(gemm, n=k_in, k=n_out))
        rec(f"{layer}_grouped_mm", "wgrad", lambda: timer.time(lambda: torch._grouped_mm(dy_t, a_t.t(), offs=offs)),
            **dict(gemm, m=n_out, n=k_in, k=rows_per_expert))
        chunks = [(g * rows_per_expert, (g + 1) * rows_per_expert) for g in range(local)]

        def loop_forward():
            for g, (s, e) in enumerate(chunks):
                torch.mm(a[s:e], w[g].t())

        def loop_dgrad():
            for g, (s, e) in enumerate(chunks):
                torch.mm(dy[s:e], w[g])

        def loop_wgrad():
            for g, (s, e) in enumerate(chunks):
                torch.mm(dy[s:e].t(), a[s:e])

        rec(f"{layer}_per_expert_mm", "forward", lambda: timer.time(loop_forward), **gemm)
        rec(f"{layer}_per_expert_mm", "dgrad", lambda: timer.time(loop_dgrad), **dict(gemm, n=k_in, k=n_out))
        rec(f"{layer}_per_expert_mm", "wgrad", lambda: timer.time(loop_wgrad), **dict(gemm, m=n_out, n=k_in, k=rows_per_expert))
        w_one = w[0]
        rec(f"{layer}_one_big_mm", "forward", lambda: timer.time(lambda: torch.mm(a, w_one.t())), **dict(gemm, groups=1))
        del w, w_t, dy, a_t, dy_t

    act = activation(act_kind)
    h = torch.randn(rows, inner, device=dev, dtype=bf16)
    probs = torch.rand(rows, 1, device=dev, dtype=bf16)
    act_bytes = 3.0 * rows * ffn * 2
    rec("activation_eager", "forward", lambda: timer.time(lambda: act(h, probs)), bytes=act_bytes, kind=act_kind)
    h_grad = h.detach().requires_grad_()
    g_out = torch.randn(rows, ffn, device=dev, dtype=bf16)
    out_eager = act(h_grad, probs)
    rec("activation_eager", "backward",
        lambda: timer.time(lambda: torch.autograd.grad(out_eager, h_grad, g_out, retain_graph=True)),
        bytes=5.0 * rows * ffn * 2, kind=act_kind)
    try:
        compiled = torch.compile(act, dynamic=True)
        out_c = compiled(h_grad, probs)
        torch.autograd.grad(out_c, h_grad, g_out, retain_graph=True)
        rec("activation_compiled", "forward", lambda: timer.time(lambda: compiled(h, probs)), bytes=act_bytes, kind=act_kind)
        rec("activation_compiled", "backward",
            lambda: timer.time(lambda: torch.autograd.grad(out_c, h_grad, g_out, retain_graph=True)),
            bytes=5.0 * rows * ffn * 2, kind=act_kind)
    except Exception as error:
        rec("activation_compiled", "forward", lambda: {"error": f"{type(error).__name__}: {str(error)[:300]}"})
    scratch = torch.empty_like(h)
    rec("activation_copy_floor", "forward", lambda: timer.time(lambda: scratch.copy_(h)), bytes=2.0 * rows * inner * 2)
    del h, h_grad, g_out, out_eager, scratch, x
    torch.cuda.empty_cache()
    whole_layer(torch, timer, records, base, config, act)


def fused_activations(torch):
    """Megatron-style fused activations: a custom autograd.Function whose forward and
    backward are each one compiled function (megatron/core/fusions/fused_bias_geglu.py and
    fused_bias_swiglu.py compile theirs with jit_fuser, torch.compile on current PyTorch),
    the routing weights applied inside and their gradient reduced in the backward."""

    def quick_geglu_forward(x, weights):
        gate, linear = x.chunk(2, dim=-1)
        gate = gate.float().clamp(max=7.0)
        linear = linear.float().clamp(min=-7.0, max=7.0)
        return (gate * torch.sigmoid(1.702 * gate) * (linear + 1) * weights.float()).to(x.dtype)

    def quick_geglu_backward(grad, x, weights):
        gate_raw, linear_raw = x.chunk(2, dim=-1)
        gate = gate_raw.float().clamp(max=7.0)
        linear = linear_raw.float().clamp(min=-7.0, max=7.0)
        sig = torch.sigmoid(1.702 * gate)
        act = gate * sig
        g = grad.float()
        d_act = sig + 1.702 * act * (1 - sig)
        d_gate = g * weights.float() * (linear + 1) * d_act * (gate_raw.float() <= 7.0)
        d_linear = g * weights.float() * act * (linear_raw.float().abs() <= 7.0)
        d_weights = (g * act * (linear + 1)).sum(dim=-1, keepdim=True)
        return torch.cat([d_gate, d_linear], dim=-1).to(x.dtype), d_weights.to(weights.dtype)

    def swiglu_forward(x, weights):
        gate, linear = x.chunk(2, dim=-1)
        return (torch.nn.functional.silu(gate.float()) * linear.float() * weights.float()).to(x.dtype)

    def swiglu_backward(grad, x, weights):
        gate, linear = x.chunk(2, dim=-1)
        gate, linear = gate.float(), linear.float()
        sig = torch.sigmoid(gate)
        g = grad.float()
        d_gate = g * weights.float() * linear * sig * (1 + gate * (1 - sig))
        d_linear = g * weights.float() * gate * sig
        d_weights = (g * gate * sig * linear).sum(dim=-1, keepdim=True)
        return torch.cat([d_gate, d_linear], dim=-1).to(x.dtype), d_weights.to(weights.dtype)

    return {"quick_geglu_clamped": (quick_geglu_forward, quick_geglu_backward), "swiglu": (swiglu_forward, swiglu_backward)}


def activation_variants(torch, timer, records, config):
    """The fused activation compiled as Megatron compiles it: shapes static (one
    compilation per shape), or the row count dynamic (torch.compile's automatic dynamic
    shapes after the row count changes, as dropless routing changes it every step)."""
    name, tokens, hidden, ffn, experts, top_k, ep, act_kind = config
    rows = tokens * top_k
    forward, backward = fused_activations(torch)[act_kind]
    bf16 = torch.bfloat16
    x = torch.randn(rows, 2 * ffn, device="cuda", dtype=bf16)
    weights = torch.rand(rows, 1, device="cuda", dtype=bf16)
    grad = torch.randn(rows, ffn, device="cuda", dtype=bf16)
    base = {"config": name, "rows": rows, "ffn": ffn, "kind": act_kind}
    scratch = torch.empty_like(x)
    run_safely(records, dict(base, component="activation_copy_floor", **{"pass": "forward"}, bytes=4.0 * rows * ffn * 2),
               lambda: timer.time(lambda: scratch.copy_(x)))
    for mode in ("static", "rows_dynamic"):
        torch._dynamo.reset()
        fwd = torch.compile(forward, dynamic=False if mode == "static" else None)
        bwd = torch.compile(backward, dynamic=False if mode == "static" else None)
        if mode == "rows_dynamic":
            for t in (x, weights, grad):
                torch._dynamo.mark_dynamic(t, 0)
        run_safely(records, dict(base, component=f"activation_fused_{mode}", **{"pass": "forward"}, bytes=3.0 * rows * ffn * 2),
                   lambda: timer.time(lambda: fwd(x, weights)))
        run_safely(records, dict(base, component=f"activation_fused_{mode}", **{"pass": "backward"}, bytes=5.0 * rows * ffn * 2),
                   lambda: timer.time(lambda: bwd(grad, x, weights)))
    del scratch
    expert_out = torch.randn(rows, hidden, device="cuda", dtype=bf16)
    order = torch.randperm(rows, device="cuda")
    probs = torch.rand(tokens, top_k, 1, device="cuda", dtype=bf16)
    # The unpermute as a gather: each token reads its top_k rows and sums them weighted.
    run_safely(records, dict(base, component="unpermute_gather_sum", **{"pass": "forward"}, bytes=(rows + tokens) * hidden * 2.0),
               lambda: timer.time(lambda: (expert_out.index_select(0, order).view(tokens, top_k, hidden) * probs).sum(dim=1)))


def whole_layer(torch, timer, records, base, config, act):
    """The parts in one autograd forward and backward, the experts as per-expert GEMMs,
    the host reading the counts as dropless routing does: wall and GPU time."""
    name, tokens, hidden, ffn, experts, top_k, ep, _ = config
    local = experts // ep
    bf16 = torch.bfloat16
    rows_per_expert = tokens * top_k * ep // experts
    x = torch.randn(tokens, hidden, device="cuda", dtype=bf16, requires_grad=True)
    router_w = (torch.randn(experts, hidden, device="cuda", dtype=bf16) * 0.02).requires_grad_()
    # One parameter per expert, as GroupedLinear holds them: slicing one 3-D parameter would
    # make autograd add each expert's gradient into a zero-filled copy of the whole tensor.
    w1 = [(torch.randn(2 * ffn, hidden, device="cuda", dtype=bf16) * 0.02).requires_grad_() for _ in range(local)]
    w2 = [(torch.randn(hidden, ffn, device="cuda", dtype=bf16) * 0.02).requires_grad_() for _ in range(local)]
    dy = torch.randn(tokens, hidden, device="cuda", dtype=bf16)

    def step():
        logits = (x @ router_w.t()).float()
        probs, chosen = torch.topk(torch.softmax(logits, dim=-1), top_k, dim=-1)
        flat = chosen.reshape(-1)
        counts = torch.bincount(flat, minlength=experts).tolist()  # the host sync
        order = torch.argsort(flat, stable=True)
        token_of_row = order // top_k
        # An EP rank receives as many rows as it sends when routing is balanced: stand in for
        # the all-to-all by regrouping this rank's own rows into its local experts.
        rows = x.index_select(0, token_of_row)
        weights = probs.reshape(-1).index_select(0, order).to(bf16).unsqueeze(1)
        outs = []
        for g in range(local):
            s, e = g * rows_per_expert, (g + 1) * rows_per_expert
            hidden_g = torch.mm(rows[s:e], w1[g].t())
            outs.append(torch.mm(act(hidden_g, weights[s:e]), w2[g].t()))
        expert_out = torch.cat(outs)
        out = torch.zeros(tokens, hidden, device="cuda", dtype=bf16).index_add(0, token_of_row, expert_out)
        out.backward(dy)
        return counts

    def wall():
        torch.cuda.synchronize()
        begin = time.perf_counter()
        step()
        torch.cuda.synchronize()
        return (time.perf_counter() - begin) * 1e6

    run_safely(records, dict(base, component="whole_layer_autograd", **{"pass": "forward_backward"}),
               lambda: dict(timer.time(step, reps=10), wall_us=statistics.median(wall() for _ in range(5))))


def attention(torch, timer, records, case):
    name, batch, seq, heads, kv_heads, head_dim, window = case
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    bf16 = torch.bfloat16
    q = torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=bf16, requires_grad=True)
    k = torch.randn(batch, kv_heads, seq, head_dim, device="cuda", dtype=bf16, requires_grad=True)
    v = torch.randn(batch, kv_heads, seq, head_dim, device="cuda", dtype=bf16, requires_grad=True)
    dout = torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=bf16)
    keys = seq / 2 if window == 0 else window - window * window / (2 * seq)
    flops = 4.0 * batch * heads * seq * keys * head_dim
    base = {"config": name, "component": "attention", "batch": batch, "seq": seq, "heads": heads, "kv_heads": kv_heads,
            "head_dim": head_dim, "window": window, "causal_flops": flops}
    if window == 0:
        for backend_name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            def forward(backend=backend):
                with sdpa_kernel([backend]):
                    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

            run_safely(records, dict(base, kernel=f"sdpa_{backend_name}"),
                       lambda forward=forward: time_forward_backward(torch, timer, forward, (q, k, v), dout))
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    flex = torch.compile(flex_attention, dynamic=False)

    def mask(b, h, q_idx, kv_idx):
        causal = q_idx >= kv_idx
        return causal & (q_idx - kv_idx < window) if window else causal

    def timed_flex():
        block_mask = create_block_mask(mask, None, None, seq, seq, device="cuda")
        return time_forward_backward(torch, timer, lambda: flex(q, k, v, block_mask=block_mask, enable_gqa=True), (q, k, v), dout)

    run_safely(records, dict(base, kernel="flex_attention"), timed_flex)


# (m, n, k): GPT-OSS's expert GEMMs (hidden and expert width 2,880, not a multiple of 256)
# beside the same GEMMs at 3,072, to see what the odd width costs per FLOP.
DENSE_GEMMS = [(16384, 5760, 2880), (16384, 6144, 3072), (16384, 2880, 2880), (16384, 3072, 3072),
               (4096, 5760, 2880), (4096, 6144, 3072), (4096, 2880, 2880), (4096, 3072, 3072)]


def dense_gemms(torch, timer, records):
    for m, n, k in DENSE_GEMMS:
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        run_safely(records, {"config": "dense_gemm", "component": "mm", "pass": "forward", "m": m, "n": n, "k": k,
                             "flops": 2.0 * m * n * k}, lambda: timer.time(lambda: torch.mm(a, w.t())))


def versions(torch):
    def smi(query):
        try:
            return subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                                  text=True, timeout=20).stdout.strip()
        except Exception as error:
            return f"unavailable: {error}"

    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "sms": props.multi_processor_count, "l2_mb": props.L2_cache_size // 2**20,
            "driver": smi("driver_version"), "power_limit_w": smi("power.limit"), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="moe,gemm,attention", help="comma-separated: moe, gemm, attention, activation")
    args = parser.parse_args()
    import torch
    torch.manual_seed(0)
    timer = Timer(torch)
    records = []
    document = {"format": "foresight.moe_profile.v1", "source": "scripts/gpu/torch_moe_profile.py", "device": versions(torch),
                "records": records}
    parts = args.only.split(",")

    def save():
        with open(args.out, "w") as f:
            json.dump(document, f, indent=1)

    if "moe" in parts:
        for config in CONFIGS:
            moe_config(torch, timer, records, config)
            torch.cuda.empty_cache()
            save()
    if "activation" in parts:
        for config in CONFIGS:
            if config[0] != "gpt_oss_120b_ep64":  # the same activation as ep8's
                activation_variants(torch, timer, records, config)
                torch.cuda.empty_cache()
                save()
    if "gemm" in parts:
        dense_gemms(torch, timer, records)
        save()
    if "attention" in parts:
        for case in ATTENTION:
            attention(torch, timer, records, case)
            torch.cuda.empty_cache()
            save()
    save()


if __name__ == "__main__":
    main()
