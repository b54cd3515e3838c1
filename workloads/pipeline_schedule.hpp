#pragma once
// Pipeline schedules as policies. A schedule says only in which order each pipeline
// stage runs its units of work; the dependencies between stages (a micro-batch's
// forward moves down the stages, its backward moves back up) are the same for every
// schedule and belong to whoever runs the orders (pipeline_timeline.hpp). A new schedule
// is therefore one class with one function.
//
// Interleaved schedules give each stage `chunks` model chunks: chunk c of stage s holds
// virtual stage c * stages + s (Megatron's layout), so a micro-batch passes every stage
// `chunks` times. Bidirectional schedules hold two copies of the model: each virtual stage
// is one (stage, chunk) slot, a copy's slots run along the model in one direction, and a
// micro-batch passes the slots of its copy only.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace foresight {

enum class PipeWork {
  kForward,
  kBackward,    // input gradients (B); the whole backward when the schedule does not split it
  kWeightGrad,  // weight gradients (W), for schedules that split backward
};

struct PipeTask {
  PipeWork work = PipeWork::kForward;
  int micro_batch = 0;
  int chunk = 0;
  // A forward that runs beside the backward after it in the order (DualPipe's F&B): the
  // pair starts once both have their inputs.
  bool paired = false;
  bool operator==(const PipeTask&) const = default;
};

class PipelineSchedule {
 public:
  virtual ~PipelineSchedule() = default;
  virtual std::string_view name() const = 0;
  virtual bool splits_backward() const { return false; }
  virtual int chunks() const { return 1; }
  // "" when the schedule can run `micro_batches` through `stages`, otherwise why not.
  virtual std::string unsupported_reason(int stages, int micro_batches) const;
  // The fewest micro-batches with which the schedule runs its whole pattern (warm-up,
  // steady state, drain): from there on every further micro-batch adds the same time, so a
  // step is affine in the count, which `foresight search` extrapolates along. 0: no count
  // makes it so.
  virtual int steady_from(int stages) const { return stages; }
  // For each stage, its tasks in the order it runs them.
  virtual std::vector<std::vector<PipeTask>> orders(int stages, int micro_batches) const = 0;
  // Where the chunks sit: the virtual stage (position along the model) of `chunk` on
  // `stage`, and the stage that holds a virtual stage. Looped: chunk x stages + stage.
  virtual int virtual_stage(int stage, int chunk, int stages) const { return chunk * stages + stage; }
  int stage_of(int virtual_stage, int stages) const;

  // Copies of the model's layers the stages hold between them: 2 for a bidirectional
  // schedule, whose copies' gradients are summed before the optimizer.
  virtual int model_copies() const { return 1; }
  // Positions along the model (groups of layers) a micro-batch passes, one per virtual stage
  // of its copy; virtual stage v sits at position v mod positions.
  int positions(int stages) const { return stages * chunks() / model_copies(); }
  int position(int virtual_stage, int stages) const { return virtual_stage % positions(stages); }
  // The virtual stage at which a micro-batch enters: its copy's first.
  virtual int entry_virtual_stage(int /*micro_batch*/, int /*micro_batches*/, int /*stages*/) const { return 0; }
  // Chunks of one copy on a stage: a chunk holds 1/chunks_per_copy of a stage's share of the model.
  int chunks_per_copy() const { return chunks() / model_copies(); }
};

// The most activations any stage holds at once under these orders, in units of one
// micro-batch's activations for a whole stage (a chunk holds 1/chunks of that, `chunks`
// being the schedule's chunks_per_copy()): a forward stores its micro-batch's activations,
// the backward (B) frees them.
double peak_activations(const std::vector<std::vector<PipeTask>>& orders, int chunks);
// The same per stage.
std::vector<double> activations_in_flight(const std::vector<std::vector<PipeTask>>& orders, int chunks);

// gpipe, 1f1b, interleaved_1f1b and breadth_first (chunks = model chunks per stage), zb_h1, zb_h2,
// zb_v (two chunks per stage in a V), chimera and dualpipe (two copies of the model, in opposite
// directions; dualpipe splits W off), bitpipe (chimera's two copies, each in zb_v's V: four chunks
// per stage), dualpipev (dualpipe's steps on zb_v's V, one copy).
std::unique_ptr<PipelineSchedule> make_pipeline_schedule(std::string_view name, int chunks = 1);
// Megatron-core's combined 1F1B (--overlap-moe-expert-parallel-comm): `schedule`'s orders with
// one more warm-up forward per stage, then each forward paired with the backward after it.
// For schedules whose backward is whole and which hold one copy of the model (1f1b,
// interleaved_1f1b).
std::unique_ptr<PipelineSchedule> combine_forward_backward(std::unique_ptr<PipelineSchedule> schedule);
std::vector<std::string> pipeline_schedule_names();

}  // namespace foresight
