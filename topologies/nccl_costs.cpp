#include "topologies/nccl_costs.hpp"

#include <algorithm>
#include <cctype>

namespace foresight {

std::string_view protocol_name(Protocol protocol) {
  switch (protocol) {
    case Protocol::kLL: return "LL";
    case Protocol::kLL128: return "LL128";
    case Protocol::kSimple: return "Simple";
  }
  return "?";
}

std::optional<Protocol> protocol_from_name(std::string_view name) {
  for (Protocol p : kProtocols) {
    std::string lower(protocol_name(p));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == lower || name == protocol_name(p)) return p;
  }
  return std::nullopt;
}

// Fitted by scripts/fit_nccl_protocols.py (mean relative error, 8.8%) to 342 nccl-tests
// rows for all-reduce, all-gather and reduce-scatter on 2, 4 and 8 H100 SXM
// (calibration/data/serving/comm_H100-SXM-80GB_*.csv), with 0.25 us per NVLink hop. Wire
// efficiencies are fixed by the protocols' formats, not fitted. Per ring step, hops
// included, the fit gives LL 0.76, LL128 0.95 and Simple 4.1 us; NCCL's own tuning
// table for NVLink rings uses 0.47-0.6, 1.9 and 3.4 us (not used in the fit).
NcclCosts nccl_h100_costs(double nvlink_bandwidth) {
  const auto cost = [nvlink_bandwidth](double wire_efficiency, double fraction_of_link, double handshake_us) {
    return Transport{wire_efficiency, fraction_of_link * nvlink_bandwidth, from_seconds(handshake_us * 1e-6)};
  };
  NcclCosts costs;
  costs.name = "nccl_h100";
  costs.launch = from_seconds(6.53e-6);
  costs.protocols[static_cast<int>(Protocol::kLL)] = cost(0.5, 0.088, 0.26);
  costs.protocols[static_cast<int>(Protocol::kLL128)] = cost(120.0 / 128.0, 0.316, 0.45);
  costs.protocols[static_cast<int>(Protocol::kSimple)] = cost(1.0, 0.662, 3.62);
  costs.nvls = cost(1.0, 0.638, 25.95);
  return costs;
}

NcclCosts nccl_h100_costs_for(const Topology& topology) {
  double fastest = 0;
  for (auto [edge, end] = boost::out_edges(topology.gpu(0), topology.graph()); edge != end; ++edge) {
    fastest = std::max(fastest, topology.link(topology.graph()[*edge].link).bandwidth);
  }
  return nccl_h100_costs(fastest);
}

NcclCosts bare_network_costs() {
  NcclCosts costs;
  costs.name = "none";
  return costs;
}

void apply_costs(const NcclCosts& costs, Protocol protocol, CollectiveRequest& request) {
  request.launch_latency = costs.launch;
  request.transport = request.algorithm == CollectiveAlgorithm::kNvls ? costs.nvls : costs.protocols[static_cast<int>(protocol)];
}

}  // namespace foresight
