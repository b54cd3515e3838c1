#pragma once
// Writes the Chrome trace event format (JSON), which ui.perfetto.dev and chrome://tracing
// open: one process per resource group (a GPU, a switch), one thread per track (a stream,
// a link). An op that holds several resources appears on each of their tracks; a
// dependency between ops on different tracks is a flow arrow between their slices.
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/engine/observer.hpp"

namespace foresight {

class ChromeTraceWriter : public ExecutionObserver {
 public:
  // Returns extra "args" for an op as JSON object text ("{...}"), or "" for none.
  using ArgsFormatter = std::function<std::string(OpId)>;

  explicit ChromeTraceWriter(ArgsFormatter args = {}) : args_(std::move(args)) {}

  void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) override;
  // A counter sample shown as a graph in the process of `group` (a resource group such
  // as "GPU 3"), from `when` until the counter's next sample.
  void add_counter(const std::string& group, const std::string& name, Time when, double value);
  void write(const OpGraph& graph, std::ostream& out) const;

 private:
  struct Span { OpId op; Time start; Time end; };
  struct Counter { std::string group; std::string name; Time when; double value; };
  template <typename Separator>
  void write_flows(const OpGraph& graph, const std::vector<std::pair<int, int>>& ids, std::ostream& out, Separator& separator) const;
  std::vector<Span> spans_;
  std::vector<Counter> counters_;
  ArgsFormatter args_;
};

std::string json_escape(std::string_view text);

}  // namespace foresight
