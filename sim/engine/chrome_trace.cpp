#include "sim/engine/chrome_trace.hpp"

#include <cstdio>
#include <map>

namespace foresight {

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

void ChromeTraceWriter::on_op_end(const OpGraph&, OpId op, Time start, Time end) {
  spans_.push_back({op, start, end});
}

void ChromeTraceWriter::add_counter(const std::string& group, const std::string& name, Time when, double value) {
  counters_.push_back({group, name, when, value});
}

// A dependency between ops on different tracks (a GEMM's output to the collective that
// reduces it, a pipeline send to the stage that receives it) as a flow arrow from the
// producer's slice to the consumer's; ops on one track already run in order, and are left
// out. The "s" end binds to the slice it starts in, the "f" end (binding "e") to the slice
// it lands in, so each arrow joins two slices of the first resource each op holds.
template <typename Separator>
void ChromeTraceWriter::write_flows(const OpGraph& graph, const std::vector<std::pair<int, int>>& ids, std::ostream& out,
                                    Separator& separator) const {
  std::vector<const Span*> span_of(graph.op_count(), nullptr);
  for (const Span& span : spans_) span_of[span.op] = &span;
  std::size_t id = 0;
  for (const auto& [before, after] : graph.dependencies()) {
    const Span* from = span_of[before];
    const Span* to = span_of[after];
    const auto& from_tracks = graph.resources_of(before);
    const auto& to_tracks = graph.resources_of(after);
    if (from == nullptr || to == nullptr || from_tracks.empty() || to_tracks.empty() || from_tracks.front() == to_tracks.front()) continue;
    const auto [from_pid, from_tid] = ids[from_tracks.front()];
    const auto [to_pid, to_tid] = ids[to_tracks.front()];
    ++id;
    separator();
    out << "{\"ph\":\"s\",\"name\":\"dependency\",\"cat\":\"dependency\",\"id\":" << id << ",\"pid\":" << from_pid << ",\"tid\":" << from_tid
        << ",\"ts\":" << format_microseconds_exact(from->start) << "},\n"
        << "{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"dependency\",\"cat\":\"dependency\",\"id\":" << id << ",\"pid\":" << to_pid
        << ",\"tid\":" << to_tid << ",\"ts\":" << format_microseconds_exact(to->start) << "}";
  }
}

void ChromeTraceWriter::write(const OpGraph& graph, std::ostream& out) const {
  // pids and tids follow the order resources were declared, so the file is reproducible
  // and the viewer lists GPUs and streams in the order the workload created them.
  std::map<std::string, int> pid_of_group;
  std::vector<std::pair<int, int>> ids(graph.resource_count());
  std::vector<int> next_tid;
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto separator = [&] { out << (first ? "" : ",\n"); first = false; };
  for (ResourceId r = 0; r < graph.resource_count(); ++r) {
    const ResourceSpec& spec = graph.resource(r);
    auto [it, inserted] = pid_of_group.try_emplace(spec.group, static_cast<int>(pid_of_group.size()) + 1);
    const int pid = it->second;
    if (inserted) {
      next_tid.push_back(1);
      separator();
      out << "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":" << pid
          << ",\"args\":{\"name\":\"" << json_escape(spec.group) << "\"}},\n"
          << "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":" << pid
          << ",\"args\":{\"sort_index\":" << pid << "}}";
    }
    const int tid = next_tid[pid - 1]++;
    ids[r] = {pid, tid};
    separator();
    out << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" << pid << ",\"tid\":" << tid
        << ",\"args\":{\"name\":\"" << json_escape(spec.track) << "\"}},\n"
        << "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":" << pid << ",\"tid\":" << tid
        << ",\"args\":{\"sort_index\":" << tid << "}}";
  }
  for (const Span& span : spans_) {
    const OpSpec& op = graph.op(span.op);
    const std::string name = json_escape(graph.label_text(op.name));
    const std::string category = json_escape(graph.label_text(op.category));
    const std::string args = args_ ? args_(span.op) : std::string();
    for (ResourceId r : graph.resources_of(span.op)) {
      separator();
      out << "{\"ph\":\"X\",\"name\":\"" << name << "\",\"cat\":\"" << category
          << "\",\"pid\":" << ids[r].first << ",\"tid\":" << ids[r].second
          << ",\"ts\":" << format_microseconds_exact(span.start)
          << ",\"dur\":" << format_microseconds_exact(span.end - span.start);
      if (!args.empty()) out << ",\"args\":" << args;
      out << "}";
    }
  }
  write_flows(graph, ids, out, separator);
  for (const Counter& c : counters_) {
    const auto it = pid_of_group.find(c.group);
    if (it == pid_of_group.end()) continue;
    char value[48];
    std::snprintf(value, sizeof value, "%.3f", c.value);
    separator();
    out << "{\"ph\":\"C\",\"name\":\"" << json_escape(c.name) << "\",\"pid\":" << it->second
        << ",\"ts\":" << format_microseconds_exact(c.when) << ",\"args\":{\"GB/s\":" << value << "}}";
  }
  out << "\n]}\n";
}

}  // namespace foresight
