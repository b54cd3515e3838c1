#pragma once
// What NCCL adds to the network: a fixed launch cost and, per protocol, how the data
// moves (flow_network.hpp's Transport).
//
//   LL      8-byte stores of 4 data and 4 flag bytes: half the wire is payload, and
//           the receiver polls flags instead of waiting on a fence, so a step is cheap
//   LL128   128-byte lines of 120 data and 8 flag bytes
//   Simple  plain copies; every step ends with a memory fence and a flag, the
//           highest per-step cost
//   NVLS    the in-switch all-reduce (in_switch_all_reduce.hpp); it runs on Simple but
//           has its own costs, one handshake for the whole operation
//
// Each protocol's flows are capped at a fraction of the GPU's NVLink bandwidth: the SMs
// that run NCCL's channels copy only so fast. The cap is per flow, so NIC-bound flows
// between nodes (50 GB/s) are unaffected, as NCCL reaches nearly line rate there.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topologies/collective_algorithms.hpp"

namespace foresight {

enum class Protocol { kLL, kLL128, kSimple };
inline constexpr std::array<Protocol, 3> kProtocols = {Protocol::kLL, Protocol::kLL128, Protocol::kSimple};
std::string_view protocol_name(Protocol protocol);
std::optional<Protocol> protocol_from_name(std::string_view name);

struct NcclCosts {
  std::string name;   // "nccl_h100", "none"
  Time launch = 0;    // before any data moves: kernel launch, peers' handshake
  std::array<Transport, 3> protocols;  // by Protocol
  Transport nvls;
  bool models_protocols() const { return protocols[0] != protocols[2]; }
};

// NCCL's costs fitted on 8x H100 SXM (450 GB/s of NVLink) to the apex_plus nccl-tests
// tables; see scripts/fit_nccl_protocols.py and docs/network.md for the fit and its
// error. Caps scale with `nvlink_bandwidth` (bytes/s per direction per GPU): exact for
// H100 and H200, an extrapolation for other GPUs.
NcclCosts nccl_h100_costs(double nvlink_bandwidth = 450e9);
// The same, with the fastest link out of the topology's first GPU as its NVLink.
NcclCosts nccl_h100_costs_for(const Topology& topology);
// The bare network: no launch cost, every protocol the same.
NcclCosts bare_network_costs();

// Sets the request's launch latency and transport for the algorithm and protocol
// (NVLS uses its own costs whatever the protocol).
void apply_costs(const NcclCosts& costs, Protocol protocol, CollectiveRequest& request);

}  // namespace foresight
