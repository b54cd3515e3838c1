#pragma once
// `foresight import kineto -- rank0.json [rank1.json ...]`: a replay graph (docs/replay.md)
// from PyTorch profiler traces (Kineto's Chrome trace JSON), one file per rank. Every GPU
// kernel, memcpy and memset becomes an op with its measured duration on its rank and
// stream. An NCCL kernel with PyTorch's communication record (the collective's name,
// element counts, dtype and process group, on the kernel event or on the operator that
// launched it) becomes a collective: the n-th one of a process group on every member is
// one op over the group when every member's trace is given, with the shortest member's
// duration (the others include waiting for the last to arrive), or without it under
// retime_collectives, so that the graph's topology times it; otherwise it keeps its
// measured duration on each rank. Waits between streams are not in the trace: a kernel that started when its stream
// and its launch had long been ready, right as a kernel on another stream of its rank
// ended, is taken to have waited for that kernel (docs/replay.md, "Importing").
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace foresight {

struct KinetoImport {
  nlohmann::json graph;            // the replay graph
  std::vector<std::string> notes;  // what was read, merged, inferred and left out, for the header
};

// Throws InputError naming the trace file and the JSON path of what it cannot read.
KinetoImport import_kineto(const std::vector<std::string>& traces, const std::string& gpu, bool retime_collectives);

}  // namespace foresight
