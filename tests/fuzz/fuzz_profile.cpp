// Surface: a calibration profile (foresight calibrate's output, read by the profile model).
#include "calibration/profile.hpp"
#include "fuzz_target.hpp"
#include "sim/input/json_document.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) { (void)read_profile(parse_json_text(data, "fuzz.json"), "fuzz.json"); }

}  // namespace foresight::fuzz
