#include "workloads/sharegpt.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {
namespace {
// vLLM's filter (benchmark_serving.py): too short to measure, or too long for its 2,048-token benchmark.
constexpr std::int64_t kMinTokens = 4, kMaxPrompt = 1024, kMaxTotal = 2048;

// Characters, not bytes: UTF-8 continuation bytes do not start one.
std::int64_t characters(const std::string& text) {
  std::int64_t count = 0;
  for (const unsigned char c : text) count += (c & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

std::int64_t turn_tokens(const nlohmann::json& turn, const std::string& path, const std::string& where, double chars_per_token) {
  if (!turn.is_object() || !turn.contains("value") || !turn["value"].is_string()) {
    throw InputError(path, where, "expected a turn, an object with a \"value\" string");
  }
  return std::llround(static_cast<double>(characters(turn["value"].get<std::string>())) / chars_per_token);
}
}  // namespace

bool is_sharegpt_file(const std::string& path) { return path.ends_with(".json"); }

std::vector<Request> sharegpt_lengths(const std::string& path, double chars_per_token) {
  const nlohmann::json document = load_json_file(path);
  if (!document.is_array()) throw InputError(path, "", "expected a ShareGPT-style array of {\"conversations\": [...]} objects");
  std::vector<Request> requests;
  for (std::size_t i = 0; i < document.size(); ++i) {
    std::string where = "[";  // built piece by piece: GCC 12 warns falsely (-Wrestrict) on "[" + to_string(i)
    where += std::to_string(i);
    where += "].conversations";
    const nlohmann::json& item = document[i];
    if (!item.is_object() || !item.contains("conversations") || !item["conversations"].is_array()) {
      throw InputError(path, where, "expected an array of turns");
    }
    const nlohmann::json& turns = item["conversations"];
    if (turns.size() < 2) continue;
    const std::int64_t prompt = turn_tokens(turns[0], path, where + "[0]", chars_per_token);
    const std::int64_t output = turn_tokens(turns[1], path, where + "[1]", chars_per_token);
    if (prompt < kMinTokens || output < kMinTokens || prompt > kMaxPrompt || prompt + output > kMaxTotal) continue;
    Request r;
    r.prompt_tokens = static_cast<std::int32_t>(prompt);
    r.output_tokens = static_cast<std::int32_t>(output);
    requests.push_back(r);
  }
  if (requests.empty()) {
    throw InputError(path, "", "no conversation kept: each needs two turns of 4 to 1,024 tokens of prompt and at most 2,048 in all");
  }
  return requests;
}

}  // namespace foresight
