// The engines as they run (docs/serving.md, "Engines"): each preset reproduces its engine's
// documented behaviour, the host side times iterations as launches and CPU work allow, the
// API server and a closed-loop client pace requests, and the metrics are the benchmarks'.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "serving_support.hpp"
#include "sim/runner/scenario.hpp"
#include "test_support.hpp"

using namespace foresight;

namespace {
// Llama-3-8B on one H100 under an engine's defaults.
struct EngineBench : foresight::testing::ServingBench {
  explicit EngineBench(const std::string& engine) {
    config = engine_defaults(engine, gpu, model.max_positions);
    config.traffic.requests = 300;
    config.traffic.rate = 12;
    config.traffic.prompt = {256, 2048};
    config.traffic.output = {16, 256};
  }
  ServingResult run(bool record_iterations = false) {
    IterationCostModel cost(model, gpu, fabric, config, roofline);
    return simulate_serving(config, make_requests(config.traffic, 11), cost, record_iterations);
  }
};

// The most requests outstanding at once, from their arrival and finish times.
int peak_outstanding(const ServingResult& r) {
  std::vector<std::pair<Time, int>> events;
  for (const RequestRecord& q : r.records) {
    events.emplace_back(q.arrival, 1);
    events.emplace_back(q.finish, -1);
  }
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : a.second < b.second; });
  int now = 0, peak = 0;
  for (const auto& [time, step] : events) peak = std::max(peak, now += step);
  return peak;
}
}  // namespace

TEST_CASE("vLLM V1 mixes prefill chunks with decodes under one token budget") {
  EngineBench b("vllm_v1");
  CHECK(b.config.scheduler == "sarathi");
  CHECK(b.config.prefix_caching);
  CHECK(b.config.chunk_size == 8192);  // an H100: 80 GiB, not an A100
  b.config.chunk_size = b.config.max_batched_tokens = 512;
  const ServingResult r = b.run(true);
  CHECK(r.requests == 300);
  int mixed = 0;
  for (const IterationRecord& it : r.iteration_log) {
    CHECK(it.prefill_tokens + it.decodes <= 512);
    mixed += it.prefill_tokens > 0 && it.decodes > 0 ? 1 : 0;
  }
  MESSAGE(mixed << " of " << r.iteration_log.size() << " iterations mix prefill chunks with decodes");
  CHECK(mixed > 100);
  // An A100 gets V1's smaller defaults.
  const ServingConfig a100 = engine_defaults("vllm_v1", *find_builtin_gpu("a100_sxm_80gb"), 8192);
  CHECK(a100.max_batched_tokens == 2048);
  CHECK(a100.max_num_seqs == 256);
}

TEST_CASE("vLLM 0.6's multi-step scheduling streams tokens in bursts and makes arrivals wait for the call to end") {
  EngineBench one("vllm_v0"), eight("vllm_v0");
  eight.config.engine.scheduler_steps = 8;
  const ServingResult a = one.run(), b = eight.run();
  CHECK(a.requests == 300);
  CHECK(b.requests == 300);
  MESSAGE("1 step: TTFT " << a.ttft.mean * 1e3 << " ms, TPOT " << a.tpot.mean * 1e3 << " ms, ITL " << a.itl.mean * 1e3
                           << " ms; 8 steps: TTFT " << b.ttft.mean * 1e3 << " ms, TPOT " << b.tpot.mean * 1e3 << " ms, ITL "
                           << b.itl.mean * 1e3 << " ms");
  // A chunk carries up to 8 tokens: the time between chunks grows about eightfold.
  CHECK(b.itl.mean > 4 * a.itl.mean);
  // The CPU's work is paid once per 8 steps: tokens come no slower on average.
  CHECK(b.tpot.mean < 1.05 * a.tpot.mean);
  // A new request waits for the running multi-step call before its prefill.
  CHECK(b.ttft.mean > a.ttft.mean);
  CHECK(b.iterations < a.iterations);
}

TEST_CASE("CUDA graphs replay a decode batch for one launch; eager kernels cannot run faster than the host launches them") {
  EngineBench b("vllm_v0");
  BatchShape decode;
  decode.tokens = decode.decodes = decode.outputs = decode.sequences = 1;
  decode.decode_context = 1024;
  IterationCostModel graphs(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.engine.cuda_graphs = false;
  IterationCostModel eager(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.host.kernel_launch_seconds = 0;
  IterationCostModel kernels_only(b.model, b.gpu, b.fabric, b.config, b.roofline);
  const double gpu = to_seconds(kernels_only.device_time(decode));
  CHECK(graphs.replays_graph(decode));
  CHECK(graphs.eager_launches(decode) == 0);
  CHECK(to_seconds(graphs.device_time(decode)) == doctest::Approx(gpu + 80e-6).epsilon(1e-6));
  const double launches = static_cast<double>(eager.eager_launches(decode)) * kEagerLaunchSeconds;
  CHECK(eager.eager_launches(decode) > 32 * 8);  // every layer's kernels and the head's
  CHECK(to_seconds(eager.device_time(decode)) == doctest::Approx(std::max(gpu, launches)).epsilon(1e-6));
  MESSAGE("Llama-3-8B decode of one sequence: kernels " << gpu * 1e3 << " ms, eager launches " << launches * 1e3 << " ms");
  // A prefill is never graph-captured in V0.
  BatchShape prefill;
  prefill.tokens = 2048;
  prefill.outputs = prefill.sequences = 1;
  CHECK_FALSE(graphs.replays_graph(prefill));
}

TEST_CASE("the host's CPU work adds to an iteration, or overlaps it with async scheduling") {
  EngineBench b("vllm_v0");
  BatchShape decode;
  decode.tokens = decode.decodes = decode.outputs = decode.sequences = 64;
  decode.decode_context = 64 * 1024;
  IterationCostModel serial(b.model, b.gpu, b.fabric, b.config, b.roofline);
  const Time cpu = serial.cpu_time(decode), device = serial.device_time(decode);
  // Vidur's profile of vLLM's host: 0.85 ms + 42 us per sequence.
  CHECK(to_seconds(cpu) == doctest::Approx(0.85e-3 + 64 * 42e-6));
  CHECK(serial.iteration(decode) == cpu + device);
  CHECK(serial.iteration(decode, 4) > 3 * device + cpu);  // four steps, one CPU call
  b.config.host.async_scheduling = true;
  IterationCostModel overlapped(b.model, b.gpu, b.fabric, b.config, b.roofline);
  CHECK(overlapped.iteration(decode) == std::max(cpu, device));
}

TEST_CASE("prefill attention runs Hopper's warp-specialized kernels under vLLM V1, SGLang and TensorRT-LLM, not vLLM 0.6") {
  for (const char* engine : {"vllm_v1", "sglang", "trtllm"}) CHECK(EngineBench(engine).config.engine.attention == AttentionKernel::kFlash3);
  EngineBench b("vllm_v0");
  CHECK(b.config.engine.attention == AttentionKernel::kFlash);
  IterationCostModel flash2(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.engine.attention = AttentionKernel::kFlash3;
  IterationCostModel flash3(b.model, b.gpu, b.fabric, b.config, b.roofline);
  // A 16k-token prompt's attention: the H100's FA3 forward reaches 0.62 of the peak, FA2 0.36.
  const double ratio = to_seconds(flash2.prefill_attention(16384, 0)) / to_seconds(flash3.prefill_attention(16384, 0));
  MESSAGE("FA2 over FA3 on an H100: " << ratio);
  CHECK(ratio == doctest::Approx(0.62 / 0.36).epsilon(0.02));
  b.gpu = *find_builtin_gpu("a100_sxm_80gb");  // no warp-specialized kernels: FlashAttention-2's either way
  IterationCostModel a100(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.engine.attention = AttentionKernel::kFlash;
  IterationCostModel a100_flash2(b.model, b.gpu, b.fabric, b.config, b.roofline);
  CHECK(a100.prefill_attention(16384, 0) == a100_flash2.prefill_attention(16384, 0));
}

TEST_CASE("TensorRT-LLM 1.0's PyTorch backend overlaps its CPU work and replays generation batches up to 128 from graphs") {
  const EngineBench b("trtllm");
  CHECK(b.config.host.async_scheduling);
  CHECK(b.config.engine.cuda_graphs);
  CHECK(b.config.engine.graph_max_tokens == 128);
  CHECK(b.config.block_size == 32);
  CHECK(b.config.prefix_caching);
}

TEST_CASE("TensorRT-LLM batches whole prompts beside generation requests unless chunked prefill is on") {
  EngineBench b("trtllm");
  b.config.traffic.prompt = {3000, 3000};
  b.config.traffic.output = {64, 64};
  const auto partial_prefills = [](const ServingResult& r) {
    int partial = 0, mixed = 0;
    for (const IterationRecord& it : r.iteration_log) {
      partial += it.prefill_tokens % 3000 != 0 ? 1 : 0;
      mixed += it.prefill_tokens > 0 && it.decodes > 0 ? 1 : 0;
    }
    return std::pair{partial, mixed};
  };
  const auto whole = partial_prefills(b.run(true));
  CHECK(whole.first == 0);
  CHECK(whole.second > 0);  // in-flight batching: context requests beside generation ones
  b.config.engine.whole_prompts = false;  // enable_chunked_prefill: true
  const auto chunked = partial_prefills(b.run(true));
  MESSAGE("iterations with a prompt's chunk: " << chunked.first << " chunked, " << whole.first << " without");
  CHECK(chunked.first > 0);
  // The knob under TensorRT-LLM's own name, as trtllm-bench turns it on for S5.
  const std::string scenario = foresight::testing::source_path("scenarios/validation/trtllm_perf_overview/llama31_8b_h100_tp1_128_128.json");
  CHECK_FALSE(load_scenario(scenario, {}).serving.engine.whole_prompts);
  CHECK(load_scenario(scenario, {"serving.enable_chunked_prefill=false"}).serving.engine.whole_prompts);
  CHECK(load_scenario(scenario, {}).serving.scheduler == "sarathi");
}

TEST_CASE("a decode-heavy iteration's GEMMs clock up beside its memory-bound attention; a prefill's barely do") {
  EngineBench b("vllm_v1");
  b.config.dtype = b.config.kv_dtype = Dtype::kFp8;
  BatchShape decode;  // 256 decodes over 2,048 cached tokens each: attention reads 4 GiB per step
  decode.tokens = decode.decodes = decode.outputs = decode.sequences = 256;
  decode.decode_context = 256 * 2048;
  BatchShape prefill;  // one 8,192-token prompt
  prefill.tokens = 8192;
  prefill.outputs = prefill.sequences = 1;
  IterationCostModel shared(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.gpu.clocks.memory_bound_power_w = 0;  // GEMMs at the clock back-to-back GEMMs sustain
  IterationCostModel sustained(b.model, b.gpu, b.fabric, b.config, b.roofline);
  const double decode_gain = to_seconds(sustained.device_time(decode)) / to_seconds(shared.device_time(decode));
  const double prefill_gain = to_seconds(sustained.device_time(prefill)) / to_seconds(shared.device_time(prefill));
  MESSAGE("sustained over shared-power time: decode " << decode_gain << ", prefill " << prefill_gain);
  CHECK(decode_gain > 1.05);
  CHECK(prefill_gain < 1.06);
  CHECK(prefill_gain < decode_gain);
}

TEST_CASE("TensorRT-LLM's GUARANTEED_NO_EVICT admission never preempts where MAX_UTILIZATION does") {
  EngineBench b("trtllm");
  CHECK(b.config.engine.guaranteed_no_evict);
  b.config.gpu_memory_utilization = 0.03;  // a small cache: about 14k tokens
  b.config.traffic.rate = 40;
  b.config.traffic.output = {512, 1024};
  const ServingResult guaranteed = b.run();
  b.config.engine.guaranteed_no_evict = false;
  const ServingResult greedy = b.run();
  MESSAGE("preemptions: GUARANTEED_NO_EVICT " << guaranteed.preemptions << ", MAX_UTILIZATION " << greedy.preemptions
                                             << "; mean TTFT " << guaranteed.ttft.mean << " s vs " << greedy.ttft.mean << " s");
  CHECK(guaranteed.requests == 300);
  CHECK(greedy.requests == 300);
  CHECK(guaranteed.preemptions == 0);
  CHECK(greedy.preemptions > 0);
  // LightLLM's (and S-LoRA's) router counts each request's tokens only until it ends: by
  // its peak need it admits more at once than whole outputs would, and still never preempts.
  b.config.engine.peak_admission = true;
  const ServingResult peak = b.run();
  MESSAGE("requests/s: peak " << peak.request_throughput << ", whole outputs " << guaranteed.request_throughput);
  CHECK(peak.requests == 300);
  CHECK(peak.preemptions == 0);
  CHECK(peak.request_throughput > guaranteed.request_throughput);
  // With adapters paged into the same cache, the adapters running requests use count too.
  b.config.lora_rank = 64;
  b.config.lora_unified = true;
  b.config.traffic.adapters = 50;
  const ServingResult adapters = b.run();
  CHECK(adapters.requests == 300);
  CHECK(adapters.preemptions == 0);
  CHECK(adapters.adapter_loads >= 50);
}

// LightLLM's router (S-LoRA's: max_wait_tokens 10) lets a running batch decode that many
// steps between admissions: an arrival waits for the count, so prefills come fewer and
// larger and first tokens later; an idle engine admits at once.
TEST_CASE("router_max_wait_tokens: a running batch admits new requests only every that many decode steps") {
  EngineBench b("vllm_v0");
  const ServingResult every_step = b.run(true);
  b.config.engine.decodes_between_admissions = 10;
  const ServingResult every_ten = b.run(true);
  REQUIRE(every_ten.requests == 300);
  std::int64_t since_prefill = 0, gated_prefills = 0, prefill_iterations = 0;
  Time previous_end = 0;
  for (const IterationRecord& it : every_ten.iteration_log) {
    const bool was_idle = it.start > previous_end;  // the batch had ended: admitted at once
    previous_end = it.start + it.duration;
    if (it.prefill_tokens > 0) {
      ++prefill_iterations;
      // A prefill beside a running batch comes only after ten decode steps.
      if (!was_idle && since_prefill > 0) CHECK(since_prefill >= 10);
      gated_prefills += since_prefill >= 10 ? 1 : 0;
      since_prefill = 0;
    } else if (it.decodes > 0) {
      ++since_prefill;
    }
  }
  std::int64_t prefill_iterations_every_step = 0;
  for (const IterationRecord& it : every_step.iteration_log) prefill_iterations_every_step += it.prefill_tokens > 0 ? 1 : 0;
  MESSAGE("prefill iterations: every step " << prefill_iterations_every_step << ", every ten " << prefill_iterations << " ("
                                            << gated_prefills << " after ten decodes); mean TTFT " << every_step.ttft.mean
                                            << " s -> " << every_ten.ttft.mean << " s");
  CHECK(gated_prefills > 0);
  CHECK(prefill_iterations < prefill_iterations_every_step);
  CHECK(every_ten.ttft.mean > every_step.ttft.mean);
}

TEST_CASE("with prefix caching, a preempted request recomputes only what was evicted meanwhile") {
  EngineBench b("vllm_v0");
  b.config.gpu_memory_utilization = 0.25;
  b.config.traffic.rate = 40;
  b.config.traffic.output = {256, 1024};
  b.config.prefix_caching = false;
  const ServingResult plain = b.run();
  b.config.prefix_caching = true;
  const ServingResult cached = b.run();
  MESSAGE("preemptions " << plain.preemptions << " / " << cached.preemptions << "; kept when recomputed: " << cached.recompute_kept * 100
                         << "%; mean E2E " << plain.e2e.mean << " s without prefix caching, " << cached.e2e.mean << " s with");
  CHECK(plain.preemptions > 0);
  CHECK(cached.preemptions > 0);
  CHECK(cached.recompute_kept > 0.3);
  CHECK(cached.requests == 300);
  CHECK(cached.e2e.mean < plain.e2e.mean);
}

TEST_CASE("SGLang's longest-prefix-first policy finds more cached prefixes than first come, first served") {
  EngineBench b("sglang");
  CHECK(b.config.prefix_caching);
  CHECK(b.config.host.async_scheduling);
  b.config.gpu_memory_utilization = 0.27;  // static fraction: room for few of the prefixes
  b.config.traffic.rate = 30;
  b.config.traffic.prefix_groups = 48;
  b.config.traffic.prefix_tokens = 1536;
  b.config.traffic.prompt = {2048, 2048};
  const ServingResult fcfs = b.run();
  b.config.engine.admission = "lpm";
  const ServingResult lpm = b.run();
  MESSAGE("prefix hit rate: fcfs " << fcfs.prefix_hit_rate * 100 << "%, lpm " << lpm.prefix_hit_rate * 100 << "%");
  CHECK(lpm.prefix_hit_rate > fcfs.prefix_hit_rate);
}

TEST_CASE("TPOT leaves out one-token answers; ITL counts one latency per streamed chunk") {
  EngineBench b("generic");
  b.config.traffic.output = {1, 2};
  const ServingResult r = b.run();
  double sum = 0;
  int multi = 0;
  for (const RequestRecord& q : r.records) {
    if (q.output_tokens < 2) continue;
    sum += q.tpot();
    ++multi;
  }
  REQUIRE(multi > 0);
  REQUIRE(multi < 300);
  CHECK(r.tpot.mean == doctest::Approx(sum / multi));
  CHECK(r.tpot.mean > 0);
}

TEST_CASE("a closed-loop client keeps at most max_concurrency requests outstanding") {
  EngineBench b("vllm_v1");
  b.config.traffic.arrival = ArrivalProcess::kInstant;
  b.config.traffic.max_concurrency = 6;
  b.config.traffic.requests = 60;
  const ServingResult r = b.run();
  CHECK(r.requests == 60);
  CHECK(peak_outstanding(r) == 6);
  // Every request after the first six is sent when an earlier one is answered.
  int sent_on_answer = 0;
  for (std::size_t i = 6; i < r.records.size(); ++i) {
    for (const RequestRecord& q : r.records) sent_on_answer += q.finish == r.records[i].arrival ? 1 : 0;
  }
  CHECK(sent_on_answer >= 54);
}

TEST_CASE("an API server in the engine's process takes a burst in before the engine's first prefill") {
  EngineBench b("vllm_v0");
  b.config.traffic.arrival = ArrivalProcess::kInstant;
  b.config.traffic.requests = 100;
  b.config.traffic.prompt = {128, 128};
  const ServingResult blocking = b.run();
  double first = 1e9;
  for (const RequestRecord& q : blocking.records) first = std::min(first, q.ttft());
  // 100 requests at 2.4 ms each are taken in before any prefill starts.
  CHECK(first > 100 * kRequestIngestSeconds);
  b.config.host.frontend_blocks_engine = false;  // V1: a separate process
  const ServingResult separate = b.run();
  double earliest = 1e9;
  for (const RequestRecord& q : separate.records) earliest = std::min(earliest, q.first_token > 0 ? to_seconds(q.first_token) : 1e9);
  MESSAGE("earliest first token: " << first * 1e3 << " ms in-process, " << earliest * 1e3 << " ms from a separate API server");
  CHECK(earliest < first);
}

TEST_CASE("vLLM V1's API server streams the running requests' tokens first and takes a burst in between") {
  EngineBench b("vllm_v1");
  b.config.traffic.arrival = ArrivalProcess::kInstant;
  b.config.traffic.requests = 200;
  b.config.traffic.prompt = {128, 128};
  b.config.traffic.output = {64, 64};
  const auto last_first_token = [](const ServingResult& r) {
    Time last = 0;
    for (const RequestRecord& q : r.records) last = std::max(last, q.first_token);
    return to_seconds(last);
  };
  const ServingResult streaming = b.run();
  const double intake = 200 * kV1RequestIngestSeconds;  // the burst's intake, 1.6 s
  // The first request taken in decodes and finishes while the rest of the burst waits.
  const RequestRecord& first = streaming.records.front();
  CHECK(to_seconds(first.finish) < intake / 2);
  CHECK(first.tpot() < 0.02);
  CHECK(last_first_token(streaming) > intake);
  // Each chunk streamed while requests wait puts their intake off by its cost.
  b.config.host.chunk_seconds = 0;
  const ServingResult free_chunks = b.run();
  const double delay = last_first_token(streaming) - last_first_token(free_chunks);
  MESSAGE("last first token: " << last_first_token(streaming) << " s, " << last_first_token(free_chunks)
                               << " s with chunks free; the burst's intake alone " << intake << " s");
  CHECK(delay > 0.01);
}

TEST_CASE("a trace is replayed whole unless requests says otherwise") {
  const std::string trace_path = foresight::testing::scratch_path("foresight_trace_whole", "trace.csv");
  const std::string dir = std::filesystem::path(trace_path).parent_path().string();
  {
    std::ofstream trace(trace_path);
    trace << "arrived_at,num_prefill_tokens,num_decode_tokens\n";
    for (int i = 0; i < 1500; ++i) trace << i * 0.01 << ",64,4\n";
  }
  const std::string scenario = dir + "/scenario.json";
  std::ofstream(scenario) << R"({"model": "llama3_8b", "serving": {"traffic": {"trace": "trace.csv"}}})";
  CHECK(load_scenario(scenario, {}).serving.traffic.requests == 0);
  CHECK(make_requests(load_scenario(scenario, {}).serving.traffic, 1).size() == 1500);
  CHECK(make_requests(load_scenario(scenario, {"serving.traffic.requests=1000"}).serving.traffic, 1).size() == 1000);
}

TEST_CASE("GPU memory is counted in GiB, less what the driver keeps, as CUDA reports it") {
  // vLLM logs these totals (total_gpu_memory): 23.55-23.58 GiB on 24 GB parts, 47.50 GiB
  // on a 48 GB part, 79.11-79.33 GiB on 80 GB parts; the reservation's two figures were
  // set from the 24 and 80 GB ones.
  for (const auto& [gib, reported] : std::vector<std::pair<double, double>>{{24, 23.57}, {48, 47.50}, {80, 79.15}}) {
    const double usable = gib - default_memory_reserved_gib(gib);
    const double part_gib = gib;  // clang before 16 cannot capture a structured binding
    CAPTURE(part_gib);
    CHECK(std::fabs(usable / reported - 1) < 0.005);
  }
  CHECK(find_builtin_gpu("a100_sxm_40gb")->memory_bytes == 40 * kGiB);
}

TEST_CASE("SGLang cuts a long prompt at chunked_prefill_size and keeps prefill batches apart from decodes") {
  EngineBench b("sglang");
  CHECK(b.config.engine.chunk_prompts);
  b.config.max_batched_tokens = b.config.chunk_size = 1024;
  b.config.traffic.prompt = {4096, 4096};
  b.config.traffic.requests = 40;
  const ServingResult r = b.run(true);
  CHECK(r.requests == 40);
  int prefill_iterations = 0;
  for (const IterationRecord& it : r.iteration_log) {
    CHECK(it.prefill_tokens <= 1024);
    if (it.prefill_tokens > 0) {
      CHECK(it.decodes == 0);  // no mixed batches: decodes wait for the prefill batch
      ++prefill_iterations;
    }
  }
  CHECK(prefill_iterations == 40 * 4);  // every 4,096-token prompt in four 1,024-token chunks
}

// vLLM's and SGLang's --stream-interval: after the first token, a request's stream sends a
// chunk every n tokens, and the answer's last token at once. The API server then pays its
// per-chunk cost a tenth as often: vLLM's gpt-oss blog (2026-02) reports a 57% end-to-end
// gain at 1,024 concurrent requests from --stream-interval 10, where that cost bounds throughput.
TEST_CASE("stream_interval sends a chunk every n tokens: a tenth of the API server's per-chunk work, the same first and last tokens") {
  EngineBench b("vllm_v1");
  b.config.traffic.requests = 1;
  b.config.traffic.prompt = {512, 512};
  b.config.traffic.output = {101, 101};
  const ServingResult every_token = b.run();
  b.config.engine.stream_interval = 10;
  const ServingResult every_tenth = b.run();
  CHECK(every_tenth.ttft.mean == doctest::Approx(every_token.ttft.mean));
  CHECK(every_tenth.e2e.mean == doctest::Approx(every_token.e2e.mean).epsilon(0.01));
  CHECK(every_tenth.itl.mean == doctest::Approx(10 * every_token.itl.mean).epsilon(0.05));  // 10 chunks of 10 tokens

  // An API server that needs 300 us per chunk bounds 128 closed-loop streams; chunks of ten
  // tokens lift the bound.
  EngineBench busy("vllm_v1");
  busy.config.host.chunk_seconds = 300e-6;
  busy.config.traffic.arrival = ArrivalProcess::kInstant;
  busy.config.traffic.requests = 1024;
  busy.config.traffic.max_concurrency = 128;
  busy.config.traffic.prompt = {256, 256};
  busy.config.traffic.output = {128, 128};
  const ServingResult bound = busy.run();
  busy.config.engine.stream_interval = 10;
  const ServingResult relieved = busy.run();
  MESSAGE("300 us per chunk, 128 streams: " << bound.output_token_throughput << " output tokens/s chunk by token, " << relieved.output_token_throughput
                                            << " with chunks of 10");
  CHECK(relieved.output_token_throughput > 1.3 * bound.output_token_throughput);
}

TEST_CASE("an engine that schedules one step ahead admits a request arriving mid-iteration one iteration later") {
  // One long request decoding; a second arrives in the middle of its third iteration.
  // Synchronous, it joins the next iteration; planned ahead, the one after.
  for (const bool ahead : {false, true}) {
    EngineBench b("generic");
    b.config.host = HostCosts{};
    b.config.host.async_scheduling = ahead;
    IterationCostModel cost(b.model, b.gpu, b.fabric, b.config, b.roofline);
    std::vector<Request> requests(2);
    requests[0].prompt_tokens = 256;
    requests[0].output_tokens = 64;
    requests[1].prompt_tokens = 256;
    requests[1].output_tokens = 4;
    b.config.traffic.requests = 2;
    // The iterations of the first request alone: its prefill, then decodes.
    std::vector<Request> alone(requests.begin(), requests.begin() + 1);
    const ServingResult solo = simulate_serving(b.config, alone, cost, true);
    REQUIRE(solo.iteration_log.size() > 4);
    const IterationRecord& third = solo.iteration_log[2];
    requests[1].arrival = third.start + third.duration / 2;
    const ServingResult r = simulate_serving(b.config, requests, cost, true);
    const Time admitted = r.records[1].scheduled;
    const Time expected = ahead ? solo.iteration_log[4].start : solo.iteration_log[3].start;
    CAPTURE(ahead);
    CHECK(admitted == expected);
  }
}
