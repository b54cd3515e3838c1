// A structure-aware mutator for the JSON surfaces (libFuzzer's custom-mutator hook): half
// the time it parses the input and changes one value, key or element in ways readers get
// wrong (extreme numbers, wrong types, missing and unknown keys, spliced subtrees), so the
// fuzzer reaches past the JSON syntax into the readers' checks; otherwise libFuzzer's own
// byte mutations run.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/runner/scenario.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

using Json = nlohmann::json;

// Every key the scenario reader knows (from its documenting mode) and the other readers'.
const std::vector<std::string>& key_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all = {"ops", "ranks", "collective", "bytes", "group", "duration_us", "rank", "gemm", "m", "n", "k",
                                    "after", "stream", "nodes", "links", "from", "to", "duplex", "kind", "grid", "set",
                                    "objective", "constraints", "measurements", "op", "median_us", "model_type", "hidden_size",
                                    "num_attention_heads", "num_key_value_heads", "head_dim", "n_embd", "n_head", "rows",
                                    "pareto", "pareto_front", "metrics", "traceEvents", "configurations", "slo"};
    for (const foresight::FieldDoc& doc : foresight::scenario_reference()) {
      const std::size_t dot = doc.path.rfind('.');
      all.push_back(dot == std::string::npos ? doc.path : doc.path.substr(dot + 1));
    }
    return all;
  }();
  return names;
}

Json interesting_number(std::minstd_rand& random) {
  static const double kNumbers[] = {0, -1, 1, 2, 3, 7, 8, 64, 0.5, 1e-300, 1e-9, 1e6, 1e9, 1e12, 1e15, 1e18, 1e300, 2147483647, 2147483648.0,
                                    4294967297.0, 9.2e18, -1e300};
  return kNumbers[random() % std::size(kNumbers)];
}

Json interesting_string(std::minstd_rand& random) {
  static const char* kStrings[] = {"", "h100_sxm", "a100_sxm_80gb", "rtx_4090", "llama3_8b", "mixtral_8x7b", "vllm_v1", "vllm_v0", "sglang",
                                   "trtllm", "sarathi", "vllm", "all_reduce", "send_recv", "all_to_all", "1f1b", "zb_h1", "interleaved",
                                   "nvswitch_node", "pcie_node", "bf16", "fp8", "learned", "profile", "roofline", "auto", "1e400",
                                   "max:throughput", "min:latency", "ttft_p99<=1"};
  if (random() % 8 == 0) return std::string(1 + random() % 300, 'x');
  return kStrings[random() % std::size(kStrings)];
}

Json random_scalar(std::minstd_rand& random) {
  switch (random() % 4) {
    case 0: return interesting_number(random);
    case 1: return interesting_string(random);
    case 2: return random() % 2 == 0;
    default: return nullptr;
  }
}

void collect(Json& node, std::vector<Json*>& nodes) {
  std::vector<Json*> stack = {&node};
  while (!stack.empty()) {
    Json* current = stack.back();
    stack.pop_back();
    nodes.push_back(current);
    if (current->is_structured()) {
      for (auto& child : *current) stack.push_back(&child);
    }
  }
}

void mutate_node(Json& node, const std::vector<Json*>& nodes, std::minstd_rand& random) {
  if (node.is_object() && random() % 2 == 0) {
    if (!node.empty() && random() % 2 == 0) {
      auto it = node.begin();
      std::advance(it, static_cast<long>(random() % node.size()));
      node.erase(it);
    } else {
      node[key_names()[random() % key_names().size()]] = random() % 3 == 0 ? *nodes[random() % nodes.size()] : random_scalar(random);
    }
    return;
  }
  if (node.is_array() && random() % 2 == 0) {
    if (!node.empty() && random() % 2 == 0) {
      node.erase(node.begin() + static_cast<long>(random() % node.size()));
    } else {
      node.push_back(node.empty() ? random_scalar(random) : Json(node[random() % node.size()]));
    }
    return;
  }
  switch (random() % 4) {
    case 0: node = interesting_number(random); break;
    case 1: node = node.is_number() ? Json(node.get<double>() * (random() % 2 == 0 ? 1e3 : -1)) : random_scalar(random); break;
    case 2: node = random_scalar(random); break;
    default: node = Json(*nodes[random() % nodes.size()]); break;  // splice another subtree (copied first)
  }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed) {
  std::minstd_rand random(seed);
  if (random() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  Json document = Json::parse(data, data + size, nullptr, false, true);
  if (document.is_discarded()) return LLVMFuzzerMutate(data, size, max_size);
  const int edits = 1 + static_cast<int>(random() % 3);
  for (int i = 0; i < edits; ++i) {
    std::vector<Json*> nodes;
    collect(document, nodes);
    mutate_node(*nodes[random() % nodes.size()], nodes, random);
  }
  const std::string text = document.dump();
  if (text.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, text.data(), text.size());
  return text.size();
}
