#pragma once
// What a run reports: a readable summary for people, JSON for machines.
#include <ostream>

#include <nlohmann/json.hpp>

#include "sim/runner/output_files.hpp"
#include "sim/runner/scenario.hpp"
#include "workloads/training_step.hpp"

namespace foresight {

// Every results document names its format, so readers can tell versions apart; a change
// that renames or removes a field bumps the version.
inline constexpr const char* kTrainingResultsFormat = "foresight.training-results.v1";
nlohmann::json results_json(const Scenario& scenario, const TrainingResult& result);
void print_summary(std::ostream& out, const Scenario& scenario, const TrainingResult& result);
// The run to training.target from this step (docs/training.md, "Time to target").
TimeToTarget time_to_target(const Scenario& scenario, const TrainingResult& result);

// Which models timed the run's compute ops and collectives, and per op class how many of
// the compute ops lay outside the measurements behind the model (both workloads).
nlohmann::json cost_models_json(const Scenario& scenario);
// Prints that per-class account when a calibrated model timed anything (roofline runs
// have nothing to add to the "costs" line).
void print_cost_models(std::ostream& out, const Scenario& scenario);


}  // namespace foresight
