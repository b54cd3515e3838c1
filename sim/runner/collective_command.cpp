#include "sim/runner/collective_command.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sim/input/input_error.hpp"
#include "sim/runner/results.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/in_switch_all_reduce.hpp"
#include "topologies/topology_spec.hpp"

namespace foresight {
namespace {
CollectiveKind kind_of(const std::string& op) {
  for (CollectiveKind kind : {CollectiveKind::kAllGather, CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll,
                              CollectiveKind::kBroadcast, CollectiveKind::kReduce, CollectiveKind::kSendRecv}) {
    if (op == collective_name(kind)) return kind;
  }
  return CollectiveKind::kAllReduce;
}

CollectiveAlgorithm algorithm_of(const std::string& name) {
  for (CollectiveAlgorithm a : all_algorithms()) {
    if (name == algorithm_name(a)) return a;
  }
  return CollectiveAlgorithm::kRing;
}

// nccl-tests' bus bandwidth factors: what each rank must move relative to the buffer.
double bus_factor(CollectiveKind kind, int n) {
  if (n <= 1) return 0;
  switch (kind) {
    case CollectiveKind::kAllReduce: return 2.0 * (n - 1) / n;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: return static_cast<double>(n - 1) / n;
    default: return 1.0;  // broadcast, reduce, send/recv
  }
}

const char* bus_factor_text(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllReduce: return "2(n-1)/n";
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: return "(n-1)/n";
    default: return "1";
  }
}

NcclCosts costs_of(const CollectiveOptions& o, const Topology& topology) {
  NcclCosts costs = o.protocol == "none" ? bare_network_costs() : nccl_h100_costs_for(topology);
  if (o.launch_us >= 0) costs.launch = from_seconds(o.launch_us * 1e-6);
  return costs;
}

std::vector<Protocol> protocols_of(const CollectiveOptions& o) {
  if (const auto fixed = protocol_from_name(o.protocol)) return {*fixed};
  return {kProtocols.begin(), kProtocols.end()};
}
}  // namespace

double parse_size(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw InputError("--sizes", "", "expected a size like 8B, 64K, 1MiB or 8GB, got \"" + text + "\"");
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const struct { const char* name; double scale; } kUnits[] = {
      {"", 1}, {"B", 1}, {"K", 1024.0}, {"KB", 1024.0}, {"KIB", 1024.0}, {"M", 1048576.0}, {"MB", 1048576.0},
      {"MIB", 1048576.0}, {"G", 1073741824.0}, {"GB", 1073741824.0}, {"GIB", 1073741824.0}};
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      const double bytes = value * u.scale;
      if (!(bytes >= 1) || bytes > 1e13 || bytes != std::floor(bytes)) {
        throw InputError("--sizes", "", "size \"" + text + "\" must be a whole number of bytes from 1 B to 10 TB");
      }
      return bytes;
    }
  }
  throw InputError("--sizes", "", "unknown unit in \"" + text + "\": use B, K/KiB, M/MiB or G/GiB (binary, as nccl-tests)");
}

std::vector<double> parse_size_range(const std::string& text, double factor) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) return {parse_size(text)};
  const double first = parse_size(text.substr(0, colon));
  const double last = parse_size(text.substr(colon + 1));
  if (last < first) throw InputError("--sizes", "", "the last size is smaller than the first in \"" + text + "\"");
  if (!(factor > 1)) throw InputError("--factor", "", "expected a number > 1");
  std::vector<double> sizes;
  for (double size = first; size <= last * (1 + 1e-12) && sizes.size() < 200; size = std::round(size * factor)) {
    sizes.push_back(size);
  }
  return sizes;
}

int run_collective_command(const CollectiveOptions& o, std::ostream& out) {
  const Topology topology = topology_from_argument(o.topology);
  const int available = static_cast<int>(topology.gpu_count());
  const int n = o.gpus == 0 ? available : o.gpus;
  if (n > available) {
    throw InputError("--gpus", "", std::to_string(n) + " GPUs requested but " + o.topology + " has " + std::to_string(available));
  }
  const std::vector<double> sizes = parse_size_range(o.sizes, o.factor);
  CollectiveRequest request;
  request.kind = kind_of(o.op);
  const bool automatic = o.algorithm == "auto" || o.algorithm == "nccl";
  request.algorithm = algorithm_of(o.algorithm);
  for (int i = 0; i < n; ++i) request.ranks.push_back(topology.gpu(static_cast<std::size_t>(i)));
  request.ranks_per_node = o.ranks_per_node;
  if (const std::string why = unsupported_reason(request.kind, request.algorithm, request.ranks.size(), request.ranks_per_node);
      !why.empty() && !automatic) {
    throw InputError("--algo " + o.algorithm, "", why);
  }
  if (request.algorithm == CollectiveAlgorithm::kNvls && !automatic && !reducing_switch_of(topology, request.ranks)) {
    throw InputError("--algo nvls", "", "the GPUs do not all hang off one switch that reduces in flight (NVLink SHARP: hgx_h100, "
                     "hgx_h200, hgx_b200, nvl72, or \"in_switch_reduction\" on a switch of a topology file)");
  }
  const std::unique_ptr<Router> router = make_router(topology);
  const NcclCosts costs = costs_of(o, topology);
  CollectiveTuner tuner(topology, *router, costs,
                        o.algorithm == "auto"   ? all_algorithms()
                        : o.algorithm == "nccl" ? nccl_algorithms(request.kind)
                                                : std::vector<CollectiveAlgorithm>{request.algorithm},
                        protocols_of(o));
  const bool show_choice = automatic || (o.protocol == "auto" && costs.models_protocols());

  char line[160];
  out << "# foresight collective: " << o.op << ", "
      << (o.algorithm == "auto" ? "fastest" : o.algorithm == "nccl" ? "NCCL's fastest" : std::string(algorithm_name(request.algorithm)))
      << " algorithm, " << n
      << " GPUs on " << o.topology << " (" << topology.node_count() << " nodes, " << topology.link_count()
      << " links; flow-level, max-min fair)\n"
      << "# costs: " << (costs.models_protocols() ? "NCCL on H100 (fitted, docs/network.md), protocol " + o.protocol : std::string("bare network"))
      << ", launch " << to_microseconds(costs.launch) << " us\n"
      << "# algbw = size / time; busbw = algbw x " << bus_factor_text(request.kind)
      << " (nccl-tests definitions)\n";
  std::snprintf(line, sizeof line, "#%15s %13s %13s %12s %12s%s\n", "size (B)", "count (fp32)", "time (us)", "algbw (GB/s)",
                "busbw (GB/s)", show_choice ? "  algorithm/protocol" : "");
  out << line;
  nlohmann::json rows = nlohmann::json::array();
  for (double size : sizes) {
    request.bytes = size;
    const CollectiveChoice choice = tuner.choose(request);
    const double seconds = to_seconds(choice.idle_time);
    const std::string chosen = std::string(algorithm_name(choice.algorithm)) + "/" + std::string(protocol_name(choice.protocol));
    const double algbw = seconds > 0 ? size / seconds / 1e9 : 0;
    const double busbw = algbw * bus_factor(request.kind, n);
    std::snprintf(line, sizeof line, "%16.0f %13.0f %13.2f %12.2f %12.2f", size, std::floor(size / 4), seconds * 1e6, algbw, busbw);
    out << line << (show_choice ? "  " + chosen : std::string()) << "\n";
    rows.push_back({{"bytes", size}, {"time_us", seconds * 1e6}, {"algbw_GBps", algbw}, {"busbw_GBps", busbw},
                    {"algorithm", algorithm_name(choice.algorithm)}, {"protocol", protocol_name(choice.protocol)}});
  }
  if (!o.out_path.empty()) {
    const nlohmann::json document = {{"topology", o.topology}, {"op", o.op}, {"algorithm", o.algorithm}, {"protocol", o.protocol}, {"gpus", n}, {"rows", rows}};
    write_file_atomically(o.out_path, document.dump(2) + "\n");
    out << "Wrote " << o.out_path << "\n";
  }
  return 0;
}

}  // namespace foresight
