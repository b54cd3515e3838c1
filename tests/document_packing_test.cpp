// Variable-length documents packed into sequences: closed forms for the length attention
// sees under a document mask and the share of padded tokens that are data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <vector>

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

namespace {
// The process masked_attention_imbalance takes the mean of, from scratch with the standard
// library's generator and lognormal: sequences packed from one stream of documents, shuffled
// (as Megatron's dataset shuffles its samples), dealt to the ranks; the step waits for the
// rank with the most masked attention work. `balanced`: each step's sequences dealt largest
// first, each to the rank with the least work so far among those short of per_rank.
double simulated_imbalance(double median, double sigma, std::int64_t sequence, int per_rank, int ranks, int steps, bool balanced = false) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> length(std::log(median), sigma);
  std::vector<double> work(static_cast<std::size_t>(per_rank * ranks * steps));
  double left = 0;
  for (double& w : work) {
    double room = static_cast<double>(sequence);
    while (room > 0) {
      if (left <= 0) left = std::max(1.0, std::round(length(rng)));
      const double piece = std::min(left, room);
      w += piece * piece;
      left -= piece;
      room -= piece;
    }
  }
  std::shuffle(work.begin(), work.end(), rng);
  double slowest = 0, total = 0;
  std::size_t next = 0;
  for (int step = 0; balanced && step < steps; ++step) {
    const auto first = work.begin() + static_cast<std::ptrdiff_t>(next);
    const auto last = first + per_rank * ranks;
    std::sort(first, last, std::greater<>());
    std::vector<double> load(static_cast<std::size_t>(ranks), 0);
    std::vector<int> count(static_cast<std::size_t>(ranks), 0);
    for (auto w = first; w != last; ++w) {
      std::size_t least = load.size();
      for (std::size_t r = 0; r < load.size(); ++r) {
        if (count[r] < per_rank && (least == load.size() || load[r] < load[least])) least = r;
      }
      load[least] += *w;
      ++count[least];
      total += *w;
    }
    slowest += *std::max_element(load.begin(), load.end());
    next += static_cast<std::size_t>(per_rank * ranks);
  }
  for (int step = 0; !balanced && step < steps; ++step) {
    double most = 0;
    for (int r = 0; r < ranks; ++r) {
      double rank_work = 0;
      for (int i = 0; i < per_rank; ++i) rank_work += work[next++];
      most = std::max(most, rank_work);
      total += rank_work;
    }
    slowest += most;
  }
  return slowest / (total / ranks);
}
}  // namespace

TEST_CASE("document masks: DP ranks' documents cost their attention unevenly, and the step waits for the slowest") {
  // Fixed lengths that divide the sequence: every sequence costs the same.
  CHECK(masked_attention_imbalance({"fixed", 1024}, 8192, 16, 64) == 1.0);
  CHECK(masked_attention_imbalance({"lognormal", 0, 0, 0, 1500, 1.2}, 8192, 16, 1) == 1.0);
  // Long-tailed lengths, against the process simulated from scratch.
  const DocumentLengths tail{"lognormal", 0, 0, 0, 1500, 1.2};
  for (const auto& [per_rank, ranks] : std::vector<std::pair<int, int>>{{16, 8}, {4, 64}, {1, 16}}) {
    const double modelled = masked_attention_imbalance(tail, 8192, per_rank, ranks);
    const double simulated = simulated_imbalance(1500, 1.2, 8192, per_rank, ranks, 400);
    MESSAGE(per_rank << " sequences a rank, " << ranks << " ranks: " << modelled << " against " << simulated << " simulated");
    CHECK(modelled == doctest::Approx(simulated).epsilon(0.03));
  }
  // More ranks wait for a worse straggler; more sequences a rank average it out.
  CHECK(masked_attention_imbalance(tail, 8192, 16, 64) > masked_attention_imbalance(tail, 8192, 16, 8));
  CHECK(masked_attention_imbalance(tail, 8192, 64, 8) < masked_attention_imbalance(tail, 8192, 16, 8));
}

TEST_CASE("document masks: sequences dealt by cost even the ranks' attention out, but one a rank has nothing to even") {
  const DocumentLengths tail{"lognormal", 0, 0, 0, 1500, 1.2};
  const double masked_length = pack_documents(tail, 8192).masked_length;  // a sequence's mean work over 8,192
  for (const auto& [per_rank, ranks] : std::vector<std::pair<int, int>>{{16, 8}, {4, 64}, {1, 16}}) {
    const double random = masked_attention_imbalance(tail, 8192, per_rank, ranks);
    const double dealt = masked_attention_imbalance(tail, 8192, per_rank, ranks, DocumentBalance::kCost);
    const double simulated = simulated_imbalance(1500, 1.2, 8192, per_rank, ranks, 400, true);
    MESSAGE(per_rank << " sequences a rank, " << ranks << " ranks: at random " << random << ", dealt by cost " << dealt << " against "
                     << simulated << " simulated");
    CHECK(dealt == doctest::Approx(simulated).epsilon(0.03));
    CHECK(dealt <= random);
    // The longest-processing-time rule leaves the slowest rank at most one sequence's work
    // (at most 8,192^2) above the mean.
    CHECK(dealt <= 1 + 8192.0 / (per_rank * masked_length));
  }
  // Past 5 million sequences a step (6,000 on each of 1,000 ranks), a share of 5,000 is dealt
  // and its excess scaled: even, where dealing at random leaves the central limit's +2%.
  const double scaled = masked_attention_imbalance(tail, 8192, 6000, 1000, DocumentBalance::kCost);
  MESSAGE("dealt by cost, 6,000 a rank on 1,000 ranks: " << scaled);
  CHECK(scaled >= 1);
  CHECK(scaled < 1.001);
  CHECK(masked_attention_imbalance(tail, 8192, 6000, 1000) > 1.01);
  // One sequence a rank: every rank takes one whichever way they are dealt.
  CHECK(masked_attention_imbalance(tail, 8192, 1, 16, DocumentBalance::kCost) == masked_attention_imbalance(tail, 8192, 1, 16));
  CHECK(masked_attention_imbalance(tail, 8192, 16, 8, DocumentBalance::kCost) < 1.01);
}

TEST_CASE("document masks: the imbalance slows the attention kernels, with data parallelism only") {
  using foresight::testing::run_scenario;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");  // DP 8, 128 sequences
  const std::vector<std::string> documents = {"training.sequence_length=8192",
                                              R"(training.documents={"distribution":"lognormal","median":1500,"sigma":1.2})"};
  const nlohmann::json replicated = run_scenario(scenario, documents);
  const double expected = masked_attention_imbalance({"lognormal", 0, 0, 0, 1500, 1.2}, 8192, 128 / 8, 8);
  CHECK(replicated["pace"]["masked_attention_imbalance"].get<double>() == doctest::Approx(expected));
  CHECK(expected > 1.05);
  // One DP replica (TP 8): nothing to wait for.
  std::vector<std::string> tp8 = documents;
  tp8.insert(tp8.end(), {"training.parallel.tp=8", "training.parallel.dp=1"});
  CHECK(run_scenario(scenario, tp8)["pace"]["masked_attention_imbalance"].get<double>() == 1.0);
  // Concatenated documents all cost a whole sequence's attention.
  std::vector<std::string> concat = documents;
  concat.push_back("training.packing=concat");
  CHECK(run_scenario(scenario, concat)["pace"]["masked_attention_imbalance"].get<double>() == 1.0);
  // Dealt by cost: the same 16 sequences on each of 8 ranks, nearly even.
  std::vector<std::string> by_cost = documents;
  by_cost.push_back("training.document_balance=cost");
  const nlohmann::json balanced = run_scenario(scenario, by_cost);
  CHECK(balanced["pace"]["masked_attention_imbalance"].get<double>() ==
        doctest::Approx(masked_attention_imbalance({"lognormal", 0, 0, 0, 1500, 1.2}, 8192, 16, 8, DocumentBalance::kCost)));
  CHECK(balanced["step_time_ps"].get<double>() < replicated["step_time_ps"].get<double>());
  const auto refused = foresight::testing::run_cli({"run", scenario, "--set", documents[0], "--set", documents[1], "--set",
                                                    "training.packing=concat", "--set", "training.document_balance=cost"});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("training.document_balance: cost balances document-masked attention") != std::string::npos);
}

TEST_CASE("document masks: a batch too large to deal out takes the central limit, close to dealing it") {
  const DocumentLengths tail{"lognormal", 0, 0, 0, 1500, 1.2};
  // 5,000,000 sequences (over the limit) against 4,000,000 dealt (under it): the excess over
  // the mean shrinks as 1 / sqrt(sequences a rank), within 5%.
  const double normal = masked_attention_imbalance(tail, 8192, 5000, 1000);
  const double dealt = masked_attention_imbalance(tail, 8192, 4000, 1000);
  MESSAGE("central limit " << normal << ", dealt " << dealt);
  CHECK(normal > 1);
  CHECK((normal - 1) == doctest::Approx((dealt - 1) * std::sqrt(4000.0 / 5000.0)).epsilon(0.05).scale(0));
}

TEST_CASE("document masks: micro-batches and CP ranks draw their own attention work") {
  // Documents of 3/4 of a 4,096-token sequence: the stream repeats every three sequences,
  // cut into pieces (3072, 1024), (2048, 2048), (1024, 3072). Over two CP ranks the sequence
  // is four chunks of 1,024, rank 0 taking chunks 0 and 3 and rank 1 chunks 1 and 2; a
  // piece's k-th chunk costs (2k + 1) u (u = 1024^2 / 2), so rank 0 gets 2, 4 and 6 u and
  // rank 1 8, 4 and 4 u: 28 u over six shares.
  const DocumentLengths three_quarters{"fixed", 3072};
  const std::vector<double> by_sequence =
      micro_batch_attention_shares(three_quarters, 4096, 1, 3, 2, CpSplit::kSequence, DocumentBalance::kRandom, 1);
  const double unit = 28.0 / 6;  // the mean share, in u
  const std::vector<double> expected_sequence = {2 / unit, 8 / unit, 4 / unit, 4 / unit, 6 / unit, 4 / unit};
  REQUIRE(by_sequence.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) CHECK(by_sequence[i] == doctest::Approx(expected_sequence[i]).epsilon(1e-3));
  // Each document cut on its own: the ranks split every micro-batch's sum of p^2 / 2 evenly.
  const std::vector<double> by_document =
      micro_batch_attention_shares(three_quarters, 4096, 1, 3, 2, CpSplit::kDocument, DocumentBalance::kRandom, 1);
  const std::vector<double> expected_document = {15 / 14.0, 15 / 14.0, 12 / 14.0, 12 / 14.0, 15 / 14.0, 15 / 14.0};
  for (std::size_t i = 0; i < 6; ++i) CHECK(by_document[i] == doctest::Approx(expected_document[i]));

  // Long-tailed documents: either split gives a micro-batch the same work in all (the same
  // stream), the shares average 1, and only the sequence split leaves the ranks uneven.
  const DocumentLengths tail{"lognormal", 0, 0, 0, 1500, 1.2};
  const int cp = 4, micro_batches = 64;
  const std::vector<double> sequence =
      micro_batch_attention_shares(tail, 8192, 2, micro_batches, cp, CpSplit::kSequence, DocumentBalance::kRandom, 7);
  const std::vector<double> document =
      micro_batch_attention_shares(tail, 8192, 2, micro_batches, cp, CpSplit::kDocument, DocumentBalance::kRandom, 7);
  double mean = 0, most_uneven = 1;
  for (int m = 0; m < micro_batches; ++m) {
    double sum_sequence = 0, sum_document = 0, highest = 0;
    for (int c = 0; c < cp; ++c) {
      sum_sequence += sequence[static_cast<std::size_t>(m * cp + c)];
      sum_document += document[static_cast<std::size_t>(m * cp + c)];
      highest = std::max(highest, sequence[static_cast<std::size_t>(m * cp + c)]);
      CHECK(document[static_cast<std::size_t>(m * cp + c)] == doctest::Approx(document[static_cast<std::size_t>(m * cp)]));
    }
    CHECK(sum_sequence == doctest::Approx(sum_document));
    most_uneven = std::max(most_uneven, highest * cp / sum_sequence);
    mean += sum_sequence / (cp * micro_batches);
  }
  CHECK(mean == doctest::Approx(1));
  CHECK(most_uneven > 1.2);
}

TEST_CASE("document masks: a CP group waits for its costliest rank, a pipeline for its costliest micro-batches") {
  using foresight::testing::run_scenario;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");  // 128 sequences
  const std::string tail = R"(training.documents={"distribution":"lognormal","median":1500,"sigma":1.2})";
  const std::vector<std::string> cp2 = {"training.sequence_length=8192", tail, "training.parallel.dp=4", "training.parallel.cp=2"};
  const auto attention_of = [](const nlohmann::json& result) {
    for (const auto& entry : result["compute_by_class"]) {
      if (entry["op_class"] == "attention") return entry["time_ps"].get<double>();
    }
    return 0.0;
  };
  const nlohmann::json by_document = run_scenario(scenario, cp2);
  std::vector<std::string> sequence_split = cp2;
  sequence_split.push_back("training.cp_split=sequence");
  const nlohmann::json by_sequence = run_scenario(scenario, sequence_split);
  CHECK(by_document["pace"]["cp_attention_imbalance"].get<double>() == 1.0);
  CHECK(by_sequence["pace"]["cp_attention_imbalance"].get<double>() > 1.1);
  // One stage: a micro-batch's attention ends with its costliest CP rank's, so the step
  // grows by the attention time times the mean over micro-batches of the costliest share
  // less 1 (the first replica's draws, seeded as TrainingStep seeds them; within 10%).
  const std::vector<double> shares = micro_batch_attention_shares({"lognormal", 0, 0, 0, 1500, 1.2}, 8192, 1, 32, 2,
                                                                  CpSplit::kSequence, DocumentBalance::kRandom, 0x5eed0001ULL);
  double costliest = 0;  // mean over the 32 micro-batches
  for (std::size_t m = 0; m < shares.size(); m += 2) costliest += std::max(shares[m], shares[m + 1]) / 32;
  const double expected = attention_of(by_document) * (costliest - 1);
  const double grown = by_sequence["step_time_ps"].get<double>() - by_document["step_time_ps"].get<double>();
  MESSAGE("sequence split: step +" << grown / 1e12 << " s, attention x (costliest share - 1) " << expected / 1e12 << " s");
  CHECK(grown == doctest::Approx(expected).epsilon(0.10));

  // Two stages: micro-batches of uneven cost leave the stages waiting on one another.
  // Documents of half a sequence make every micro-batch alike; long-tailed ones do not.
  const auto bubble = [&](const std::string& documents) {
    return run_scenario(scenario, {"training.sequence_length=8192", documents, "training.parallel.dp=4", "training.parallel.pp=2"});
  };
  const nlohmann::json even = bubble(R"(training.documents={"distribution":"fixed","tokens":4096})");
  const nlohmann::json uneven = bubble(tail);
  CHECK(even["pace"]["micro_batch_attention_spread"].get<double>() == doctest::Approx(1.0));
  CHECK(uneven["pace"]["micro_batch_attention_spread"].get<double>() > 1.3);
  MESSAGE("bubble: alike " << even["pipeline"]["bubble_fraction"].get<double>() << ", long-tailed "
                           << uneven["pipeline"]["bubble_fraction"].get<double>());
  CHECK(uneven["pipeline"]["bubble_fraction"].get<double>() > even["pipeline"]["bubble_fraction"].get<double>() + 0.01);

  const auto refused = foresight::testing::run_cli({"run", scenario, "--set", "training.cp_split=sequence"});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("training.cp_split: sequence cuts document-masked sequences") != std::string::npos);
}

TEST_CASE("document masks: packed by cost, a step's micro-batches even out their work") {
  // Documents of 3/4 of a 4,096-token sequence, three micro-batches of one sequence: end to
  // end the stream cuts them into (3072, 1024), (2048, 2048), (1024, 3072), 10, 8 and 10 units
  // of 1024^2, 28 in all. Packed by cost, three documents go whole, one to each micro-batch,
  // and the fourth is cut into three pieces of 1,024 to fill them: 10 units each, 30 in all,
  // over the end-to-end mean of 28 / 3.
  const DocumentLengths three_quarters{"fixed", 3072};
  for (const CpSplit split : {CpSplit::kDocument, CpSplit::kSequence}) {
    const std::vector<double> by_cost = micro_batch_attention_shares(three_quarters, 4096, 1, 3, 1, split, DocumentBalance::kCost, 1);
    REQUIRE(by_cost.size() == 3);
    for (double share : by_cost) CHECK(share == doctest::Approx(30.0 / 28));
  }

  // Long-tailed documents over 32 micro-batches of one 8,192-token sequence, attention 40% of
  // a micro-batch's compute at the mean: its workload is 0.6 x its tokens plus 0.4 x its
  // attention work, each over the end-to-end mean. Packed by cost, a document of a whole
  // sequence fills a micro-batch alone, at about 1.6x the mean work, and the rest cannot take
  // more tokens to match it; delaying such outliers (each micro-batch an even share of them)
  // and letting micro-batches hold up to 1.5x the tokens evens the workload out.
  const DocumentLengths tail{"lognormal", 0, 0, 0, 1500, 1.2};
  constexpr double kAttention = 0.4;
  const auto spread = [&](const MicroBatchWork& work) {  // the workload's standard deviation over its mean
    double mean = 0, square = 0, tokens = 0, attention = 0;
    const auto n = static_cast<double>(work.tokens.size());
    for (std::size_t m = 0; m < work.tokens.size(); ++m) {
      const double w = (1 - kAttention) * work.tokens[m] + kAttention * work.attention[m];
      mean += w / n;
      square += w * w / n;
      tokens += work.tokens[m] / n;
      attention += work.attention[m] / n;
    }
    CHECK(tokens == doctest::Approx(1));  // the step's tokens, however packed
    CHECK(attention >= 1 - 1e-9);         // documents cut no more often than end to end
    return std::sqrt(square - mean * mean) / mean;
  };
  double end_to_end = 0, by_cost = 0, delayed = 0, longest = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto packed = [&](DocumentBalance balance, double max_tokens, double outliers) {
      return micro_batch_work(tail, 8192, 1, 32, 1, CpSplit::kDocument, {balance, max_tokens, kAttention, outliers}, seed);
    };
    end_to_end += spread(packed(DocumentBalance::kRandom, 1, 0)) / 8;
    by_cost += spread(packed(DocumentBalance::kCost, 1, 0)) / 8;
    const MicroBatchWork balanced = packed(DocumentBalance::kCost, 1.5, 4096);
    delayed += spread(balanced) / 8;
    longest = std::max(longest, *std::max_element(balanced.tokens.begin(), balanced.tokens.end()));
    // The CP splits agree on each micro-batch's total (the same packing, cut two ways).
    const auto split_shares = [&](CpSplit split) {
      return micro_batch_work(tail, 8192, 2, 16, 2, split, {DocumentBalance::kCost, 1.5, kAttention, 4096}, seed).attention;
    };
    const std::vector<double> sequence = split_shares(CpSplit::kSequence), document = split_shares(CpSplit::kDocument);
    for (std::size_t m = 0; m < sequence.size(); m += 2) {
      CHECK(sequence[m] + sequence[m + 1] == doctest::Approx(document[m] + document[m + 1]));
    }
  }
  MESSAGE("32 micro-batches' workload, standard deviation over the mean (8 seeds): end to end " << end_to_end << ", by cost "
          << by_cost << ", with outliers of 4,096 tokens delayed and up to 1.5x the tokens " << delayed << " (the longest "
          << longest << "x)");
  CHECK(delayed < end_to_end / 3);
  CHECK(longest <= 1.5);
}

TEST_CASE("document masks: WLB-LLM's packing and per-document CP against Llama 3's CP, at 64k tokens") {
  // Llama-3.1-8B at 65,536 tokens on 8 H100 (PP 2 x CP 4, 32 micro-batches, every layer
  // recomputed), documents lognormal around 4,000 tokens (sigma 1.5, a quarter of a percent
  // longer than a sequence), four seeds each: the mean step.
  using foresight::testing::run_scenario;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");
  const auto mean_step = [&](const std::vector<std::string>& packing) {
    double sum = 0;
    nlohmann::json last;
    for (int seed = 1; seed <= 4; ++seed) {
      std::vector<std::string> sets = {"seed=" + std::to_string(seed), "model=llama31_8b", "training.sequence_length=65536",
                                       "training.global_batch=32",
                                       R"(training.documents={"distribution":"lognormal","median":4000,"sigma":1.5})",
                                       "training.parallel.dp=1", "training.parallel.cp=4", "training.parallel.pp=2",
                                       "training.recompute=full"};
      sets.insert(sets.end(), packing.begin(), packing.end());
      last = run_scenario(scenario, sets);
      sum += last["step_time_ps"].get<double>() / 4;
    }
    return std::pair{sum, last};
  };
  const auto [llama3, llama3_run] = mean_step({"training.cp_split=sequence"});
  const auto [per_document, per_document_run] = mean_step({});
  const std::vector<std::string> wlb = {"training.document_balance=cost", "training.outlier_delay_tokens=32768",
                                        "training.packing_max_tokens=1.5"};
  const auto [balanced, balanced_run] = mean_step(wlb);
  const auto [cost_only, cost_only_run] = mean_step({"training.document_balance=cost"});
  MESSAGE("mean step: end to end with the sequence split " << llama3 / 1e12 << " s, with the document split " << per_document / 1e12
          << " s; by cost, outliers delayed, up to 1.5x the tokens " << balanced / 1e12 << " s (" << llama3 / balanced
          << "x the first; WLB-LLM reports 1.23x on average over its own models and data); by cost alone " << cost_only / 1e12 << " s");
  // Each part pays: per-document CP over Llama 3's, and the packing over the end-to-end one.
  CHECK(per_document < llama3);
  CHECK(balanced < per_document);
  // Kept whole, long documents cost more attention, and at a fixed length each fills a
  // micro-batch alone: packing by cost without the delay is slower than end to end.
  CHECK(cost_only > per_document);
  CHECK(balanced_run["pace"]["micro_batch_tokens_max"].get<double>() > 1.0);
  CHECK(balanced_run["pace"]["micro_batch_tokens_max"].get<double>() <= 1.5);
  // Activations are checked at the longest a micro-batch may be.
  CHECK(balanced_run["memory_per_gpu_bytes"]["activations"].get<double>() >
        per_document_run["memory_per_gpu_bytes"]["activations"].get<double>() * 1.3);

  const std::string base = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");
  for (const char* key : {"training.packing_max_tokens=1.5", "training.outlier_delay_tokens=4096"}) {
    const auto refused = foresight::testing::run_cli(
        {"run", base, "--set", R"(training.documents={"distribution":"lognormal","median":1500,"sigma":1.2})", "--set", key});
    CHECK(refused.status == 2);
    CHECK(refused.err.find("it needs document_balance cost") != std::string::npos);
  }
}

TEST_CASE("document lengths from a file: drawn by row, and a bad file named") {
  // A file of four documents of 3,072 tokens packs as fixed lengths of 3,072 do.
  const std::string file = foresight::testing::source_path("tests/data/documents_3072.csv");
  DocumentLengths trace{"trace"};
  trace.trace = read_document_lengths(file, "tokens");
  REQUIRE(trace.trace->size() == 4);
  const DocumentLengths fixed{"fixed", 3072};
  CHECK(pack_documents(trace, 4096).masked_length == pack_documents(fixed, 4096).masked_length);
  CHECK(micro_batch_attention_shares(trace, 4096, 1, 3, 2, CpSplit::kSequence, DocumentBalance::kRandom, 1) ==
        micro_batch_attention_shares(fixed, 4096, 1, 3, 2, CpSplit::kSequence, DocumentBalance::kRandom, 1));
  // Run from a scenario: the file read, the documents' mean shown.
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");
  const auto run = [&](const std::string& documents) {
    return foresight::testing::run_cli(
        {"run", scenario, "--set", "training.sequence_length=8192", "--set", "training.documents=" + documents});
  };
  const auto ok = run(R"({"distribution":"trace","file":")" + file + R"("})");
  CHECK_MESSAGE(ok.status == 0, ok.err);
  CHECK(ok.out.find("3072") != std::string::npos);

  const auto trace_of = [](const std::string& relative) {
    return R"({"distribution":"trace","file":")" + foresight::testing::source_path(relative) + R"("})";
  };
  const auto bad_length = run(trace_of("tests/data/bad/documents_bad_length.csv"));
  CHECK(bad_length.status == 2);
  CHECK(bad_length.err.find("documents_bad_length.csv: line 3, column tokens: a document's length must be a whole number of tokens") !=
        std::string::npos);
  const auto other_column = run(trace_of("tests/data/bad/documents_other_column.csv"));
  CHECK(other_column.status == 2);
  CHECK(other_column.err.find("documents_other_column.csv: line 1: no column \"tokens\" in the header") != std::string::npos);
  std::string named_column = trace_of("tests/data/bad/documents_other_column.csv");
  named_column.insert(named_column.size() - 1, R"(,"column":"length")");
  const auto named = run(named_column);
  CHECK_MESSAGE(named.status == 0, named.err);
  const auto missing = run(R"({"distribution":"trace"})");
  CHECK(missing.status == 2);
  CHECK(missing.err.find("training.documents.file") != std::string::npos);
}

TEST_CASE("padded documents: to each micro-batch's longest, grouped by length, and the slowest replica paces the step") {
  // Documents of 3,072 tokens in sequences of 4,096, two a micro-batch: padded to the longest,
  // each micro-batch holds 3/4 of the tokens and (3/4)^2 of the causal attention.
  const MicroBatchWork three_quarters = padded_micro_batch_work({"fixed", 3072}, 4096, 2, 3, 2, PadTo::kLongest, 1);
  for (double t : three_quarters.tokens) CHECK(t == doctest::Approx(0.75));
  for (double a : three_quarters.attention) CHECK(a == doctest::Approx(0.5625));
  // Grouped by length, the micro-batches' longest documents sum to no more than at random
  // (sorted groups minimize the sum of their maxima).
  const DocumentLengths spread{"uniform", 0, 100, 8192};
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto total = [&](PadTo pad_to) {
      const std::vector<double> tokens = padded_micro_batch_work(spread, 8192, 4, 16, 1, pad_to, seed).tokens;
      return std::accumulate(tokens.begin(), tokens.end(), 0.0);
    };
    CHECK(total(PadTo::kBucketed) <= total(PadTo::kLongest) + 1e-9);
    CHECK(total(PadTo::kLongest) <= 16.0);
  }

  // Documents of half a sequence padded to their longest run as sequences of that length do
  // (the same tokens and attention; kernels timed at 8,192 tokens and scaled, within 10%).
  using foresight::testing::run_scenario;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");  // 128 sequences
  const nlohmann::json halves = run_scenario(scenario, {"training.sequence_length=8192",
                                                        R"(training.documents={"distribution":"fixed","tokens":4096})",
                                                        "training.packing=pad", "training.pad_to=longest"});
  const nlohmann::json short_sequences = run_scenario(scenario, {"training.sequence_length=4096"});
  MESSAGE("documents of 4,096 padded to their longest in sequences of 8,192: " << halves["step_time_ps"].get<double>() / 1e12
          << " s; sequences of 4,096: " << short_sequences["step_time_ps"].get<double>() / 1e12 << " s");
  CHECK(halves["step_time_ps"].get<double>() == doctest::Approx(short_sequences["step_time_ps"].get<double>()).epsilon(0.10));
  CHECK(halves["pace"]["micro_batch_tokens_max"].get<double>() == doctest::Approx(0.5));

  // Long-tailed documents four a micro-batch: grouped by length they pad far less than at
  // random, which pads less than to the sequence.
  const auto step = [&](const std::string& pad_to) {
    return run_scenario(scenario, {"training.sequence_length=8192", "training.micro_batch=4", "training.packing=pad",
                                   R"(training.documents={"distribution":"lognormal","median":1500,"sigma":1.2})",
                                   "training.pad_to=" + pad_to})["step_time_ps"]
        .get<double>();
  };
  const double to_sequence = step("sequence"), to_longest = step("longest"), bucketed = step("bucketed");
  MESSAGE("micro-batches of 4 long-tailed documents padded to the sequence / their longest / grouped by length: "
          << to_sequence / 1e12 << " / " << to_longest / 1e12 << " / " << bucketed / 1e12 << " s");
  CHECK(to_longest < to_sequence);
  CHECK(bucketed < to_longest * 0.8);

  const auto refused = foresight::testing::run_cli({"run", scenario, "--set", "training.pad_to=longest"});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("training.pad_to: pad_to longest pads documents: it needs packing pad") != std::string::npos);
}

TEST_CASE("packed micro-batches send their own tokens' collectives, on the flow network as on the analytic one") {
  // Llama-3-8B at TP 4 x PP 2, documents of about 1,500 tokens packed by cost into up to 1.5x
  // a micro-batch's tokens: each micro-batch's TP all-reduces carry its tokens, not the nominal.
  using foresight::testing::run_cli;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");
  const auto traced = [&](const std::string& network) {
    const std::string out = foresight::testing::scratch_path("foresight_packing", "results_" + network + ".json");
    const std::string trace = foresight::testing::scratch_path("foresight_packing", "trace_" + network + ".json");
    const auto r = run_cli({"run", scenario, "--set", "training.parallel.tp=4", "--set", "training.parallel.pp=2", "--set",
                            "training.parallel.dp=1", "--set", "training.global_batch=16", "--set",
                            R"(training.documents={"distribution":"lognormal","median":1500,"sigma":1.2})", "--set",
                            "training.document_balance=cost", "--set", "training.packing_max_tokens=1.5", "--set",
                            "hardware.topology.network=" + network, "--out", out, "--trace", trace});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return std::pair{foresight::testing::read_json_file(out), foresight::testing::read_json_file(trace)};
  };
  // Per micro-batch, GPU 0's forward TP all-reduce: its bytes and its longest duration.
  struct AllReduces {
    std::map<int, double> bytes, longest_us;
  };
  const auto all_reduces = [](const nlohmann::json& trace) {
    AllReduces a;
    for (const auto& e : trace["traceEvents"]) {
      if (e.value("name", "") != "tp.all_reduce" || e["args"]["rank"] != 0) continue;
      const int micro_batch = e["args"]["micro_batch"];
      a.bytes[micro_batch] = e["args"]["bytes"];
      a.longest_us[micro_batch] = std::max(a.longest_us[micro_batch], e["dur"].get<double>());
    }
    return a;
  };
  const auto [flow_results, flow_trace] = traced("flow");
  const auto [analytic_results, analytic_trace] = traced("analytic");
  const AllReduces flow = all_reduces(flow_trace), analytic = all_reduces(analytic_trace);
  REQUIRE(flow.bytes.size() == 16);
  CHECK(flow.bytes == analytic.bytes);
  const auto [fewest, most] = std::minmax_element(flow.bytes.begin(), flow.bytes.end(),
                                                  [](const auto& a, const auto& b) { return a.second < b.second; });
  // The nominal all-reduce: a micro-batch's 4,096 tokens x 4,096 wide in bf16.
  const double nominal = 4096.0 * 4096 * 2;
  CHECK(most->second / nominal == doctest::Approx(flow_results["pace"]["micro_batch_tokens_max"].get<double>()));
  CHECK(fewest->second < nominal);
  // More bytes take longer on either network.
  CHECK(flow.longest_us.at(most->first) > flow.longest_us.at(fewest->first));
  CHECK(analytic.longest_us.at(most->first) > analytic.longest_us.at(fewest->first));
}

TEST_CASE("padded documents balanced over micro-batches: more of the short ones, fewer of the long ones") {
  // Three documents of a quarter sequence and one of a whole, two a micro-batch on average:
  // grouped by length two and two, the micro-batches pad 0.25 and 1.0 of the nominal tokens;
  // balanced, the three short ones go together (0.375) and the long one alone (0.5), and the
  // short one it frees cannot join it (1.5x the nominal).
  const std::vector<std::size_t> runs = balanced_runs({1024, 1024, 1024, 4096}, 4096, 2, 2, 0.0, 2);
  CHECK(runs == std::vector<std::size_t>{3, 4});
  // Over draws of long-tailed documents: exactly as many micro-batches, none past the nominal
  // tokens, and never worse than grouping by length in the pipeline's measure, the sum of
  // the micro-batches' work plus (stages - 1) times the costliest.
  const DocumentLengths spread{"lognormal", 0, 0, 0, 1500, 1.2};
  constexpr double kAttention = 0.3;
  for (const int stages : {1, 2, 4}) {
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
      const auto pipeline_time = [&](PadTo pad_to) {
        const MicroBatchWork w = padded_micro_batch_work(spread, 8192, 4, 16, 1, pad_to, seed, kAttention, stages);
        double sum = 0, most = 0;
        for (std::size_t m = 0; m < w.tokens.size(); ++m) {
          CHECK(w.tokens[m] <= 1.0 + 1e-9);
          const double work = (1 - kAttention) * w.tokens[m] + kAttention * w.attention[m];
          sum += work;
          most = std::max(most, work);
        }
        CHECK(w.tokens.size() == 16);
        return sum + (stages - 1) * most;
      };
      CHECK(pipeline_time(PadTo::kBalanced) <= pipeline_time(PadTo::kBucketed) + 1e-9);
    }
  }
  // Llama-3-8B, micro-batches of four long-tailed documents (8,192-token sequences) on 8 H100:
  // balanced beats grouping by length with one stage (less padding) and more so with
  // pipeline stages (even micro-batches leave a smaller bubble).
  using foresight::testing::run_scenario;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_8b_hgx_h100.json");
  const auto step = [&](const std::string& pad_to, int pp) {
    return run_scenario(scenario, {"training.sequence_length=8192", "training.micro_batch=4", "training.packing=pad",
                                   R"(training.documents={"distribution":"lognormal","median":1500,"sigma":1.2})",
                                   "training.pad_to=" + pad_to, "training.parallel.pp=" + std::to_string(pp),
                                   "training.parallel.dp=" + std::to_string(8 / pp)})["step_time_ps"]
        .get<double>();
  };
  for (const int pp : {1, 2, 4}) {
    const double bucketed = step("bucketed", pp), balanced = step("balanced", pp);
    MESSAGE("PP " << pp << ": grouped by length " << bucketed / 1e12 << " s, balanced " << balanced / 1e12 << " s");
    CHECK(balanced < bucketed);
    if (pp == 4) CHECK(balanced < bucketed * 0.7);
  }
}
