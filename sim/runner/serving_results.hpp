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
// A Chrome/Perfetto trace: a process per replica, named with its role, one event per
// iteration on its track; and a process of requests, a track per request with its
// queued, prefill and decode spans.
std::string serving_trace(const ServingResult& result, const ServingConfig& config);

}  // namespace foresight
