// Serving against queueing theory: one replica that serves one request at a time is a
// single-server FIFO queue. With Poisson arrivals and identical requests (deterministic
// service S), the mean wait before service is M/D/1's rho S / (2 (1 - rho)) (the
// Pollaczek-Khinchine formula with zero service variance), rho = lambda S.
#include <doctest/doctest.h>

#include <cmath>

#include "models/roofline_model.hpp"
#include "workloads/serving_simulation.hpp"

using namespace foresight;

TEST_CASE("one request at a time under Poisson arrivals: the mean queueing delay is M/D/1's") {
  const ModelArch model = *find_builtin_model("llama3_8b");
  const GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  NodeFabric fabric;
  fabric.preset = "nvswitch_node";
  fabric.bandwidth = 450e9;
  const RooflineModel roofline{RooflineParameters{}};
  ServingConfig config;
  config.max_num_seqs = 1;
  config.traffic.prompt = {256, 256};
  config.traffic.output = {16, 16};

  // The service time: one request alone, from arrival to its last token.
  config.traffic.requests = 1;
  IterationCostModel cost(model, gpu, fabric, config, roofline);
  const double service = simulate_serving(config, make_requests(config.traffic, 1), cost).e2e.mean;

  for (double rho : {0.5, 0.7}) {
    // Four independent runs of 100,000 requests, pooled: their spread is +-3% each at
    // rho 0.7 (waits are long-correlated there), about 1% for the pooled mean.
    config.traffic.requests = 100000;
    config.traffic.rate = rho / service;
    double wait = 0;
    for (std::uint64_t seed = 3; seed < 7; ++seed) {
      const ServingResult r = simulate_serving(config, make_requests(config.traffic, seed), cost);
      wait += r.queueing.mean / 4;
      CHECK(r.e2e.p50 >= service * 0.999);
    }
    const double expected = rho * service / (2 * (1 - rho));
    MESSAGE("rho " << rho << ": service " << service * 1e3 << " ms; mean wait simulated " << wait * 1e3 << " ms, M/D/1 "
                   << expected * 1e3 << " ms (" << (wait / expected - 1) * 100 << "%)");
    CHECK(std::fabs(wait / expected - 1) < 0.025);  // tolerance 2.5%
  }
}
