// Calibration (issue 6): the public measurements parse with clear errors, the learned
// predictor fits deterministically and meets its held-out error targets, models and
// calibration profiles round-trip through JSON and bad files are rejected with the file
// and JSON path, and the `learned` and `profile` cost models time ops as documented in
// docs/calibration.md. Data: calibration/data (NeuSight, ASPLOS'25, and Vidur, MLSys'24; MIT).
#include <doctest/doctest.h>

#include <algorithm>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "calibration/calibrated_cost_models.hpp"
#include "calibration/layer_validation.hpp"
#include "calibration/learned_cost_model.hpp"
#include "calibration/model_scoring.hpp"
#include "calibration/predictor_evaluation.hpp"
#include "calibration/profile_cost_model.hpp"
#include "calibration/public_measurements.hpp"
#include "models/transformer_ops.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight;
using foresight::testing::run_cli;
using foresight::testing::public_data_path;
using foresight::testing::source_path;

namespace {
// Sanitized builds run the cheap cases; the full fits and evaluations run in release.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

const MeasuredKernels& public_kernels() {
  static const MeasuredKernels kernels = load_public_measurements(public_data_path(""));
  return kernels;
}

// Every `stride`-th sample: enough to exercise fitting without its full cost.
std::vector<KernelSample> every(std::size_t stride) {
  std::vector<KernelSample> some;
  for (std::size_t i = 0; i < public_kernels().samples.size(); i += stride) some.push_back(public_kernels().samples[i]);
  return some;
}

std::string message_of(const std::function<void()>& load) {
  try {
    load();
  } catch (const InputError& e) {
    std::string text;
    for (const Problem& p : e.problems()) text += format_problem(p) + "\n";
    return text;
  }
  return "";
}

Op bf16_gemm(std::int64_t m, std::int64_t n, std::int64_t k) { return gemm_op("gemm", {m, n, k, 1}, Dtype::kBf16, Phase::kForward); }

// A small H100 profile: bf16 GEMMs of 4096 x 4096 x k at five k, 2.5 us launch.
CalibrationProfile small_profile() {
  CalibrationProfile p;
  p.device.gpu = "h100_sxm";
  p.gpu = *find_builtin_gpu("h100_sxm");
  for (std::int64_t k : {512, 1024, 2048, 4096, 8192}) {
    const double seconds = 2 * 4096.0 * 4096.0 * static_cast<double>(k) / 600e12 + 8e-6;  // 600 TFLOP/s plus 8 us
    p.kernels.push_back({bf16_gemm(4096, 4096, k), {seconds, seconds * 0.98, seconds * 1.03, 20}});
  }
  p.launch = {2.5e-6, 2.4e-6, 2.7e-6, 100};
  return p;
}

}  // namespace

TEST_CASE("public measurement files load, and bad ones name the file, line and column") {
  const MeasuredKernels& k = public_kernels();
  CHECK(k.devices.size() == 15);  // NeuSight's 12 configs and Vidur's H100, A100 and A40
  int families[3] = {};
  for (const KernelSample& s : k.samples) ++families[static_cast<int>(*family_of(s.op.kind))];
  CHECK(families[0] == 46771);  // NeuSight linear + bmm (21,715) and Vidur's projections
  CHECK(families[1] == 14658);  // Vidur's FlashAttention prefill and decode on A100
  CHECK(families[2] == 36944);  // NeuSight elementwise, layer-norm, softmax and Vidur's norms, rope, activation, residual
  CHECK(k.devices.at("NVIDIA H100 80GB HBM3").sm_count == 132);
  CHECK(message_of([] { load_neusight_gemms(source_path("tests/data/bad/gemm_missing_k.csv")); }).find("line 1: no column \"K\"") !=
        std::string::npos);
  CHECK(message_of([] { load_neusight_gemms(source_path("tests/data/bad/gemm_bad_latency.csv")); })
            .find("line 2, column Latency: expected a positive number") != std::string::npos);
  CHECK(message_of([] { load_neusight_devices(source_path("tests/data/bad/devices")); }).find("Num_Sm: expected a positive number") !=
        std::string::npos);
}

TEST_CASE("fitting twice on the same samples gives the same model") {
  const auto samples = every(kSanitized ? 97 : 13);
  BoostingOptions options;
  options.trees = kSanitized ? 20 : 100;
  KernelPredictor a, b;
  a.fit(samples, public_kernels().devices, options);
  b.fit(samples, public_kernels().devices, options);
  CHECK(a.to_json() == b.to_json());
}

TEST_CASE("held-out error per op family meets issue 6's targets, far better than the baseline; per source it does not") {
  if (kSanitized) return;
  const auto errors = evaluate_kernel_predictor(public_kernels(), {"H100"}, {}, true);
  MESSAGE("\n" << format_predictor_errors(errors));
  const auto find = [&errors](KernelFamily family, const std::string& evaluation) -> const PredictorError& {
    const auto at = std::find_if(errors.begin(), errors.end(), [&](const PredictorError& e) { return e.family == family && e.evaluation == evaluation; });
    REQUIRE_MESSAGE(at != errors.end(), evaluation);
    return *at;
  };
  // gemm and memory: same devices, without H100, without each source; attention: A100 only.
  REQUIRE(errors.size() == 9);
  // Targets: same devices under 8% (GEMM: measured 6.5%; attention: 4.1%) and under 12%
  // for memory-bound ops (6.4%); an unseen GPU under 15% for GEMMs (H100: 13.9%).
  for (const char* evaluation : {"same devices, held-out shapes", "leave out H100"}) {
    CHECK(find(KernelFamily::kGemm, evaluation).mape < find(KernelFamily::kGemm, evaluation).baseline_mape);
    CHECK(find(KernelFamily::kMemory, evaluation).mape < find(KernelFamily::kMemory, evaluation).baseline_mape);
  }
  CHECK(find(KernelFamily::kGemm, "same devices, held-out shapes").mape < 8);
  CHECK(find(KernelFamily::kGemm, "leave out H100").mape < 15);
  CHECK(find(KernelFamily::kAttention, "same devices, held-out shapes").mape < 8);
  CHECK(find(KernelFamily::kMemory, "same devices, held-out shapes").mape < 12);
  // An unseen source is another matter (2026-11-30): fitted on Vidur's fp16 alone, NeuSight's
  // fp32 GEMMs come within 24.4% (the baseline: 36.1%); fitted on NeuSight's fp32 alone,
  // Vidur's fp16 GEMMs are off by 50.6%, twice the baseline's 23.3%, and its fp16
  // memory-bound ops by 41.4% (38.6%). The correction learned on one dtype and harness does
  // not carry to another; these bounds hold it to what it reaches.
  CHECK(find(KernelFamily::kGemm, "leave out source neusight").mape < 29);
  CHECK(find(KernelFamily::kGemm, "leave out source vidur").mape < 60);
  CHECK(find(KernelFamily::kMemory, "leave out source neusight").mape < 21);
  CHECK(find(KernelFamily::kMemory, "leave out source vidur").mape < 50);
}

TEST_CASE("a saved model predicts what the fitted one does; damaged model files are rejected with the path") {
  BoostingOptions options;
  options.trees = 30;
  KernelPredictor fitted;
  fitted.fit(every(41), public_kernels().devices, options);
  const nlohmann::json saved = fitted.to_json();
  const KernelPredictor loaded = KernelPredictor::from_json(parse_json_text(saved.dump(), "model.json"), "model.json");
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");
  for (const Op& op : {bf16_gemm(1, 8192, 8192), bf16_gemm(8192, 28672, 8192),
                       prefill_attention_op(1, 32, 8, 128, 2048, 0, Dtype::kBf16)}) {
    CHECK(loaded.predict(op, h100) == fitted.predict(op, h100));
  }
  CHECK(message_of([] { KernelPredictor::from_json({{"format", "x"}}, "m.json"); }).find("m.json: format: expected \"foresight.kernel-model.v1\"") !=
        std::string::npos);
  nlohmann::json renamed = saved;
  renamed["families"]["gemm"]["features"][0] = "log flop";
  CHECK(message_of([&] { KernelPredictor::from_json(renamed, "m.json"); }).find("families.gemm.features: the model was fitted on other features") !=
        std::string::npos);
  nlohmann::json looped = saved;
  looped["families"]["memory"]["correction"]["trees"][0][0][2] = 0;  // the root's left child: the root itself
  CHECK(message_of([&] { KernelPredictor::from_json(looped, "m.json"); }).find("families.memory: malformed: a node's children do not lie after it") !=
        std::string::npos);
}

TEST_CASE("profiles round-trip through JSON, and a bad one reports every problem with its JSON path") {
  const CalibrationProfile p = small_profile();
  const CalibrationProfile back = read_profile(profile_to_json(p), "p.json");
  REQUIRE(back.kernels.size() == p.kernels.size());
  CHECK(back.kernels[2].op.flops == p.kernels[2].op.flops);
  CHECK(back.kernels[2].time.p90 == doctest::Approx(p.kernels[2].time.p90));
  CHECK(back.launch.median == doctest::Approx(2.5e-6));
  CHECK(back.gpu.name == "h100_sxm");
  const std::string bad = source_path("tests/data/bad/profile_problems.json");
  const std::string message = message_of([&] { load_profile(bad); });
  MESSAGE(message);
  for (const char* expected : {"profile_problems.json: format: ", "device.gpu: ", "device.sms: ", "measurements[0].k: is required",
                               "measurements[1].kv_len: expected kv_len >= q_len", "measurements[2].kind: ", "measurements[3].dtype: ",
                               "measurements[3].median_us: ", "measurements[4].median_us: expected p10_us <= median_us <= p90_us",
                               "measurements[5].op: ", "measurements[6].samples[0].tflops: is required"}) {
    CHECK_MESSAGE(message.find(expected) != std::string::npos, expected);
  }
  CHECK(message.find("measurements[0].median_us") == std::string::npos);  // a missing k spoils nothing else
  CHECK(message.find("measurements[5].dtype") == std::string::npos);      // nor does an unknown op
  CHECK(message_of([] { load_profile(source_path("tests/data/bad/not_an_object.json")); }).find("expected a JSON object") != std::string::npos);
}

TEST_CASE("the profile model gives a measured shape its measurement and interpolates between shapes") {
  const CalibrationProfile p = small_profile();
  const GpuSpec& h100 = p.gpu;
  const ProfileCostModel model(p, h100, without_launch_gap(), 4);
  const CostEstimate measured = model.estimate(bf16_gemm(4096, 4096, 2048), h100);
  CHECK(to_seconds(measured.duration) == doctest::Approx(p.kernels[2].time.median).epsilon(1e-6));
  CHECK(measured.model == "profile");
  CHECK(measured.out_of_range == 0);
  // Between k = 2048 and 4096 the ratio to the baseline is between theirs.
  const double between = to_seconds(model.estimate(bf16_gemm(4096, 4096, 3072), h100).duration);
  CHECK(between > p.kernels[2].time.median);
  CHECK(between < p.kernels[3].time.median);
  // Far outside the measured k range: timed, and flagged.
  const CostEstimate far = model.estimate(bf16_gemm(4096, 4096, 65536), h100);
  CHECK(far.out_of_range > 0);
  CHECK(far.out_of_range_feature == "log k");
  // Nothing measured for attention: the roofline times it.
  CHECK(model.estimate(prefill_attention_op(1, 32, 8, 128, 2048, 0, Dtype::kBf16), h100).model == "roofline");
}

TEST_CASE("the learned model: the shipped model times GEMMs, attention and memory-bound ops") {
  const auto predictor = load_kernel_model(shipped_kernel_model_path());
  for (KernelFamily family : kKernelFamilies) CHECK(predictor->covers(family));
  const LearnedCostModel model(predictor, without_launch_gap());
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");
  const Op gemm = bf16_gemm(4096, 28672, 8192);
  const CostEstimate first = model.estimate(gemm, h100);
  CHECK(first.model == "learned");
  CHECK(model.estimate(gemm, h100).duration == first.duration);  // the cache answers the same
  // Within the bounded correction of the baseline.
  const double baseline = kernel_baseline(gemm, h100).seconds();
  CHECK(to_seconds(first.duration) >= baseline / 4);
  CHECK(to_seconds(first.duration) <= baseline * 4);
  // Attention was measured on A100 only: an H100 lies beyond the range of peak FLOP/s.
  const CostEstimate attention = model.estimate(prefill_attention_op(1, 32, 8, 128, 2048, 0, Dtype::kBf16), h100);
  CHECK(attention.model == "learned");
  CHECK(attention.out_of_range > 0);
  CHECK(attention.out_of_range_feature == "log peak flops");
}

TEST_CASE("the learned model leaves families it was not fitted on to the roofline") {
  std::vector<KernelSample> gemms;
  for (const KernelSample& s : every(29)) {
    if (s.op.kind == OpClass::kGemm) gemms.push_back(s);
  }
  BoostingOptions options;
  options.trees = 10;
  auto predictor = std::make_shared<KernelPredictor>();
  predictor->fit(gemms, public_kernels().devices, options);
  const LearnedCostModel model(predictor, without_launch_gap());
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");
  CHECK(model.estimate(bf16_gemm(1024, 1024, 1024), h100).model == "learned");
  CHECK(model.estimate(prefill_attention_op(1, 32, 8, 128, 2048, 0, Dtype::kBf16), h100).model == "roofline");
}

TEST_CASE("the shipped model is what foresight fit makes from calibration/data") {
  if (kSanitized) return;
  KernelPredictor fresh;
  fresh.fit(public_kernels().samples, public_kernels().devices);
  const bool same = fresh.to_json() == load_json_file(shipped_kernel_model_path());
  CHECK_MESSAGE(same, "refit it: foresight fit --out calibration/models/kernels.json");
}

TEST_CASE("a profile converted from public H100 measurements times a training step with the profile model") {
  if (kSanitized) return;
  const std::string profile = (std::filesystem::temp_directory_path() / "foresight_h100_public.json").string();
  const auto converted = run_cli({"calibrate", "--from-public", "h100_sxm", "--data", public_data_path(""), "--out", profile});
  REQUIRE(converted.status == 0);
  CHECK(load_profile(profile).kernels.size() == 18792);  // Vidur: 2 models x 1,044 rows x 9 ops
  const auto run = run_cli({"run", "--set", "cost_model.name=profile", "--set", "cost_model.profile=" + profile});
  REQUIRE(run.status == 0);
  CHECK(run.out.find("gemm         profile") != std::string::npos);
  CHECK(run.out.find("attention    roofline") != std::string::npos);  // Vidur measured no H100 attention
  std::filesystem::remove(profile);
}

TEST_CASE("a measured layer is predicted from the same op list the GPU ran") {
  // A profile whose kernels are the layer's ops, each at its roofline time plus 10%, and
  // whose layer took their sum plus a 2 us gap per kernel: the profile model, given that
  // gap, predicts the layer exactly (to integer picoseconds).
  const ModelArch& model = *find_builtin_model("llama2_7b");
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");
  const RooflineModel roofline(without_launch_gap());
  CalibrationProfile p;
  p.device.gpu = "h100_sxm";
  p.gpu = h100;
  double layer_seconds = 0;
  const std::vector<Op> ops = measured_layer_ops(model, 2048, 1);
  for (const Op& op : ops) {
    const double seconds = 1.1 * to_seconds(roofline.estimate(op, h100).duration);
    p.kernels.push_back({op, {seconds, seconds, seconds, 1}});
    layer_seconds += seconds + 2e-6;
  }
  p.layers.push_back({"llama2_7b", 2048, 1, "forward", "unfused", {layer_seconds, layer_seconds, layer_seconds, 10}});
  const CalibrationProfile back = read_profile(profile_to_json(p), "p.json");  // the layer entry round-trips
  REQUIRE(back.layers.size() == 1);
  CHECK(back.layers[0].tokens == 2048);
  RooflineParameters gap;
  gap.launch_seconds = 2e-6;
  const ProfileCostModel profile(back, h100, gap, 4);
  CHECK(ops.size() == 13);  // norm, QKV, rope, QK^T, softmax, PV, out, residual, norm, gate/up, act, down, residual
  CHECK(predict_layer(back.layers[0], profile, h100) == doctest::Approx(back.layers[0].time.median).epsilon(1e-6));
}

TEST_CASE("measured layers in the shipped profiles against the simulator's prediction") {
  // Source: profiles written by `foresight calibrate` on a real GPU (calibration/profiles/).
  // Tolerance: 15% for the profile model, which interpolates between the profile's own
  // kernel measurements; the learned model's error is printed beside it.
  int layers = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("calibration/profiles"))) {
    if (entry.path().extension() != ".json") continue;
    const CalibrationProfile p = load_profile(entry.path().string());
    const ProfileCostModel profile(p, p.gpu, RooflineParameters{}, 4);
    const LearnedCostModel learned(load_kernel_model(shipped_kernel_model_path()), RooflineParameters{});
    for (const LayerMeasurement& layer : p.layers) {
      const double measured = layer.time.median, by_profile = predict_layer(layer, profile, p.gpu), by_learned = predict_layer(layer, learned, p.gpu);
      MESSAGE(p.device.name << " " << layer.model << " " << layer.tokens << " tokens: measured " << measured * 1e3 << " ms, profile model "
                            << by_profile * 1e3 << " ms (" << (by_profile / measured - 1) * 100 << "%), learned " << by_learned * 1e3 << " ms ("
                            << (by_learned / measured - 1) * 100 << "%)");
      CHECK(std::fabs(by_profile / measured - 1) < 0.15);
      ++layers;
    }
  }
  CHECK(layers >= 3);  // the H200's
}

// The H200 calibrated on 2026-11-30 (calibration/runs/2026-11-30-h200/README.md): the
// profile foresight calibrate wrote, and 340 random shapes measured apart from it.
namespace {
const CalibrationProfile& h200_profile() {
  static const CalibrationProfile p = load_profile(source_path("calibration/profiles/h200_sxm.json"));
  return p;
}
}  // namespace

TEST_CASE("the H200 profile: measured on a real GPU, read strictly, with the device and software it ran on") {
  const CalibrationProfile& p = h200_profile();
  CHECK(p.device.gpu == "h200_sxm");
  CHECK(p.device.name == "NVIDIA H200");
  CHECK(p.device.sms == 132);
  CHECK(p.device.driver == "580.159.04");
  CHECK(p.device.cuda == "13.0");
  CHECK(p.device.cublas == "13.1");
  CHECK(p.device.power_limit_w == 700);
  std::map<std::string, int> groups;
  int clocked = 0;
  for (const ProfileKernel& k : p.kernels) {
    ++groups[kernel_group(k.op)];
    clocked += k.sm_clock_mhz > 0;
  }
  for (const char* group : {"gemm bf16", "gemm fp8", "gemm fp16", "gemm tf32", "gemm bf16 batched", "decode attention bf16",
                            "prefill attention fwd bf16", "prefill attention bwd bf16", "elementwise bf16", "norm bf16", "softmax bf16"}) {
    CHECK_MESSAGE(groups[group] > 0, group);
  }
  CHECK(clocked >= 3600);  // our kernels record the SM clock; PyTorch's attention does not
  CHECK(p.layers.size() == 3);
  CHECK(p.sustained.size() == 2);
  CHECK(p.host_copies.size() == 28);
  CHECK(p.launch.median > 0);
  const CalibrationProfile back = read_profile(profile_to_json(p), "back.json");  // the new fields round-trip
  REQUIRE(back.sustained.size() == 2);
  CHECK(back.sustained[1].samples.size() == p.sustained[1].samples.size());
  CHECK(back.sustained[1].sm_clock_mhz_settled == p.sustained[1].sm_clock_mhz_settled);
  CHECK(back.kernels[0].sm_clock_mhz == p.kernels[0].sm_clock_mhz);
  CHECK(back.layers[0].sm_clock_mhz == p.layers[0].sm_clock_mhz);
  CHECK(back.device.power_limit_w == 700);
}

TEST_CASE("H200 held-out kernels: the profile model on shapes it never saw, beside the roofline") {
  // Source: calibration/heldout/h200_sxm.json, 340 shapes drawn at random off the sweep's
  // grid (foresight-kernels --only holdout), measured in a separate run. Tolerance: the
  // profile model's mean absolute error per group, set about a third above what it
  // scored on 2026-11-30 (gemm bf16 10.5%, fp8 16.2%, fp16 16.5%, tf32 14.6%, decode
  // attention 18.0%, elementwise 6.4%, norm 19.0%, softmax 15.2%), and better than the
  // roofline in every group but the GEMMs, where the roofline's Hopper curves (fitted to the
  // profile's sweep, the memory-streaming one since issue 15) come within 3 points of it or
  // beat it (fp16 14.0% vs 16.5%, fp8 13.4% vs 16.2%).
  const CalibrationProfile held_out = load_profile(source_path("calibration/heldout/h200_sxm.json"));
  const RooflineModel roofline(without_launch_gap());
  const ProfileCostModel profile(h200_profile(), h200_profile().gpu, without_launch_gap(), 4);
  const std::vector<NamedModel> models = {{"roofline", &roofline}, {"profile", &profile}};
  const std::vector<GroupScore> scores = score_cost_models(models, held_out);
  MESSAGE("\n" << format_group_scores(models, scores));
  foresight::testing::ValidationRecord record(
      "kernels_h200_heldout", "H200 kernels at 340 random shapes kept out of the profile",
      "our H200 calibration (calibration/heldout/h200_sxm.json)",
      "held out (the roofline's GEMM and attention figures were fitted to the profile's sweep, not these)", "kernels",
      "kernel time");
  record.summary_columns("median signed error", "p90 |error|");
  for (const GroupScore& g : scores) {
    for (std::size_t m = 0; m < models.size(); ++m) {
      const ModelScore& s = g.by_model[m];
      record.add_summary(g.group + ", " + models[m].name, g.rows, s.mape, s.median_error, s.p90);
    }
  }
  record.write();
  const std::map<std::string, double> tolerance = {{"gemm bf16", 14},        {"gemm fp8", 22},         {"gemm fp16", 22},
                                                   {"gemm tf32", 20},        {"decode attention bf16", 24}, {"elementwise bf16", 9},
                                                   {"norm bf16", 25},        {"softmax bf16", 20}};
  CHECK(scores.size() == tolerance.size());
  for (const GroupScore& g : scores) {
    REQUIRE(tolerance.count(g.group) == 1);
    CHECK_MESSAGE(g.by_model[1].mape < tolerance.at(g.group), g.group);
    const bool gemm = g.group.rfind("gemm", 0) == 0;
    CHECK_MESSAGE(g.by_model[1].mape < g.by_model[0].mape + (gemm ? 3.0 : 0.0), g.group);
  }
}

TEST_CASE("H200 sustained tensor throughput: the datasheet peak scaled by the power-limited clock") {
  // Source: the profile's two sustained runs, one 8192^3 GEMM back to back for 10 s at
  // the card's 700 W limit. Physics checked: the clock settles below the 1,980 MHz boost
  // with the board at its power limit, and the rate is the datasheet peak (quoted at the
  // 1,830 MHz tensor clock, H100 whitepaper table 3) scaled to that clock, times an
  // efficiency of 80-90% (measured: bf16 84%, fp8 85%). The roofline, with the catalog's
  // sustained clocks and its GEMM fit on the profile's sweep (not these runs), predicts
  // both within 6%.
  const CalibrationProfile& p = h200_profile();
  const GpuSpec& catalog = *find_builtin_gpu("h200_sxm");
  RooflineParameters no_gap;
  no_gap.launch_seconds = 0;
  const RooflineModel roofline(no_gap);
  foresight::testing::ValidationRecord record(
      "kernels_h200_sustained", "Sustained 8192^3 GEMMs on the H200 at its 700 W limit",
      "our H200 calibration (calibration/profiles/h200_sxm.json, sustained runs)", "fitting (the catalog's sustained clocks)",
      "kernels", "TFLOP/s");
  for (const SustainedMeasurement& s : p.sustained) {
    const double peak = p.gpu.peak(s.dtype) / 1e12;
    const double at_clock = peak * s.sm_clock_mhz_settled / catalog.clocks.tensor_clock_mhz;
    Op op = gemm_op("sustained", {s.m, s.n, s.k, 1}, s.dtype, Phase::kForward);
    if (s.dtype == Dtype::kFp8) use_fp8_operands(op);
    const double predicted = op.flops / to_seconds(roofline.estimate(op, catalog).duration) / 1e12;
    MESSAGE(dtype_name(s.dtype) << ": predicted " << predicted << " TFLOP/s sustained, measured " << s.tflops_settled);
    record.add(std::string(dtype_name(s.dtype)) + " 8192^3", predicted, s.tflops_settled, 1);
    CHECK(std::abs(predicted / s.tflops_settled - 1) < 0.06);
    MESSAGE(dtype_name(s.dtype) << ": " << s.tflops_settled << " TFLOP/s settled (" << s.tflops_start << " in the first 0.25 s), SM clock "
                                << s.sm_clock_mhz_settled << " MHz at " << s.power_w_settled << " W; datasheet " << peak << " TFLOP/s, "
                                << at_clock << " at that clock");
    CHECK(s.sm_clock_mhz_settled < 0.8 * p.device.sm_clock_mhz);
    CHECK(s.power_w_settled > 0.95 * p.device.power_limit_w);
    CHECK(s.tflops_settled / at_clock > 0.80);
    CHECK(s.tflops_settled / at_clock < 0.90);
    REQUIRE(s.samples.size() >= 20);
  }
  record.write();
}

TEST_CASE("foresight fit --score: every model on the H200's held-out kernels and measured layers") {
  if (kSanitized) return;
  const auto r = run_cli({"fit", "--data", public_data_path(""), "--profile", source_path("calibration/profiles/h200_sxm.json"), "--score",
                          source_path("calibration/heldout/h200_sxm.json"), "--score", source_path("calibration/profiles/h200_sxm.json")});
  REQUIRE(r.status == 0);
  MESSAGE(r.out);
  for (const char* expected : {"| roofline", "| learned (shipped)", "| learned (fitted here)", "| profile h200_sxm.json", "gemm fp8",
                               "decode attention bf16", "llama2_7b        2048 tokens"}) {
    CHECK_MESSAGE(r.out.find(expected) != std::string::npos, expected);
  }
}
