#include "sim/runner/export_placement.hpp"

#include <algorithm>

#include "sim/runner/scenario.hpp"

namespace foresight {
namespace {
// Servers fill machines in launch order; one that does not fit in what is left of a machine
// starts the next.
class MachineFiller {
 public:
  MachineFiller(int gpus_per_machine, int first_machine) : per_machine_(gpus_per_machine), machine_(first_machine) {}
  Placement place(std::int64_t gpus, int port) {
    if (next_ > 0 && next_ + gpus > per_machine_) {
      ++machine_;
      next_ = 0;
    }
    Placement p{machine_, static_cast<int>(next_), gpus, 1, port};
    if (gpus > per_machine_) {
      p.machines = static_cast<int>((gpus + per_machine_ - 1) / per_machine_);
      p.gpus = per_machine_;
      machine_ += p.machines - 1;
      next_ = per_machine_;
      return p;
    }
    next_ += gpus;
    return p;
  }
  int machine() const { return machine_; }

 private:
  std::int64_t per_machine_;
  int machine_;
  std::int64_t next_ = 0;
};
}  // namespace

ServerShape prefill_server_shape(const Scenario& s) {
  const ServingConfig& c = s.serving;
  return {c.tp, c.pp, c.max_num_seqs, c.max_batched_tokens};
}

ServerShape decode_server_shape(const Scenario& s) {
  const ServingConfig& c = s.serving;
  if (!c.decode_pool) return prefill_server_shape(s);
  const ServingConfig::DecodePool& pool = *c.decode_pool;
  return {pool.tp, pool.pp, pool.max_num_seqs > 0 ? pool.max_num_seqs : c.max_num_seqs,
          pool.max_batched_tokens > 0 ? pool.max_batched_tokens : c.max_batched_tokens, true};
}

ServingConfig server_config(const ServingConfig& c, const ServerShape& shape) {
  ServingConfig server = shape.decode_pool ? decode_replicas_config(c) : c;
  server.tp = shape.tp;
  server.pp = shape.pp;
  server.max_num_seqs = shape.max_num_seqs;
  server.max_batched_tokens = shape.max_batched_tokens;
  server.replicas = 1;
  server.prefill_replicas = 0;
  return server;
}

std::string Placement::devices() const {
  std::string list;
  for (std::int64_t i = 0; i < gpus; ++i) {
    if (i > 0) list += ',';
    list += std::to_string(first_device + i);
  }
  return list;
}

std::string PoolLayout::host(const Placement& p) const { return one_machine() ? "localhost" : "node" + std::to_string(p.machine); }

std::string PoolLayout::machines_comment(const Scenario& s) const {
  if (one_machine()) return "";
  const auto& pool = s.serving.decode_pool;
  return "# " + std::to_string(machines) + " machines of " + std::to_string(std::max(s.fabric.gpus, 1)) + " GPUs" +
         (pool && !pool->same_machines ? " (the decode pool's " + pool->gpu.name + " on machines of its own)" : "") +
         ": run each server on the machine named above it (node0, node1, ...: their hostnames go where the router lists them).\n";
}

std::string PoolLayout::where(const Placement& p, const std::string& spanning) const {
  if (p.machines > 1) return "# on " + host(p) + " to node" + std::to_string(p.machine + p.machines - 1) + ": " + spanning + "\n";
  return one_machine() ? "" : "# on " + host(p) + "\n";
}

std::string in_background(const std::string& command) { return command.substr(0, command.size() - 1) + " &\n"; }

PoolLayout lay_out_pools(const Scenario& s, int first_port) {
  const ServingConfig& c = s.serving;
  const ServerShape prefill = prefill_server_shape(s), decode = decode_server_shape(s);
  const int per_machine = std::max(s.fabric.gpus, 1);
  MachineFiller filler(per_machine, 0);
  PoolLayout layout;
  int port = first_port;
  for (std::int64_t i = 0; i < c.prefill_replicas; ++i) layout.prefill.push_back(filler.place(prefill.tp * prefill.pp, port++));
  MachineFiller pool_filler(per_machine, filler.machine() + 1);
  const bool pool_apart = c.decode_pool && !c.decode_pool->same_machines;
  for (std::int64_t i = c.prefill_replicas; i < c.replicas; ++i) {
    layout.decode.push_back((pool_apart ? pool_filler : filler).place(decode.tp * decode.pp, port++));
  }
  for (const auto* servers : {&layout.prefill, &layout.decode}) {
    for (const Placement& p : *servers) layout.machines = std::max(layout.machines, p.machine + p.machines);
  }
  return layout;
}

void note_pool_rules(const ServingConfig& c, bool length_rule, std::vector<std::string>& notes) {
  if (c.conditional_disagg && !length_rule) {
    notes.push_back("conditional disaggregation (short prompts prefilled on the decode replica): the PD router sends every prompt to a "
                    "prefill server; NVIDIA Dynamo's router (--conditional-disagg) decides as the scenario does");
  } else if (c.conditional_disagg && c.conditional_disagg->max_prefill_queue_size < ServingConfig::kNoPrefillQueueRule) {
    notes.push_back("conditional_disagg.max_prefill_queue_size " + std::to_string(c.conditional_disagg->max_prefill_queue_size) +
                    " is Dynamo's rule: TensorRT-LLM's disaggregated server decides by the prompt's length alone");
  }
  if (c.mixed_pool_kv_load) {
    notes.push_back("mixed_pool_kv_load (Splitwise's mixed pool: prefill servers keep decodes while the decode pool is full): the "
                    "engine's prefill servers always hand their requests over");
  }
}

}  // namespace foresight
