#include "workloads/document_packing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <queue>
#include <utility>
#include <vector>

#include "models/gpu_spec.hpp"
#include "sim/input/csv_reader.hpp"
#include "sim/input/input_error.hpp"

namespace foresight {

double normal_quantile(double p) {
  static constexpr std::array<double, 6> a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                              1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr std::array<double, 5> b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                              6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr std::array<double, 6> c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                              -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr std::array<double, 4> d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double low = 0.02425;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

namespace {
// The length at quantile u of the distribution (at least one token); a trace's row at u.
double length_at(const DocumentLengths& d, double u) {
  if (d.trace) return (*d.trace)[std::min(d.trace->size() - 1, static_cast<std::size_t>(u * static_cast<double>(d.trace->size())))];
  if (d.distribution == "uniform") return static_cast<double>(d.min) + std::floor(u * static_cast<double>(d.max - d.min + 1));
  if (d.distribution == "lognormal") return std::clamp(std::round(d.median * std::exp(d.sigma * normal_quantile(u))), 1.0, 1e9);
  return static_cast<double>(d.tokens);
}

// SplitMix64 (Steele et al. 2014): a uniform in (0, 1) from `state`.
double next_uniform(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (static_cast<double>((z ^ (z >> 31)) >> 11) + 0.5) * 0x1.0p-53;
}

// Fisher-Yates over `items`, drawing from `state`.
template <class T>
void shuffle(std::vector<T>& items, std::uint64_t& state) {
  for (std::size_t m = items.size(); m > 1; --m) {
    std::swap(items[m - 1], items[static_cast<std::size_t>(next_uniform(state) * static_cast<double>(m))]);
  }
}

// A stream of documents packed end to end and cut into sequences: next() gives the lengths of
// the pieces the next sequence holds, in order (a document cut at a sequence's end goes on
// at the start of the next, where the mask sees only its own piece).
class PackedStream {
 public:
  PackedStream(const DocumentLengths& lengths, std::int64_t sequence, std::uint64_t& state)
      : lengths_(lengths), sequence_(static_cast<double>(sequence)), state_(state) {}
  const std::vector<double>& next() {
    pieces_.clear();
    double room = sequence_;
    while (room > 0) {
      if (left_ <= 0) left_ = length_at(lengths_, next_uniform(state_));
      const double piece = std::min(left_, room);
      pieces_.push_back(piece);
      left_ -= piece;
      room -= piece;
    }
    return pieces_;
  }

 private:
  const DocumentLengths& lengths_;
  double sequence_;
  std::uint64_t& state_;
  double left_ = 0;  // of the current document, not yet placed
  std::vector<double> pieces_;
};

// The masked attention work (sum of squared pieces) of `count` sequences of `sequence`
// tokens cut from one stream of documents.
std::vector<double> packed_sequence_work(const DocumentLengths& d, std::int64_t sequence, int count, std::uint64_t& state) {
  std::vector<double> work;
  work.reserve(static_cast<std::size_t>(count));
  PackedStream stream(d, sequence, state);
  while (static_cast<int>(work.size()) < count) {
    double squares = 0;
    for (double piece : stream.next()) squares += piece * piece;
    work.push_back(squares);
  }
  return work;
}

// Adds to `ranks` (cp of them) each rank's work in one sequence cut over the whole sequence:
// a token x tokens into its piece meets x keys, so a rank's work on the part [lo, hi) of a
// piece beginning at a is the integral of (x - a), ((hi - a)^2 - (lo - a)^2) / 2; whole
// pieces sum to p^2 / 2, as under the document split.
void add_sequence_split_work(const std::vector<double>& pieces, double sequence, std::vector<double>& ranks) {
  const auto cp = static_cast<std::int64_t>(ranks.size());
  const double chunk = sequence / (2.0 * static_cast<double>(cp));
  double a = 0;  // where the piece begins
  for (double piece : pieces) {
    const double end = a + piece;
    for (auto k = static_cast<std::int64_t>(a / chunk); k < 2 * cp && static_cast<double>(k) * chunk < end; ++k) {
      const double lo = std::max(a, static_cast<double>(k) * chunk), hi = std::min(end, static_cast<double>(k + 1) * chunk);
      if (hi > lo) ranks[static_cast<std::size_t>(k < cp ? k : 2 * cp - 1 - k)] += ((hi - a) * (hi - a) - (lo - a) * (lo - a)) / 2;
    }
    a = end;
  }
}

// The most work any rank gets when `work` is dealt in turn, per_rank sequences to each rank.
double slowest_rank_in_turn(const std::vector<double>& work, std::int64_t per_rank) {
  double most = 0;
  for (std::size_t first = 0; first < work.size(); first += static_cast<std::size_t>(per_rank)) {
    double rank = 0;
    for (std::size_t i = first; i < first + static_cast<std::size_t>(per_rank); ++i) rank += work[i];
    most = std::max(most, rank);
  }
  return most;
}

// The most work any of `ranks` ranks gets when `work` (ranks x per_rank sequences) is dealt
// largest first, each to the rank with the least so far among those still short of per_rank.
double slowest_rank_balanced(std::vector<double>& work, std::int64_t ranks, std::int64_t per_rank) {
  std::sort(work.begin(), work.end(), std::greater<>());
  using Load = std::pair<double, std::int64_t>;  // work so far, sequences so far
  std::priority_queue<Load, std::vector<Load>, std::greater<>> open;
  for (std::int64_t r = 0; r < ranks; ++r) open.push({0.0, 0});
  double most = 0;
  for (double w : work) {
    Load least = open.top();
    open.pop();
    least.first += w;
    if (++least.second < per_rank) {
      open.push(least);
    } else {
      most = std::max(most, least.first);  // every rank fills: work holds ranks x per_rank
    }
  }
  return most;
}
}  // namespace

double masked_attention_imbalance(const DocumentLengths& d, std::int64_t sequence, std::int64_t sequences_per_rank,
                                  std::int64_t ranks, DocumentBalance balance, int steps, std::uint64_t seed) {
  if (ranks <= 1 || sequences_per_rank <= 0) return 1;
  // At most 20 million documents packed: past 300,000 documents a sequence (documents tiny
  // beside it), sequences differ by well under a percent and the step by nothing.
  const double documents_per_sequence = static_cast<double>(sequence) / pack_documents(d, sequence).mean_tokens;
  const int pool_size = static_cast<int>(std::min(4096.0, 2e7 / std::max(1.0, documents_per_sequence)));
  if (pool_size < 64) return 1;
  std::uint64_t state = seed;
  const std::vector<double> pool = packed_sequence_work(d, sequence, pool_size, state);  // what ranks draw from
  double mean = 0, square = 0;
  for (double w : pool) {
    mean += w;
    square += w * w;
  }
  mean /= pool_size;
  const auto draws = static_cast<double>(ranks) * static_cast<double>(sequences_per_rank);
  const bool by_cost = balance == DocumentBalance::kCost;
  if (draws > 5e6 && !by_cost) {
    // So many sequences that a rank's sum is normal (central limit): the slowest of the
    // ranks is the expected maximum of that many normals above the mean.
    const double deviation = std::sqrt(std::max(0.0, square / pool_size - mean * mean));
    const auto n = static_cast<double>(sequences_per_rank);
    return 1 + deviation * expected_max_of_normals(static_cast<int>(std::min<std::int64_t>(ranks, 1'000'000'000))) / (mean * std::sqrt(n));
  }
  // Dealt by cost past 5 million sequences a step, a rank's share is dealt at the count that
  // fits (at least 76 a rank, as ranks are GPUs): the rule leaves the slowest rank about its
  // last sequence's work above the mean, an excess that shrinks as 1 / sequences a rank.
  const std::int64_t dealt = draws > 5e6 ? std::max<std::int64_t>(1, static_cast<std::int64_t>(5e6 / static_cast<double>(ranks)))
                                         : sequences_per_rank;
  // Fewer steps for large batches: the slowest of many ranks varies little from step to step.
  steps = std::min(steps, static_cast<int>(std::max(by_cost ? 1.0 : 8.0, 4e6 / (static_cast<double>(ranks) * static_cast<double>(dealt)))));
  double slowest = 0, total = 0;
  std::vector<double> work(static_cast<std::size_t>(ranks * dealt));
  for (int step = 0; step < steps; ++step) {
    for (double& w : work) {
      w = pool[static_cast<std::size_t>(next_uniform(state) * pool_size)];
      total += w;
    }
    slowest += by_cost ? slowest_rank_balanced(work, ranks, dealt) : slowest_rank_in_turn(work, dealt);
  }
  // Over the step's mean rank: the same draws dealt either way compare exactly.
  const double excess = slowest / (total / static_cast<double>(ranks)) - 1;
  return 1 + excess * static_cast<double>(dealt) / static_cast<double>(sequences_per_rank);
}

namespace {
// Adds to `ranks` (cp of them) each rank's masked attention work in one packed sequence.
void add_sequence_work(const std::vector<double>& pieces, double sequence, CpSplit split, std::vector<double>& ranks) {
  if (split == CpSplit::kSequence) {
    add_sequence_split_work(pieces, sequence, ranks);
    return;
  }
  double squares = 0;
  for (double piece : pieces) squares += piece * piece;
  for (double& r : ranks) r += squares / (2.0 * static_cast<double>(ranks.size()));
}

// The masked attention work (sum of squared pieces) of `count` sequences packed end to end
// from the documents a stream seeded with `seed` draws.
double end_to_end_work(const DocumentLengths& d, std::int64_t sequence, std::int64_t count, std::uint64_t seed) {
  const std::vector<double> work = packed_sequence_work(d, sequence, static_cast<int>(count), seed);
  return std::accumulate(work.begin(), work.end(), 0.0);
}

// One micro-batch as the cost packer fills it: its sequences' pieces (at a variable length,
// one stream), the room left in each, its tokens and its masked attention work so far.
struct CostPackedBatch {
  std::vector<std::vector<double>> sequences;
  std::vector<double> room;
  double tokens = 0, work = 0;
  double outlier_work = 0;  // its even share of the delayed outliers' (in `work` too)

  // The sequence with the least room that still holds `piece` whole, or else the one with the most room.
  std::size_t sequence_for(double piece) const {
    std::size_t best = 0;
    bool fits = false;
    for (std::size_t s = 0; s < room.size(); ++s) {
      const bool holds = room[s] >= piece;
      if (holds && (!fits || room[s] < room[best])) best = s;
      if (!holds && !fits && room[s] > room[best]) best = s;
      fits = fits || holds;
    }
    return best;
  }
  double most_room() const { return *std::max_element(room.begin(), room.end()); }
};

// The documents that fill `tokens`, the last cut to fit, each longer than a sequence cut into
// whole sequences and a rest: the pieces a packer places, whatever its rule.
std::vector<double> step_pieces(const DocumentLengths& d, double sequence, double tokens, std::uint64_t& state) {
  std::vector<double> pieces;
  for (double left = tokens; left > 0;) {
    double document = std::min(left, length_at(d, next_uniform(state)));
    left -= document;
    for (; document > sequence; document -= sequence) pieces.push_back(sequence);
    pieces.push_back(document);
  }
  return pieces;
}

// Workload-aware packing (WLB-LLM's rule, Wang et al. OSDI'25): a step's pieces, longest first,
// each to the micro-batch with the least workload among the few least loaded that still have
// room for it whole, best fit within it; where none has, it is cut to fill the least loaded
// one's roomiest sequence and the rest placed in its turn. A micro-batch's workload is its
// linear work (its tokens) and its attention work (its pieces' squares), each over the mean,
// weighed by `attention_fraction`. At a fixed length (max_tokens 1) every sequence ends full;
// at a variable one each micro-batch is one stream of up to max_tokens x its nominal tokens.
// Delayed outliers (`outlier_tokens`) are taken out first, each micro-batch starting with an
// even share of them.
std::vector<CostPackedBatch> pack_by_cost(std::vector<double> pieces, double sequence, std::int64_t sequences, int micro_batches,
                                          const MicroBatchPacking& packing) {
  const double nominal = sequence * static_cast<double>(sequences);
  const bool variable = packing.max_tokens > 1;
  const auto count = static_cast<double>(micro_batches);
  double mean_work = 0, outlier_tokens = 0, outlier_work = 0;
  for (double piece : pieces) mean_work += piece * piece / count;
  if (packing.outlier_tokens > 0) {
    const auto outlier = [&](double piece) { return piece >= packing.outlier_tokens; };
    for (double piece : pieces) {
      if (!outlier(piece)) continue;
      outlier_tokens += piece / count;
      outlier_work += piece * piece / count;
    }
    std::erase_if(pieces, outlier);
  }
  std::vector<CostPackedBatch> batches(static_cast<std::size_t>(micro_batches));
  for (CostPackedBatch& b : batches) {
    b.sequences.resize(variable ? 1 : static_cast<std::size_t>(sequences));
    const double room = variable ? std::floor(nominal * packing.max_tokens) : sequence;
    b.room.assign(b.sequences.size(), room - outlier_tokens / static_cast<double>(b.sequences.size()));
    b.tokens = outlier_tokens;
    b.work = b.outlier_work = outlier_work;
  }
  const double f = std::clamp(packing.attention_fraction, 0.0, 1.0);
  const auto workload = [&](const CostPackedBatch& b) { return (1 - f) * b.tokens / nominal + f * b.work / mean_work; };
  using Load = std::pair<double, std::size_t>;  // workload so far, micro-batch
  std::priority_queue<Load, std::vector<Load>, std::greater<>> open;
  for (std::size_t m = 0; m < batches.size(); ++m) open.push({workload(batches[m]), m});
  std::priority_queue<double> pending(std::less<double>(), std::move(pieces));
  constexpr int kLeastLoadedTried = 8;  // bounds the search; past it the piece is cut
  while (!pending.empty() && !open.empty()) {
    const double piece = pending.top();
    pending.pop();
    std::vector<Load> tried;
    while (!open.empty() && static_cast<int>(tried.size()) < kLeastLoadedTried) {
      tried.push_back(open.top());
      open.pop();
      if (batches[tried.back().second].most_room() >= piece) break;
    }
    const bool whole = batches[tried.back().second].most_room() >= piece;
    CostPackedBatch& batch = batches[whole ? tried.back().second : tried.front().second];
    const std::size_t s = batch.sequence_for(piece);
    const double placed = std::min(piece, batch.room[s]);
    batch.sequences[s].push_back(placed);
    batch.room[s] -= placed;
    batch.tokens += placed;
    batch.work += placed * placed;
    if (placed < piece) pending.push(piece - placed);
    for (Load& load : tried) {
      load.first = workload(batches[load.second]);
      if (batches[load.second].most_room() > 0) open.push(load);
    }
  }
  return batches;
}
}  // namespace

MicroBatchWork micro_batch_work(const DocumentLengths& d, std::int64_t sequence, std::int64_t sequences, int micro_batches, int cp,
                                CpSplit split, const MicroBatchPacking& packing, std::uint64_t seed) {
  MicroBatchWork result;
  result.tokens.assign(static_cast<std::size_t>(micro_batches), 1.0);
  result.attention.assign(static_cast<std::size_t>(micro_batches) * static_cast<std::size_t>(cp), 1.0);
  // Past 20 million documents the micro-batches hold so many that they differ by well
  // under a percent: every one the mean. Packed by cost, past 2 million: each holds hundreds
  // (micro-batches a step run to thousands at most), and the rule evens them to within the
  // last pieces' work, a fraction of a percent.
  const double documents = static_cast<double>(sequence) / pack_documents(d, sequence).mean_tokens * static_cast<double>(sequences) *
                           static_cast<double>(micro_batches);
  const bool by_cost = packing.balance == DocumentBalance::kCost;
  if (documents > (by_cost ? 2e6 : 2e7)) return result;
  std::uint64_t state = seed;
  const auto length = static_cast<double>(sequence);
  const double nominal = length * static_cast<double>(sequences);
  std::vector<CostPackedBatch> packed;
  if (by_cost) {
    packed = pack_by_cost(step_pieces(d, length, nominal * micro_batches, state), length, sequences, micro_batches, packing);
    // The rule fills the first micro-batches with the longest pieces; they run in a seeded
    // shuffled order, not that one.
    shuffle(packed, state);
  }
  PackedStream stream(d, sequence, state);
  std::vector<double> ranks(static_cast<std::size_t>(cp));
  double total = 0;
  for (int m = 0; m < micro_batches; ++m) {
    std::fill(ranks.begin(), ranks.end(), 0.0);
    if (by_cost) {
      const CostPackedBatch& batch = packed[static_cast<std::size_t>(m)];
      // A variable-length micro-batch is one stream, cut over the CP ranks at its own length
      // (without the outliers' share, which every rank takes evenly: a whole-sequence
      // document is cut so under either split).
      for (const std::vector<double>& pieces : batch.sequences) {
        add_sequence_work(pieces, std::accumulate(pieces.begin(), pieces.end(), 0.0), split, ranks);
      }
      for (double& r : ranks) r += batch.outlier_work / (2.0 * cp);
      result.tokens[static_cast<std::size_t>(m)] = batch.tokens / nominal;
    } else {
      for (std::int64_t s = 0; s < sequences; ++s) add_sequence_work(stream.next(), length, split, ranks);
    }
    for (int c = 0; c < cp; ++c) {
      result.attention[static_cast<std::size_t>(m * cp + c)] = ranks[static_cast<std::size_t>(c)];
      total += ranks[static_cast<std::size_t>(c)];
    }
  }
  // Packed by cost, over the same documents packed end to end: the step's mean attention
  // (pack_documents) is that packer's, and documents cut less often cost more in all.
  if (by_cost) total = end_to_end_work(d, sequence, sequences * micro_batches, seed) / 2;
  const double mean = total / static_cast<double>(result.attention.size());
  for (double& share : result.attention) share /= mean;
  return result;
}

std::vector<double> micro_batch_attention_shares(const DocumentLengths& d, std::int64_t sequence, std::int64_t sequences,
                                                 int micro_batches, int cp, CpSplit split, DocumentBalance balance,
                                                 std::uint64_t seed) {
  return micro_batch_work(d, sequence, sequences, micro_batches, cp, split, {balance, 1, 1}, seed).attention;
}

namespace {
// A run of `count` documents padded to `longest` tokens, over a nominal micro-batch of
// `sequences` x `sequence`: its tokens and its causal attention.
struct PaddedRun {
  double tokens, attention;
};
PaddedRun padded_run(double count, double longest, double sequence, double sequences) {
  const double rows = count / sequences, fill = longest / sequence;
  return {rows * fill, rows * fill * fill};
}

// The fewest runs, cut from the longest documents down, none costing more than `most`: a
// run's longest document sets the cost of each document it holds, so each run takes as many
// as fit. Its ends, longest run first; empty when one document alone costs more.
std::vector<std::size_t> runs_within(const std::vector<double>& sorted, double sequence, double sequences, double f, double most) {
  std::vector<std::size_t> ends;
  std::size_t end = sorted.size();
  while (end > 0) {
    const PaddedRun one = padded_run(1, sorted[end - 1], sequence, sequences);
    const double each = (1 - f) * one.tokens + f * one.attention;
    if (each > most) return {};
    // A hair over, so that a ceiling of exactly k documents' cost admits k.
    const double fit = std::min(std::floor(most / each * (1 + 1e-12)), std::floor(1 / one.tokens * (1 + 1e-12)));
    const auto take = static_cast<std::size_t>(std::clamp(fit, 1.0, static_cast<double>(end)));
    ends.push_back(end);
    end -= take;
  }
  return ends;
}

// Splits runs (their ends, in order) until there are `count`: each time the run whose best cut
// into two saves the most cost, at that cut. A run of one document does not split; there are
// documents enough for `count` runs.
template <class Cost>
void split_to(std::vector<std::size_t>& ends, std::size_t count, const Cost& cost) {
  struct Cut {
    double saving = -1;
    std::size_t at = 0;
  };
  const auto best_cut = [&](std::size_t first, std::size_t end) {
    Cut best;
    const double whole = cost(first, end);
    for (std::size_t cut = first + 1; cut < end; ++cut) {
      const double saving = whole - cost(first, cut) - cost(cut, end);
      if (saving > best.saving) best = {saving, cut};
    }
    return best;
  };
  std::vector<Cut> cuts;
  for (std::size_t r = 0; r < ends.size(); ++r) cuts.push_back(best_cut(r == 0 ? 0 : ends[r - 1], ends[r]));
  while (ends.size() < count) {
    const auto run = static_cast<std::size_t>(
        std::max_element(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.saving < b.saving; }) - cuts.begin());
    if (cuts[run].saving < 0) return;
    const std::size_t first = run == 0 ? 0 : ends[run - 1], at = cuts[run].at, end = ends[run];
    ends.insert(ends.begin() + static_cast<std::ptrdiff_t>(run), at);
    cuts[run] = best_cut(at, end);
    cuts.insert(cuts.begin() + static_cast<std::ptrdiff_t>(run), best_cut(first, at));
  }
}
}  // namespace

std::vector<std::size_t> balanced_runs(const std::vector<double>& sorted, std::int64_t sequence, std::int64_t sequences,
                                       int micro_batches, double f, int stages) {
  const auto S = static_cast<double>(sequence), s = static_cast<double>(sequences);
  const auto cost = [&](std::size_t first, std::size_t end) {
    const PaddedRun run = padded_run(static_cast<double>(end - first), sorted[end - 1], S, s);
    return (1 - f) * run.tokens + f * run.attention;
  };
  const auto count = static_cast<std::size_t>(micro_batches);
  // The least ceiling on a run's cost under which the fewest runs number micro_batches or
  // fewer: bisected between the costliest document alone and all of them in one run (under
  // which only the token cap cuts, into micro_batches runs at most).
  double low = cost(sorted.size() - 1, sorted.size()), high = cost(0, sorted.size()) + low;
  const double unbounded = high;
  for (int i = 0; i < 60 && high - low > 1e-12 * high; ++i) {
    const double mid = 0.5 * (low + high);
    const std::vector<std::size_t> ends = runs_within(sorted, S, s, f, mid);
    (!ends.empty() && ends.size() <= count ? high : low) = mid;
  }
  // Under each of a range of ceilings from that least one up, the fewest runs, then split
  // where splitting saves the most until there are micro_batches of them; kept: the cut whose
  // runs cost least in sum plus (stages - 1) times the costliest, a 1F1B pipeline's time.
  std::vector<std::size_t> best;
  double best_time = 0;
  constexpr int kCeilings = 24;
  for (int k = 0; k <= kCeilings; ++k) {
    const double ceiling = high * std::pow(unbounded / high, static_cast<double>(k) / kCeilings);
    std::vector<std::size_t> ends = runs_within(sorted, S, s, f, ceiling);
    if (ends.empty()) continue;
    std::reverse(ends.begin(), ends.end());
    split_to(ends, count, cost);
    double sum = 0, most = 0;
    for (std::size_t r = 0; r < ends.size(); ++r) {
      const double c = cost(r == 0 ? 0 : ends[r - 1], ends[r]);
      sum += c;
      most = std::max(most, c);
    }
    const double time = sum + (stages - 1) * most;
    if (best.empty() || time < best_time) best = std::move(ends), best_time = time;
  }
  return best;
}

MicroBatchWork padded_micro_batch_work(const DocumentLengths& d, std::int64_t sequence, std::int64_t sequences,
                                       int micro_batches, int cp, PadTo pad_to, std::uint64_t seed, double attention_fraction,
                                       int stages) {
  MicroBatchWork result;
  result.tokens.assign(static_cast<std::size_t>(micro_batches), 1.0);
  result.attention.assign(static_cast<std::size_t>(micro_batches) * static_cast<std::size_t>(cp), 1.0);
  if (pad_to == PadTo::kSequence) return result;
  std::uint64_t state = seed;
  const auto length = static_cast<double>(sequence);
  std::vector<double> documents(static_cast<std::size_t>(sequences * micro_batches));
  for (double& l : documents) l = std::min(length, length_at(d, next_uniform(state)));
  if (pad_to == PadTo::kBalanced) {
    std::sort(documents.begin(), documents.end());
    const std::vector<std::size_t> ends = balanced_runs(documents, sequence, sequences, micro_batches, attention_fraction, stages);
    // The runs go in a seeded shuffled order, as bucketed ones do.
    std::vector<std::size_t> order(ends.size());
    std::iota(order.begin(), order.end(), 0);
    shuffle(order, state);
    for (std::size_t m = 0; m < order.size(); ++m) {
      const std::size_t r = order[m], first = r == 0 ? 0 : ends[r - 1];
      const PaddedRun run =
          padded_run(static_cast<double>(ends[r] - first), documents[ends[r] - 1], length, static_cast<double>(sequences));
      result.tokens[m] = run.tokens;
      for (int c = 0; c < cp; ++c) result.attention[m * static_cast<std::size_t>(cp) + static_cast<std::size_t>(c)] = run.attention;
    }
    return result;
  }
  if (pad_to == PadTo::kBucketed) {
    std::sort(documents.begin(), documents.end());
    // The grouped micro-batches run in a seeded shuffled order, not shortest first.
    std::vector<std::size_t> order(static_cast<std::size_t>(micro_batches));
    std::iota(order.begin(), order.end(), 0);
    shuffle(order, state);
    std::vector<double> grouped;
    grouped.reserve(documents.size());
    const auto per = static_cast<std::size_t>(sequences);
    for (std::size_t m : order) grouped.insert(grouped.end(), documents.begin() + static_cast<std::ptrdiff_t>(m * per),
                                               documents.begin() + static_cast<std::ptrdiff_t>((m + 1) * per));
    documents = std::move(grouped);
  }
  for (int m = 0; m < micro_batches; ++m) {
    const auto first = documents.begin() + static_cast<std::ptrdiff_t>(m * sequences);
    const auto rows = static_cast<double>(sequences);
    const PaddedRun run = padded_run(rows, *std::max_element(first, first + static_cast<std::ptrdiff_t>(sequences)), length, rows);
    result.tokens[static_cast<std::size_t>(m)] = run.tokens;
    for (int c = 0; c < cp; ++c) result.attention[static_cast<std::size_t>(m * cp + c)] = run.attention;
  }
  return result;
}

std::shared_ptr<const std::vector<double>> read_document_lengths(const std::string& path, const std::string& column) {
  CsvReader reader(path, "document lengths");
  const std::size_t at = reader.column(column);
  auto lengths = std::make_shared<std::vector<double>>();
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    const std::string where = "line " + std::to_string(reader.line()) + ", column " + column;
    const std::string cell = at < cells.size() ? cells[at] : "";
    double tokens = 0;
    try {
      std::size_t used = 0;
      tokens = std::stod(cell, &used);
      if (used != cell.size()) throw std::invalid_argument("junk");
    } catch (const std::exception&) {
      throw InputError(path, "", where + ": expected a document's length in tokens, got \"" + cell + "\"");
    }
    if (!(tokens >= 1 && tokens <= 1e8) || tokens != std::floor(tokens)) {
      throw InputError(path, "", where + ": a document's length must be a whole number of tokens from 1 to 100,000,000, got " + cell);
    }
    lengths->push_back(tokens);
  }
  if (lengths->empty()) throw InputError(path, "", "no documents: expected a row a document under the header");
  std::sort(lengths->begin(), lengths->end());
  return lengths;
}

PackedDocuments pack_documents(const DocumentLengths& d, std::int64_t sequence) {
  // The distribution at evenly spaced quantiles: deterministic, and exact for fixed lengths
  // and for a trace (a point a row).
  const std::size_t points = d.trace ? d.trace->size() : 4096;
  const auto count = static_cast<double>(points);
  const double s = static_cast<double>(sequence);
  double tokens = 0, squares = 0, kept = 0;
  for (std::size_t i = 0; i < points; ++i) {
    const double l = length_at(d, (static_cast<double>(i) + 0.5) / count);
    const double whole = std::floor(l / s), rest = l - whole * s;
    tokens += l;
    squares += whole * s * s + rest * rest;
    kept += std::min(l, s);
  }
  PackedDocuments p;
  p.mean_tokens = tokens / count;
  p.masked_length = squares / tokens;
  p.useful_fraction = kept / count / s;
  return p;
}

}  // namespace foresight
