// Variable-length documents packed into sequences: closed forms for the length attention
// sees under a document mask and the share of padded tokens that are data.
#include <doctest/doctest.h>

#include <cmath>

#include "test_support.hpp"
#include "workloads/document_packing.hpp"

using namespace foresight;

TEST_CASE("packing documents: what attention sees under a mask, and what padding wastes") {
  const std::int64_t s = 4096;
  DocumentLengths fixed{"fixed", 1000};
  PackedDocuments p = pack_documents(fixed, s);
  CHECK(p.mean_tokens == doctest::Approx(1000));
  CHECK(p.masked_length == doctest::Approx(1000));
  CHECK(p.useful_fraction == doctest::Approx(1000.0 / s));

  // A document of 2.5 sequences is cut into pieces of s, s and s / 2: E[p^2] / E[p] = 2.25 s^2 / 2.5 s.
  fixed.tokens = 10240;
  p = pack_documents(fixed, s);
  CHECK(p.masked_length == doctest::Approx(0.9 * s));
  CHECK(p.useful_fraction == doctest::Approx(1.0));  // padded, it is cut at the sequence length

  // Uniform on 1..s: E[l] = (s + 1) / 2 and E[l^2] / E[l] = (2s + 1) / 3.
  DocumentLengths uniform{"uniform", 0, 1, s};
  p = pack_documents(uniform, s);
  CHECK(p.mean_tokens == doctest::Approx((s + 1) / 2.0));
  CHECK(p.masked_length == doctest::Approx((2.0 * s + 1) / 3.0));

  // Lognormal: the mean is median x exp(sigma^2 / 2); E[l^2] / E[l] = median x exp(1.5 sigma^2)
  // while documents stay well inside the sequence.
  DocumentLengths lognormal{"lognormal", 0, 0, 0, 200, 0.5};
  p = pack_documents(lognormal, 1 << 20);
  CHECK(p.mean_tokens == doctest::Approx(200 * std::exp(0.125)).epsilon(0.01));
  CHECK(p.masked_length == doctest::Approx(200 * std::exp(0.375)).epsilon(0.01));
  CHECK(normal_quantile(0.975) == doctest::Approx(1.959964).epsilon(1e-6));
  CHECK(normal_quantile(0.01) == doctest::Approx(-2.326348).epsilon(1e-6));
}

TEST_CASE("padded documents leave the step as it is and count only the data's tokens") {
  using foresight::testing::run_cli;
  const std::string out = (std::filesystem::temp_directory_path() / "foresight_padded.json").string();
  const std::string lengths = "training.documents={\"distribution\":\"uniform\",\"min\":1,\"max\":4096}";
  REQUIRE(run_cli({"run", "--set", lengths, "--set", "training.packing=concat", "--out", out}).status == 0);
  const nlohmann::json concat = foresight::testing::read_json_file(out);
  REQUIRE(run_cli({"run", "--set", lengths, "--set", "training.packing=pad", "--out", out}).status == 0);
  const nlohmann::json padded = foresight::testing::read_json_file(out);
  CHECK(padded["step_time_ps"] == concat["step_time_ps"]);
  CHECK(padded["tokens_per_second"].get<double>() ==
        doctest::Approx(concat["tokens_per_second"].get<double>() * 4097.0 / 2 / 4096));
  REQUIRE(run_cli({"run", "--set", lengths, "--out", out}).status == 0);  // mask, the default with documents
  const nlohmann::json masked = foresight::testing::read_json_file(out);
  CHECK(masked["step_time_ps"].get<double>() < concat["step_time_ps"].get<double>());
  const auto both = run_cli({"run", "--set", lengths, "--set", "training.document_length=512"});
  CHECK(both.status == 2);
  CHECK(both.err.find("training.document_length: give document_length or documents, not both") != std::string::npos);
  const auto alone = run_cli({"run", "--set", "training.packing=pad"});
  CHECK(alone.status == 2);
  CHECK(alone.err.find("training.packing: packing pad needs training.documents") != std::string::npos);
}
