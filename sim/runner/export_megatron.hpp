#pragma once
// The Megatron-LM launch `foresight export megatron` prints, as words; the Megatron-Bridge
// export writes the same settings as ConfigContainer fields.
#include <string>
#include <vector>

#include "sim/runner/scenario.hpp"

namespace foresight {

struct MegatronLaunch {
  std::vector<std::string> notes;               // what the arguments cannot express
  std::vector<std::vector<std::string>> lines;  // torchrun's words, then pretrain_gpt.py's, a line per concern
  void add(std::vector<std::string> words) {
    if (!words.empty()) lines.push_back(std::move(words));
  }
};

// The note a LoRA scenario's Megatron-LM launch carries (pretrain_gpt.py trains every weight).
inline constexpr const char* kMegatronLoraNote =
    "lora: Megatron-LM's pretrain_gpt.py trains every weight; LoRA runs under NeMo or Megatron-Bridge (their peft LoRA)";

// InputError for what pretrain_gpt.py cannot train (an encoder-decoder model).
MegatronLaunch megatron_launch(const Scenario& s);

}  // namespace foresight
