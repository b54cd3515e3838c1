// Surface: a request trace in CSV.
#include "fuzz_target.hpp"
#include "workloads/serving_traffic.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  TrafficConfig traffic;
  traffic.trace = scratch_file(data, ".csv");
  traffic.requests = 0;
  (void)make_requests(traffic, 1);
}

}  // namespace foresight::fuzz
