#pragma once
// `foresight import chakra -- trace.0.et trace.1.et ...`: a replay graph (docs/replay.md)
// from Chakra execution traces (MLCommons' schema, the input of ASTRA-sim), one file per
// rank: protobuf messages, each prefixed by its varint length, a GlobalMetadata first.
// GPU compute nodes become ops with their recorded duration; a rank's compute runs one
// node at a time, as ASTRA-sim runs it. The n-th collective of a process group on every
// rank that holds the group is one collective over those ranks; a send and the matching
// receive (by source, destination and tag) are one send_recv. Control and data
// dependencies become `after`, bridged through the nodes the replay has no use for (CPU
// operators, memory and metadata nodes).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace foresight {

struct ChakraImport {
  nlohmann::json graph;            // the replay graph
  std::vector<std::string> notes;  // what was read, merged, bridged and left out
};

// Throws InputError naming the trace file and the node or byte offset it cannot read.
// `retime_collectives`: merged collectives and send/recvs drop their recorded durations,
// so that the graph's topology times them.
ChakraImport import_chakra(const std::vector<std::string>& traces, const std::string& gpu, bool retime_collectives);

}  // namespace foresight
