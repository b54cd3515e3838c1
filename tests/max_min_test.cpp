#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "sim/engine/random.hpp"
#include "topologies/max_min.hpp"

using namespace foresight;

namespace {
std::vector<double> solve(const std::vector<double>& capacity, const std::vector<std::vector<LinkId>>& paths) {
  std::vector<std::span<const LinkId>> views(paths.begin(), paths.end());
  MaxMinSolver solver;
  std::vector<double> rates;
  solver.solve(capacity, views, rates);
  return rates;
}
}  // namespace

TEST_CASE("max-min: one bottleneck shared equally") {
  // Link 0 (capacity 12) carries three flows: each gets 4.
  CHECK(solve({12}, {{0}, {0}, {0}}) == std::vector<double>{4, 4, 4});
}

TEST_CASE("max-min: the bottleneck frees capacity for the others (Bertsekas-Gallager style)") {
  // Link 0 (cap 1) carries f0, f1, f2; link 1 (cap 2) carries f2, f3.
  // Fair shares: link 0 1/3, link 1 1. Link 0 fills first: f0 = f1 = f2 = 1/3.
  // Link 1 then has 2 - 1/3 = 5/3 left for f3 alone: f3 = 5/3.
  const auto r = solve({1, 2}, {{0}, {0}, {0, 1}, {1}});
  CHECK(r[0] == doctest::Approx(1.0 / 3));
  CHECK(r[1] == doctest::Approx(1.0 / 3));
  CHECK(r[2] == doctest::Approx(1.0 / 3));
  CHECK(r[3] == doctest::Approx(5.0 / 3));
}

TEST_CASE("max-min: a flow limited elsewhere leaves the rest to its neighbour") {
  // Link 0 (cap 10): f0, f1; link 1 (cap 3): f1 only. Shares: link 0 5, link 1 3.
  // Link 1 fills first: f1 = 3; link 0 has 7 left for f0.
  const auto r = solve({10, 3}, {{0}, {0, 1}});
  CHECK(r[0] == doctest::Approx(7));
  CHECK(r[1] == doctest::Approx(3));
}

TEST_CASE("max-min: a chain (parking lot) gives the long flow the same share as each short one") {
  // Links 0, 1, 2 (cap 1 each); the long flow crosses all three, one short flow per link.
  // Every link carries 2 flows: all shares are 1/2, so every flow gets 1/2.
  const auto r = solve({1, 1, 1}, {{0, 1, 2}, {0}, {1}, {2}});
  for (double rate : r) CHECK(rate == doctest::Approx(0.5));
}

TEST_CASE("max-min: two jobs behind one oversubscribed uplink each get half") {
  // Job A: 3 flows over their own NIC links (10 each) and the shared uplink 4 (cap 8).
  // Job B: 1 flow over NIC link 3 (10) and the uplink. Uplink share 8/4 = 2 per flow,
  // below any NIC share: all four flows get 2. Each job gets what its flows get: the
  // uplink is split per flow, so A (3 flows) gets 6 and B gets 2.
  const auto r = solve({10, 10, 10, 10, 8}, {{0, 4}, {1, 4}, {2, 4}, {3, 4}});
  for (double rate : r) CHECK(rate == doctest::Approx(2));
}

TEST_CASE("max-min: rates are reproducible and the solver is reusable") {
  MaxMinSolver solver;
  std::vector<std::vector<LinkId>> paths = {{0, 1}, {1, 2}, {2}, {0}};
  std::vector<std::span<const LinkId>> views(paths.begin(), paths.end());
  std::vector<double> first, second;
  solver.solve(std::vector<double>{5, 3, 4}, views, first);
  solver.solve(std::vector<double>{5, 3, 4}, views, second);
  CHECK(first == second);
  // link 1 (cap 3, flows f0 f1) has the least share 1.5: f0 = f1 = 1.5; link 2 then has
  // 2.5 for f2; link 0 has 3.5 for f3.
  CHECK(first == std::vector<double>{1.5, 1.5, 2.5, 3.5});
}

TEST_CASE("max-min: uncontended flows get their narrowest link") {
  // No link carries two flows (the fast path): f0 crosses links of 5 and 3 -> 3; f1 has
  // link 2 (4) alone -> 4; an empty path is a local copy with no limit.
  const auto r = solve({5, 3, 4}, {{0, 1}, {2}, {}});
  CHECK(r[0] == 3);
  CHECK(r[1] == 4);
  CHECK(std::isinf(r[2]));
}

TEST_CASE("max-min: flows alone on all their links skip the filling, the rest share") {
  // f0 is alone on links 0 (7) and 1 (9): its narrowest, 7. f3 is alone on link 4 (4)
  // but shares link 2 (10) with f1 and f2, so it is filled with them: link 2's share
  // 10/3 is below link 4's 4, so all three get 10/3. Link 3 carries nothing.
  const auto r = solve({7, 9, 10, 2, 4}, {{0, 1}, {2}, {2}, {4, 2}});
  CHECK(r[0] == 7);
  CHECK(r[1] == doctest::Approx(10.0 / 3));
  CHECK(r[2] == doctest::Approx(10.0 / 3));
  CHECK(r[3] == doctest::Approx(10.0 / 3));
}

TEST_CASE("max-min: the scan and the heap find the same bottlenecks, and the rates are max-min fair") {
  // 2,000 flows over 300 links of random capacity, each crossing 1 to 5 distinct links:
  // solved once with each way of finding a round's bottleneck.
  RandomStream rng(11, "max-min");
  std::vector<double> capacity(300);
  for (double& c : capacity) c = 1e9 * static_cast<double>(1 + rng.next_u64() % 50);
  std::vector<std::vector<LinkId>> paths(2000);
  for (auto& path : paths) {
    const std::size_t hops = 1 + rng.next_u64() % 5;
    while (path.size() < hops) {
      const auto l = static_cast<LinkId>(rng.next_u64() % capacity.size());
      if (std::find(path.begin(), path.end(), l) == path.end()) path.push_back(l);
    }
  }
  std::vector<std::span<const LinkId>> views(paths.begin(), paths.end());
  MaxMinSolver scanning, heaping;
  heaping.set_scan_limit(0);
  std::vector<double> scanned, heaped;
  scanning.solve(capacity, views, scanned);
  heaping.solve(capacity, views, heaped);
  CHECK(scanned == heaped);  // bit for bit

  // Max-min fairness: no link is over capacity, and every flow crosses a full link on which
  // no flow goes faster (Bertsekas and Gallager's bottleneck characterization).
  std::vector<double> load(capacity.size(), 0);
  for (std::size_t f = 0; f < paths.size(); ++f) {
    for (LinkId l : paths[f]) load[l] += scanned[f];
  }
  for (std::size_t l = 0; l < capacity.size(); ++l) CHECK(load[l] <= capacity[l] * (1 + 1e-9));
  std::vector<double> fastest(capacity.size(), 0);
  for (std::size_t f = 0; f < paths.size(); ++f) {
    for (LinkId l : paths[f]) fastest[l] = std::max(fastest[l], scanned[f]);
  }
  std::size_t without_bottleneck = 0;
  for (std::size_t f = 0; f < paths.size(); ++f) {
    const bool bottlenecked = std::any_of(paths[f].begin(), paths[f].end(), [&](LinkId l) {
      return load[l] >= capacity[l] * (1 - 1e-9) && scanned[f] >= fastest[l] * (1 - 1e-12);
    });
    if (!bottlenecked) ++without_bottleneck;
  }
  CHECK(without_bottleneck == 0);
}
