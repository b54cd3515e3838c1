// Surface: a sweep file (foresight sweep --spec), read and expanded into its points.
#include <algorithm>

#include "fuzz_target.hpp"
#include "sim/runner/sweep_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  SweepOptions options;
  options.spec_path = scratch_file(data, ".json");
  read_sweep_spec(options);
  std::vector<GridDimension> dimensions = options.spec_grid;
  std::size_t points = 1;
  for (const GridDimension& d : dimensions) points = std::min<std::size_t>(points * d.values.size(), 1 << 20);
  if (points <= 4096) (void)grid_points(dimensions);
}

}  // namespace foresight::fuzz
