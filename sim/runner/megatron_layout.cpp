#include "sim/runner/megatron_layout.hpp"

#include <cctype>

#include "sim/input/input_error.hpp"

namespace foresight {
namespace {
const char* const kFlag = "--pipeline-model-parallel-layout";
constexpr std::size_t kMaxExpanded = 1'000'000;  // pieces: far beyond any model, small enough to expand

[[noreturn]] void malformed(const std::string& text, std::size_t at, const std::string& why) {
  throw InputError("", kFlag, why + " at character " + std::to_string(at + 1) + " of \"" + text + "\"");
}

// Expands repetitions into a flat string of pieces and '|' separators.
class Expander {
 public:
  explicit Expander(const std::string& text) : text_(text) {}

  std::string expand() {
    std::string out = sequence(0);
    if (at_ < text_.size()) malformed(text_, at_, "an unmatched ')'");
    return out;
  }

 private:
  std::string sequence(int depth) {
    std::string out;
    while (at_ < text_.size() && text_[at_] != ')') {
      const char c = text_[at_];
      if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
        ++at_;
        continue;
      }
      std::string piece;
      if (c == '(') {
        if (depth >= 16) malformed(text_, at_, "groups nested deeper than 16");
        ++at_;
        piece = sequence(depth + 1);
        if (at_ >= text_.size()) malformed(text_, at_, "a '(' without its ')'");
        ++at_;
      } else if (c == 'E' || c == 't' || c == 'm' || c == 'L' || c == '|') {
        piece = std::string(1, c);
        ++at_;
      } else {
        malformed(text_, at_, std::string("an unknown piece '") + c + "' (expected E, t, m, L, |, parentheses or *N)");
      }
      const std::size_t times = repeat();
      if (piece.empty()) continue;  // "()*N" repeats nothing
      for (std::size_t i = 0; i < times; ++i) {
        out += piece;
        if (out.size() > kMaxExpanded) malformed(text_, at_, "more than a million pieces");
      }
    }
    return out;
  }

  std::size_t repeat() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
    if (at_ >= text_.size() || text_[at_] != '*') return 1;
    const std::size_t star = at_++;
    std::size_t n = 0, digits = 0;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
      n = n * 10 + static_cast<std::size_t>(text_[at_++] - '0');
      if (++digits > 7) malformed(text_, star, "a repetition above 9,999,999");
    }
    if (digits == 0) malformed(text_, star, "a '*' without a count");
    return n;
  }

  const std::string& text_;
  std::size_t at_ = 0;
};
}  // namespace

MegatronLayout parse_megatron_layout(const std::string& text) {
  const std::string pieces = Expander(text).expand();
  MegatronLayout layout;
  layout.layers.push_back(0);
  std::int64_t embeddings = 0, losses = 0;
  for (std::size_t at = 0; at < pieces.size(); ++at) {
    const char c = pieces[at];
    if (c == '|') {
      layout.layers.push_back(0);
    } else if (c == 't') {
      ++layout.layers.back();
    } else if (c == 'm') {
      ++layout.mtp_layers;
      layout.mtp_last = layout.mtp_last && pieces.find('|', at) == std::string::npos;
    } else if (c == 'E') {
      ++embeddings;
      layout.embedding_first = layout.embedding_first && layout.layers.size() == 1;
    } else {
      ++losses;
    }
  }
  // The loss belongs to the last stage: nothing but cosmetics may follow its L.
  const std::size_t last_loss = pieces.rfind('L');
  layout.loss_last = losses == 1 && pieces.find('|', last_loss) == std::string::npos;
  layout.embedding_first = layout.embedding_first && embeddings == 1;
  return layout;
}

std::string megatron_layout_string(const std::vector<std::int64_t>& layers, std::int64_t mtp_layers) {
  std::string out;
  for (std::size_t s = 0; s < layers.size(); ++s) {
    if (s > 0) out += '|';
    if (s == 0) out += 'E';
    if (layers[s] == 1) out += 't';
    if (layers[s] > 1) out += "t*" + std::to_string(layers[s]);
    if (s + 1 < layers.size()) continue;
    if (mtp_layers == 1) out += 'm';
    if (mtp_layers > 1) out += "m*" + std::to_string(mtp_layers);
    out += 'L';
  }
  return out;
}

}  // namespace foresight
