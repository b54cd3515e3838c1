#pragma once
// ShareGPT-style conversations (a JSON array of {"conversations": [{"from", "value"}, ...]})
// as request lengths, the way vLLM's serving benchmark samples them (benchmark_serving.py,
// sample_sharegpt_requests): the first turn is the prompt, the second the answer;
// conversations of fewer than two turns are skipped, and so are pairs with a prompt or an
// answer under 4 tokens, a prompt over 1,024 or both over 2,048. The file holds text, not
// tokens: a turn's tokens are its characters over `chars_per_token`.
#include <string>
#include <vector>

#include "workloads/serving_traffic.hpp"

namespace foresight {

// Whether the path names a ShareGPT-style file (a .json, not a trace's .csv or .jsonl).
bool is_sharegpt_file(const std::string& path);

// The lengths of every conversation kept, in file order, arriving at time 0; InputError
// naming the file and the JSON path of anything malformed, or when none is kept.
std::vector<Request> sharegpt_lengths(const std::string& path, double chars_per_token);

}  // namespace foresight
