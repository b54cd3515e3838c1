#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace foresight {

enum class Dtype { kFp32, kTf32, kBf16, kFp16, kFp8 };
inline constexpr std::array<Dtype, 5> kAllDtypes = {Dtype::kFp32, Dtype::kTf32, Dtype::kBf16,
                                                    Dtype::kFp16, Dtype::kFp8};

std::string_view dtype_name(Dtype dtype);
std::optional<Dtype> parse_dtype(std::string_view name);
std::vector<std::string> dtype_names();
// Storage size; tf32 is computed on fp32 storage.
double dtype_bytes(Dtype dtype);

}  // namespace foresight
