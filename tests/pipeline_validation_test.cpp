// Pipeline schedules against the zero-bubble paper's measurements (published-cases.md V2:
// Qi et al., ICLR'24, Table 3): pure pipeline parallelism on 8 A100 SXM 80GB of one node
// (NVLink), first and last stage one layer fewer. ZB-1p is the paper's automatic schedule
// at 1F1B's memory, which it says is close to ZB-H1; 1F1B-I is interleaved 1F1B with one
// layer per chunk; ZB-2p, the schedule at twice 1F1B's memory, is compared with ZB-H2.
// The 16- and 32-GPU rows run over RoCE, whose fabric the paper does not give in enough
// detail, and are left out.
//
// The paper names the models' shapes only. How it ran them comes from its repository
// (sail-sg/zero-bubble-pipeline-parallelism, examples/pretrain_zero_bubble.sh of the
// paper's time, whose defaults are the 6.2B row: PP = GPUs, 4 PP - 2 layers, hidden 4096,
// 32 heads, sequence 1024): fp16, Megatron's local transformer without --use-flash-attn
// (unfused attention, Megatron's default dropout 0.1), no recomputation, Megatron's
// unfused fp32 cross-entropy (no --cross-entropy-loss-fusion), the sample dataset's
// SentencePiece tokenizer of about 32,000 tokens. The paper's memory column confirms the
// attention: 1F1B's stage 1 peaks at 30 GB (1.5B) and 39 GB (6.2B), which stored score
// matrices give and flash attention (11 and 25 GB) does not. In the 1.5B model the fp32
// loss over 6,144 x 32,000 logits per micro-batch makes the last stage the slowest. That
// configuration was read from the repository after the rows had been compared (every row
// then came out 2-18% fast); no figure was set from them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "error_stats.hpp"
#include "models/roofline_model.hpp"
#include "validation_record.hpp"
#include "workloads/training_step.hpp"

using namespace foresight;

namespace {
struct PaperModel {
  const char* name;
  std::int64_t layers, heads, hidden, micro_batch;
};
struct Row {
  const PaperModel* model;
  std::int64_t m;
  double zb_2p, zb_1p, one_f_one_b, interleaved;  // samples per GPU per second
};
// The paper's peak memory per GPU in GB (ZB-2p / ZB-1p / 1F1B / 1F1B-I; the same at every m).
struct PeakMemory {
  const PaperModel* model;
  double zb_2p, zb_1p, one_f_one_b, interleaved;
};
const PaperModel k1_5B{"1.5B", 22, 24, 2304, 6};
const PaperModel k6_2B{"6.2B", 30, 32, 4096, 3};
const PeakMemory kMemory[] = {{&k1_5B, 59, 32, 30, 40}, {&k6_2B, 70, 42, 39, 48}};
const Row kRows[] = {
    {&k1_5B, 24, 14.5, 12.9, 11.8, 13.1}, {&k1_5B, 32, 14.8, 13.4, 12.5, 13.4}, {&k1_5B, 64, 14.9, 14.2, 13.6, 13.9},
    {&k6_2B, 24, 4.32, 3.88, 3.50, 4.01}, {&k6_2B, 32, 4.35, 4.00, 3.70, 4.08}, {&k6_2B, 64, 4.39, 4.20, 4.03, 4.19},
};

// GPT-style: LayerNorm, GELU MLP of 4h, learned positions, tied embeddings.
constexpr std::int64_t kSentencePieceVocab = 32000;

ModelArch gpt_model(const PaperModel& p) {
  ModelArch m = *find_builtin_model("gpt3_175b");
  m.name = p.name;
  m.layers = p.layers;
  m.heads = p.heads;
  m.kv_heads = p.heads;
  m.hidden = p.hidden;
  m.head_dim = p.hidden / p.heads;
  m.ffn_hidden = 4 * p.hidden;
  m.vocab = kSentencePieceVocab;
  return m;
}

struct Predicted {
  double rate;     // samples per GPU per second
  double peak_gb;  // the fullest stage's peak memory, 1e9 bytes
};

// One schedule on 8 stages.
Predicted predict(const PaperModel& p, std::int64_t m, const std::string& schedule) {
  const ModelArch model = gpt_model(p);
  const GpuSpec gpu = *find_builtin_gpu("a100_sxm_80gb");
  NodeFabric node;
  node.preset = "nvswitch_node";
  node.gpus = 8;
  node.bandwidth = gpu.scale_up_bandwidth;
  node.network = NetworkModel::kFlow;
  node.in_switch_reduction = false;
  TrainingConfig c;
  c.global_batch = m * p.micro_batch;
  c.micro_batch = p.micro_batch;
  c.sequence = 1024;
  c.tp = 1;
  c.dp = 1;
  c.pp = 8;
  c.schedule = schedule;
  c.attention = AttentionKernel::kUnfused;
  c.dropout = 0.1;
  c.fp32_cross_entropy = true;
  c.zero_stage = 0;
  if (schedule == "interleaved_1f1b") {
    c.virtual_stages = static_cast<int>((p.layers + 2) / 8);  // chunks of one layer; the first and last hold none
    c.first_stage_layers = 0;
    c.last_stage_layers = 0;
  } else {
    c.first_stage_layers = (p.layers + 2) / 8 - 1;  // 22 layers: 2, 3 x 6, 2
    c.last_stage_layers = (p.layers + 2) / 8 - 1;
  }
  const RooflineModel roofline{RooflineParameters{}};
  const TrainingResult r = TrainingStep(model, gpu, node, c, roofline).run();
  return {static_cast<double>(c.global_batch) / to_seconds(r.step_time) / 8, r.memory.total() / 1e9};
}
}  // namespace

TEST_CASE("pipeline schedules vs the zero-bubble paper on 8 A100 (V2)") {
  foresight::testing::ErrorStats absolute;
  foresight::testing::ValidationRecord record(
      "v2_zero_bubble_a100", "V2: pipeline schedules on 8 A100 (Qi et al. ICLR'24, Tables 3-4)",
      "Zero Bubble Pipeline Parallelism, Qi et al. ICLR'24 (shared/validation/published-cases.md V2)", "held out",
      "ampere / 16-bit", "samples/s per GPU");
  int ordered = 0, rows = 0;
  std::string table =
      "\nmodel  m    ZB-2p~zb_h2 pred/meas  ZB-1p~zb_h1 pred/meas  1F1B pred/meas    1F1B-I pred/meas   "
      "gain over 1F1B pred/meas: ZB-2p, ZB-1p, 1F1B-I\n";
  for (const Row& row : kRows) {
    const double zb2 = predict(*row.model, row.m, "zb_h2").rate;
    const double zb = predict(*row.model, row.m, "zb_h1").rate;
    const double one = predict(*row.model, row.m, "1f1b").rate;
    const double inter = predict(*row.model, row.m, "interleaved_1f1b").rate;
    absolute.add(zb2, row.zb_2p);
    absolute.add(zb, row.zb_1p);
    absolute.add(one, row.one_f_one_b);
    absolute.add(inter, row.interleaved);
    const std::string tag = std::string(row.model->name) + " m=" + std::to_string(row.m) + " ";
    record.add(tag + "ZB-2p (zb_h2)", zb2, row.zb_2p, 8);
    record.add(tag + "ZB-1p (zb_h1)", zb, row.zb_1p, 8);
    record.add(tag + "1F1B", one, row.one_f_one_b, 8);
    record.add(tag + "1F1B-I", inter, row.interleaved, 8);
    char line[260];
    std::snprintf(line, sizeof line,
                  "%-5s %3lld   %6.2f / %6.2f       %6.2f / %6.2f       %6.2f / %6.2f   %6.2f / %6.2f     %5.3f/%5.3f  %5.3f/%5.3f  %5.3f/%5.3f\n",
                  row.model->name, static_cast<long long>(row.m), zb2, row.zb_2p, zb, row.zb_1p, one, row.one_f_one_b, inter,
                  row.interleaved, zb2 / one, row.zb_2p / row.one_f_one_b, zb / one, row.zb_1p / row.one_f_one_b, inter / one,
                  row.interleaved / row.one_f_one_b);
    table += line;
    ++rows;
    if (zb2 > zb && zb > one && inter > one) ++ordered;
    // The gain over 1F1B, the paper's point: within 6 percentage points of the measured
    // for ZB-1p and 1F1B-I (the predicted gains are 0-5 points larger in every row).
    // ZB-2p's gain is 2-8 points smaller than measured: ZB-H2 is the hand-made cousin of
    // the paper's automatic ZB-2p, which times its own passes and fills the gaps that the
    // uneven B/W split of unfused attention and the heavier last stage leave; tolerance
    // 10 points.
    CHECK(std::fabs(zb2 / one - row.zb_2p / row.one_f_one_b) < 0.10);
    CHECK(std::fabs(zb / one - row.zb_1p / row.one_f_one_b) < 0.06);
    CHECK(std::fabs(inter / one - row.interleaved / row.one_f_one_b) < 0.06);
  }
  char summary[160];
  std::snprintf(summary, sizeof summary, "absolute throughput: MAPE %.1f%%, worst %.1f%% (roofline)\n", absolute.mape(),
                absolute.worst);
  table += summary;
  MESSAGE(table);
  record.write();
  // ZB-H2 beats ZB-H1, and both ZB-H1 and interleaving beat 1F1B, in every row, as measured.
  CHECK(ordered == rows);
  // No figure was set from these rows. Before the runs were modelled as the paper's
  // repository ran them (unfused attention, dropout, a 32k vocabulary, the fp32 loss)
  // every row came out 2-18% fast (MAPE 10.1%); now 3.1%, worst 6.9%, of both signs.
  // Tolerance 6% (MAPE), 10% (any row).
  CHECK(absolute.mape() < 6.0);
  CHECK(absolute.worst < 10.0);
}

TEST_CASE("peak memory per GPU vs the zero-bubble paper's on 8 A100 (V2)") {
  std::string table = "\nmodel  peak GB pred/meas: ZB-2p~zb_h2    ZB-1p~zb_h1    1F1B           1F1B-I\n";
  for (const PeakMemory& row : kMemory) {
    const double zb2 = predict(*row.model, 24, "zb_h2").peak_gb, zb = predict(*row.model, 24, "zb_h1").peak_gb;
    const double one = predict(*row.model, 24, "1f1b").peak_gb, inter = predict(*row.model, 24, "interleaved_1f1b").peak_gb;
    char line[200];
    std::snprintf(line, sizeof line, "%-5s  %5.1f / %4.0f   %5.1f / %4.0f   %5.1f / %4.0f   %5.1f / %4.0f\n", row.model->name, zb2, row.zb_2p, zb,
                  row.zb_1p, one, row.one_f_one_b, inter, row.interleaved);
    table += line;
    // 1F1B and 1F1B-I hold the micro-batches in flight that foresight's schedules hold:
    // within 10% (read as 1e9 bytes, today 3-6% above; as 2^30 bytes they would be
    // 10-14% above). ZB-H1 keeps what ZB-1p keeps, within 10% (today 2-3% below). ZB-H2
    // is printed only: the automatic ZB-2p holds more micro-batches (10% below today).
    CHECK(std::fabs(one / row.one_f_one_b - 1) < 0.10);
    CHECK(std::fabs(inter / row.interleaved - 1) < 0.10);
    CHECK(std::fabs(zb / row.zb_1p - 1) < 0.10);
  }
  MESSAGE(table);
}
