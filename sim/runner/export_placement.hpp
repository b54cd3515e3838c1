#pragma once
// Where `foresight export` puts the servers of disaggregated prefill and decode pools: the
// prefill servers fill the scenario's machines in launch order, the decode servers follow
// them there, or, with a decode pool of its own, fill machines of their own. Each server gets
// a port; a server wider than a machine spans whole ones.
#include <cstdint>
#include <string>
#include <vector>

namespace foresight {

struct Scenario;
struct ServingConfig;

// One server of a pool: its parallel shape and scheduler limits.
struct ServerShape {
  std::int64_t tp = 1, pp = 1, max_num_seqs = 0, max_batched_tokens = 0;
  bool decode_pool = false;  // a decode pool's server: its own CUDA graphs and scheduling too
};
ServerShape prefill_server_shape(const Scenario& s);
// The decode pool's own TP, PP and limits where it has them, else the prefill servers'.
ServerShape decode_server_shape(const Scenario& s);
// The scenario's serving settings at one server's shape: one replica of that TP, PP and those
// limits, not disaggregated, for an exporter to write that server's flags from.
ServingConfig server_config(const ServingConfig& c, const ServerShape& shape);

struct Placement {
  int machine = 0;       // node0, node1, ...
  int first_device = 0;  // on that machine
  std::int64_t gpus = 1;
  int machines = 1;      // more than one: the server spans whole machines
  int port = 0;
  std::string devices() const;  // CUDA_VISIBLE_DEVICES on its (first) machine
};

struct PoolLayout {
  std::vector<Placement> prefill, decode;
  int machines = 1;
  bool one_machine() const { return machines == 1; }
  // "localhost" on one machine, else "node<k>".
  std::string host(const Placement& p) const;
  // A comment line saying where the servers run when they take more than one machine.
  std::string machines_comment(const Scenario& s) const;
  // The comment line above a server naming its machine ("" on one machine); a server spanning
  // machines names them and `spanning`, how its engine launches across them.
  std::string where(const Placement& p, const std::string& spanning) const;
};

// A continued_lines command run in the background (" &" before its final newline).
std::string in_background(const std::string& command);

PoolLayout lay_out_pools(const Scenario& s, int first_port);

// What a disaggregated scenario's routing rules leave to the launch's router: conditional
// disaggregation (`length_rule`: the engine's disaggregated server takes the length rule, as
// TensorRT-LLM's does) and Splitwise's mixed pool, which no engine's PD servers run.
void note_pool_rules(const ServingConfig& c, bool length_rule, std::vector<std::string>& notes);

}  // namespace foresight
