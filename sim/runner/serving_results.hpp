#pragma once
// What a serving run reports: a readable summary, JSON, and a CSV row per request.
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/runner/scenario.hpp"
#include "workloads/iteration_cost.hpp"
#include "workloads/serving_simulation.hpp"

namespace foresight {

inline constexpr const char* kServingResultsFormat = "foresight.serving-results.v1";
nlohmann::json serving_results_json(const Scenario& scenario, const IterationCostModel& cost, const ServingResult& result);
void print_serving_summary(std::ostream& out, const Scenario& scenario, const IterationCostModel& cost, const ServingResult& result);
std::string requests_csv(const ServingResult& result);
// A Chrome/Perfetto trace: one track per replica, one event per iteration.
std::string serving_trace(const ServingResult& result);

}  // namespace foresight
