// Fused attention's FLOP rate by head dim against measured kernels: the FlashAttention-3
// paper's H100 forward benchmarks (FA2, cuDNN and FA3; Shah et al. 2024, Fig. 5, non-causal,
// batch x sequence 16k, heads x head dim 2,048) and cuDNN-frontend's measured cuDNN 9.27
// causal prefill on an H200 and a B200 (NVIDIA/cudnn-frontend
// benchmark/attention_inference/results, prefill_sweep and gpt_oss; Apache-2.0). Both are in
// calibration/data/attention. Every catalog attention fraction was measured at head dim 128,
// so the rows compare rates relative to 128 on the same GPU, kernel and run: clock- and
// version-free. Held out: no figure was set from them; the exponential's cost per score
// comes from the special-function units' documented rate.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <string>
#include <tuple>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "models/roofline_model.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight;
using foresight::testing::ErrorStats;

namespace {
struct Measured {
  std::string gpu, kernel;
  std::int64_t head_dim = 0;
  double tflops = 0;
};

Op forward_attention(std::int64_t head_dim, bool warp_specialized) {
  Op op;
  op.kind = OpClass::kAttention;
  op.phase = Phase::kForward;
  op.flops = 1e12;
  op.attention.head_dim = head_dim;
  op.attention.warp_specialized = warp_specialized;
  return op;
}

// Rows keyed by source, GPU, kernel, head-count family and point (the 8k row or the longest),
// so that each row other than head dim 128 meets its own run's 128.
using RunKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;

struct RatioErrors {
  ErrorStats modeled, flat;  // this model, and one whose rate does not depend on head dim
};
}  // namespace

TEST_CASE("attention's FLOP rate by head dim against measured FA2, FA3 and cuDNN kernels on H100, H200 and B200") {
  const auto table = foresight::testing::read_csv(foresight::testing::public_data_path("attention/attention_head_dim.csv"));
  REQUIRE_MESSAGE(table.rows.size() == 34, "calibration/data/attention/attention_head_dim.csv is part of the repository");
  std::map<RunKey, Measured> reference;
  std::vector<std::pair<RunKey, Measured>> others;
  for (const auto& row : table.rows) {
    const auto field = [&](const char* name) { return row[table.column(name)]; };
    const RunKey key{field("source"), field("gpu"), field("kernel"), field("family"), field("point")};
    const Measured m{field("gpu"), field("kernel"), std::stoll(field("head_dim")), table.number(row, "tflops")};
    if (m.head_dim == 128) reference[key] = m;
    else others.emplace_back(key, m);
  }
  foresight::testing::ValidationRecord record(
      "kernels_attention_head_dim", "Fused attention: FLOP rate at head dim 64 and 256 over 128, measured beside modeled",
      "FlashAttention-3 paper Fig. 5 (H100); cuDNN-frontend cuDNN 9.27 prefill (H200, B200) (calibration/data/attention)",
      "held out", "kernels", "rate over head dim 128");
  const RooflineModel roofline{RooflineParameters{}};
  std::map<std::int64_t, RatioErrors> by_head_dim;
  std::string lines = "source               gpu       kernel  head dim  point  measured  modeled  error   (rate over head dim 128)\n";
  for (const auto& [key, m] : others) {
    REQUIRE(reference.contains(key));
    const GpuSpec& gpu = *find_builtin_gpu(m.gpu);
    const double measured = m.tflops / reference[key].tflops;
    const double modeled = roofline.attention_head_dim_share(forward_attention(m.head_dim, m.kernel != "fa2"), gpu);
    const double error = by_head_dim[m.head_dim].modeled.add(modeled, measured);
    by_head_dim[m.head_dim].flat.add(1.0, measured);
    record.add(std::get<0>(key) + " " + m.gpu + " " + m.kernel + " d" + std::to_string(m.head_dim) + " point " + std::get<4>(key),
               modeled, measured);
    char line[200];
    std::snprintf(line, sizeof line, "%-20s %-9s %-7s %8lld  %5s  %8.3f  %7.3f  %+5.1f%%\n", std::get<0>(key).c_str(), m.gpu.c_str(),
                  m.kernel.c_str(), static_cast<long long>(m.head_dim), std::get<4>(key).c_str(), measured, modeled, error);
    lines += line;
  }
  MESSAGE(lines);
  record.write();
  const RatioErrors& d64 = by_head_dim.at(64);
  const RatioErrors& d256 = by_head_dim.at(256);
  MESSAGE("head dim 64: MAPE " << d64.modeled.mape() << "% (a rate that ignores head dim: " << d64.flat.mape()
                               << "%); head dim 256: " << d256.modeled.mape() << "% (" << d256.flat.mape() << "%)");
  REQUIRE(d64.modeled.n == 10);
  // On 2026-12-03: head dim 64 within 19% in every row (the 2024 cuDNN on H100 the worst;
  // 9.27 on an H200 within 7%), 6.8% on average, where a rate that ignores head dim is 42%
  // fast. Head dim 256 runs from 0.80 to 1.64 of 128's rate, kernel by kernel: no gain is
  // modeled above 128, so those rows only bound the spread.
  CHECK(d64.modeled.worst < 20);
  CHECK(d64.modeled.mape() < 8);
  CHECK(d64.modeled.mape() < d64.flat.mape() / 3);
  CHECK(d256.modeled.mape() == doctest::Approx(d256.flat.mape()));
}
