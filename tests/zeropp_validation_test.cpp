// ZeRO++'s published ratios (Wang et al., "ZeRO++: Extremely Efficient Collective
// Communication for Giant Model Training", arXiv 2306.10209) on the shipped scenario of its
// setting (scenarios/zeropp_gpt18b_v100.json: an 18B GPT under ZeRO-3 on 384 V100 in DGX-2
// nodes, 2K tokens per GPU). Held out: no figure of foresight was set from the paper.
//
// - Section 4.2 and the abstract: ZeRO++ runs up to 2.16x faster than ZeRO-3 at 384 GPUs on
//   the low-bandwidth cluster (one 100 Gb/s link per node). Tolerance 25%: the paper's
//   "up to" spans its models and batch sizes, and the V100 runs the generic curves.
// - Section 4.3 (Figure 7): ZeRO++ on 200 Gb/s a node reaches 41.6% of peak where ZeRO-3 on
//   800 Gb/s reaches 39.1% for the 18B model: 1.064x. Tolerance 10% on the ratio; the GPU
//   count of that figure is assumed to be the 384 of Section 4.2.
// - Section 4.4 (Figure 10): each part alone speeds ZeRO-3 up 1.26-1.4x. Checked: each part
//   alone between 1.1x and 1.6x at the low bandwidth. The paper's parts compose (1.4 x 1.26
//   x 1.3 = 2.29x against 2.26x measured together); foresight's do not, since once the
//   exchanges hide behind compute nothing more is gained (docs/training.md, "ZeRO++").
// The figures are quoted from the paper's text as a public review of it reports them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight::testing;

namespace {
const std::vector<std::string> kZeroPlusPlus = {"training.parallel.zero_quantized_weights=true",
                                                "training.parallel.zero_hpz_partition_size=16",
                                                "training.parallel.zero_quantized_gradients=true"};

double tokens_per_gpu(std::vector<std::string> sets, double nic_gbps) {
  sets.push_back("hardware.topology.scale_out.nic_gbps=" + std::to_string(nic_gbps));
  return run_scenario(source_path("scenarios/zeropp_gpt18b_v100.json"), sets)["tokens_per_second_per_gpu"];
}
}  // namespace

TEST_CASE("ZeRO++ against ZeRO-3 on 384 V100, held out: the paper's speed-ups") {
  const double one_link = 100.0 / 8 / 16;  // GB/s per GPU: one 100 Gb/s link for a node's 16 GPUs
  const double zero3 = tokens_per_gpu({}, one_link);
  const double zeropp = tokens_per_gpu(kZeroPlusPlus, one_link);
  const double speedup = zeropp / zero3;
  ValidationRecord record("zeropp_ratios", "ZeRO++ against ZeRO-3: the paper's speed-ups (Wang et al. 2023)",
                          "arXiv 2306.10209 Sections 4.2-4.4 (scenarios/zeropp_gpt18b_v100.json)", "held out", "ratio",
                          "speed-up (x)");
  record.add("ZeRO++ / ZeRO-3 at 100 Gb/s a node (up to)", speedup, 2.16, 384);
  MESSAGE("ZeRO++ over ZeRO-3 at 100 Gb/s a node: predicted " << speedup << "x, published up to 2.16x");
  CHECK(speedup > 2.16 * 0.75);
  CHECK(speedup < 2.16 * 1.25);

  const double zeropp_200 = tokens_per_gpu(kZeroPlusPlus, 2 * one_link);
  const double zero3_800 = tokens_per_gpu({}, 8 * one_link);
  const double democratized = zeropp_200 / zero3_800;
  MESSAGE("ZeRO++ at 200 Gb/s over ZeRO-3 at 800 Gb/s: predicted " << democratized << "x, published 41.6 / 39.1 = 1.064x");
  CHECK(democratized > 1.064 * 0.9);
  CHECK(democratized < 1.064 * 1.1);
  record.add("ZeRO++ at 200 Gb/s / ZeRO-3 at 800 Gb/s", democratized, 41.6 / 39.1, 384);

  for (const std::string& part : kZeroPlusPlus) {
    const double alone = tokens_per_gpu({part}, one_link) / zero3;
    MESSAGE(part << " alone: " << alone << "x (published 1.26-1.4x)");
    CHECK(alone > 1.1);
    CHECK(alone < 1.6);
  }
  record.write();
}
