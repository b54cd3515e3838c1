#pragma once
// Megatron-core's --pipeline-model-parallel-layout: a string such as "Et*3|(tt|)*29,m|L"
// that lists each virtual stage's pieces in pipeline order, stages split by '|': E the
// embedding, t a decoder layer, m a multi-token-prediction layer, L the loss; X*N repeats a
// piece or a parenthesised group N times; commas and spaces are cosmetic.
#include <cstdint>
#include <string>
#include <vector>

namespace foresight {

struct MegatronLayout {
  std::vector<std::int64_t> layers;  // decoder layers on each virtual stage
  std::int64_t mtp_layers = 0;       // m pieces
  bool mtp_last = true;              // every m on the last stage, where foresight runs them
  bool embedding_first = true;       // E only on the first stage, once
  bool loss_last = true;             // L only on the last stage, once
};

// Throws InputError naming the flag on a malformed string.
MegatronLayout parse_megatron_layout(const std::string& text);

// The layout string of a split, embedding on the first stage, and the multi-token
// prediction layers and the loss on the last.
std::string megatron_layout_string(const std::vector<std::int64_t>& layers, std::int64_t mtp_layers = 0);

}  // namespace foresight
