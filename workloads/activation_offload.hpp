#pragma once
// Activation offloading as Transformer Engine's CPU offload runs it under Megatron-core
// (--cpu-offloading-num-layers N; Megatron-Bridge's cpu_offloading_num_layers).
//
// The first N decoder layers' saved activations go to pinned host memory, one layer per copy
// on a device-to-host stream of their own, and come back on a host-to-device stream before
// their backward. TE spreads the copies over the forward: offloaded layer g must be on the
// host by the end of layer window(g)'s forward (its layer_window_map, about g x L / N), where
// the compute stream waits for it, frees its buffers and starts layer g + 1's copy. Backward
// runs the same windows in reverse: reaching layer window(g)'s backward, the compute stream
// waits for the reload before and starts layer g's. A copy therefore costs nothing while it
// is shorter than the compute between the two waits around it (about L / N layers).
#include <cstdint>
#include <vector>

#include "models/model_arch.hpp"
#include "models/op.hpp"
#include "models/transformer_ops.hpp"

namespace foresight {

// window(g) for g < `offloaded` of `layers` layers, as TE's layer_window_map: the last
// layer's forward ends the last copy's window.
std::vector<std::int64_t> offload_windows(std::int64_t offloaded, std::int64_t layers);

// What decoder layer `layer` saves for its backward: one copy's bytes.
double saved_by_layer(const ModelArch& model, const ModelOps& ops, std::int64_t layer);
// What the first `offloaded` layers save, which end up on the host.
double offloaded_activations(const ModelArch& model, const ModelOps& ops, std::int64_t offloaded);

// One layer's copy of `bytes` of saved activations to (or from) pinned host memory.
Op host_copy_op(bool to_host, double bytes);

}  // namespace foresight
