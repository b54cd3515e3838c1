#include "sim/runner/import_kineto.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {
namespace {
// A kernel that starts this long after both its stream and its launch were ready waited
// for something else; an op on another stream that ended at most kCoincidenceUs before it
// started is taken as what it waited for (an event's signal reaches the waiting stream a
// few microseconds after the kernel before it ends).
constexpr double kWaitUs = 5;
constexpr double kCoincidenceUs = 10;
// A kernel that starts within this of its launch call was waiting for the host.
constexpr double kLaunchLatencyUs = 20;
constexpr std::int64_t kMaxRank = 65535;
// Longer than any kernel runs; keeps every time the replay derives inside its clock.
constexpr double kMaxDurationUs = 1e9;

struct Collective {
  std::string kind;  // the replay's name; "" when the replay has no such collective
  std::string call;  // PyTorch's name
  std::string group;
  std::vector<int> ranks;  // empty when the trace does not say
  double bytes = 0;
};

struct GpuEvent {
  std::string kernel;
  std::int64_t stream = 0;
  double start = 0, end = 0;  // us
  std::optional<std::int64_t> correlation;  // links it to the host's launch call
  std::optional<std::int64_t> external;     // links it to the operator that launched it
  std::optional<double> launched;           // us: the host's launch call
  std::optional<Collective> collective;
  int merged = -1;  // the merged collective it is one member of
  std::string op;   // the graph op it became
};

struct RankTrace {
  std::string file;
  int rank = 0;
  std::vector<GpuEvent> events;
};

std::string lowered_without_underscores(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c != '_') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// PyTorch's collective names (c10d's and its profiler's) as the replay's.
std::string replay_collective(const std::string& call) {
  const std::string s = lowered_without_underscores(call);
  if (s.starts_with("allreduce") || s == "barrier") return "all_reduce";  // NCCL runs a barrier as a one-element all-reduce
  if (s.starts_with("allgather")) return "all_gather";
  if (s.starts_with("reducescatter")) return "reduce_scatter";
  if (s.starts_with("alltoall")) return "all_to_all";
  if (s == "broadcast") return "broadcast";
  if (s == "reduce") return "reduce";
  return "";
}

std::optional<double> dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, double> sizes = {
      {"Float", 4}, {"Double", 8}, {"Half", 2}, {"BFloat16", 2}, {"Int", 4}, {"Long", 8}, {"Short", 2}, {"Char", 1},
      {"Byte", 1}, {"Bool", 1}, {"Float8_e4m3fn", 1}, {"Float8_e5m2", 1}, {"Float8_e4m3fnuz", 1}, {"Float8_e5m2fnuz", 1},
      {"ComplexFloat", 8}, {"ComplexDouble", 16}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? std::nullopt : std::optional<double>(it->second);
}

double number_at(const nlohmann::json& object, const char* key, const std::string& file, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number() || !std::isfinite(it->get<double>())) {
    throw InputError(file, path + "." + key, "expected a number");
  }
  return it->get<double>();
}

std::int64_t integer_at(const nlohmann::json& object, const char* key, std::int64_t low, std::int64_t high, const std::string& file,
                        const std::string& path) {
  const auto it = object.find(key);
  const std::optional<std::int64_t> value = it == object.end() ? std::nullopt : integer_within(*it, low, high);
  if (!value) throw InputError(file, path + "." + key, "expected a whole number in " + std::to_string(low) + ".." + std::to_string(high));
  return *value;
}

std::string text_at(const nlohmann::json& object, const char* key, const std::string& fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// "[0, 1, 2, 3]", or PyTorch's truncated "[0, 8, 16, ...]" completed by its stride up to
// the group's size; also a JSON array.
std::vector<int> group_ranks(const nlohmann::json& args, std::int64_t size, const std::string& file, const std::string& path) {
  const auto it = args.find("Process Group Ranks");
  if (it == args.end()) return {};
  std::vector<std::int64_t> listed;
  bool truncated = false;
  if (it->is_array()) {
    for (const auto& rank : *it) {
      const auto value = integer_within(rank, 0, kMaxRank);
      if (!value) throw InputError(file, path + ".Process Group Ranks", "expected ranks in 0.." + std::to_string(kMaxRank));
      listed.push_back(*value);
    }
  } else if (it->is_string()) {
    std::string text = it->get<std::string>();
    truncated = text.find("...") != std::string::npos;
    for (char& c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) c = ' ';
    }
    std::istringstream words(text);
    std::string word;
    while (words >> word) {
      if (word.size() > 7) throw InputError(file, path + ".Process Group Ranks", "a rank above " + std::to_string(kMaxRank));
      listed.push_back(std::stoll(word));
    }
  } else {
    throw InputError(file, path + ".Process Group Ranks", "expected a list of ranks");
  }
  if (truncated && listed.size() >= 2 && size > static_cast<std::int64_t>(listed.size())) {
    const std::int64_t stride = listed[1] - listed[0];
    while (static_cast<std::int64_t>(listed.size()) < size) listed.push_back(listed.back() + stride);
  }
  std::vector<int> ranks;
  std::set<std::int64_t> seen;
  for (std::int64_t rank : listed) {
    if (rank < 0 || rank > kMaxRank) throw InputError(file, path + ".Process Group Ranks", "expected ranks in 0.." + std::to_string(kMaxRank));
    if (!seen.insert(rank).second) {
      throw InputError(file, path + ".Process Group Ranks", "rank " + std::to_string(rank) + " is listed twice");
    }
    ranks.push_back(static_cast<int>(rank));
  }
  return ranks;
}

std::optional<Collective> read_collective(const nlohmann::json& args, std::int64_t world, const std::string& file, const std::string& path) {
  const auto name = args.find("Collective name");
  if (name == args.end() || !name->is_string()) return std::nullopt;
  Collective c;
  c.call = name->get<std::string>();
  c.kind = replay_collective(c.call);
  c.group = text_at(args, "Process Group Name", "0");
  const std::string dtype = text_at(args, "dtype", "");
  const std::optional<double> element = dtype_bytes(dtype);
  if (!element) throw InputError(file, path + ".dtype", "expected a PyTorch dtype name such as BFloat16 or Float, got \"" + dtype + "\"");
  const double in = static_cast<double>(integer_at(args, "In msg nelems", 0, 1'000'000'000'000'000, file, path));
  const double out = static_cast<double>(integer_at(args, "Out msg nelems", 0, 1'000'000'000'000'000, file, path));
  c.bytes = std::max(in, out) * *element;  // nccl-tests' size: the larger buffer
  const std::int64_t size = args.contains("Group size") ? integer_at(args, "Group size", 1, kMaxRank + 1, file, path) : 0;
  c.ranks = group_ranks(args, size, file, path);
  if (c.ranks.empty() && size > 0 && size == world) {
    for (int r = 0; r < size; ++r) c.ranks.push_back(r);
  }
  return c;
}

// Kineto's categories, and PyTorch 1.x's capitalized ones ("Kernel", "Memcpy", "Runtime").
bool is_gpu_activity(const std::string& category) {
  const std::string c = lowered_without_underscores(category);
  return c == "kernel" || c == "gpumemcpy" || c == "gpumemset" || c == "memcpy" || c == "memset";
}
bool is_launch(const std::string& category) {
  const std::string c = lowered_without_underscores(category);
  return c == "cudaruntime" || c == "cudadriver" || c == "runtime";
}

// The profiler's own .json.gz output would read as a JSON syntax error: say what it is.
void refuse_gzip(const std::string& file) {
  refuse_device(file);
  std::ifstream in(file, std::ios::binary);
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (in.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b) {
    throw InputError(file, "", "a gzip file: decompress it first (gunzip " + file + ")");
  }
}

RankTrace read_rank_trace(const std::string& file, int position) {
  refuse_gzip(file);
  const nlohmann::json document = load_json_file(file);
  const nlohmann::json* events = document.is_array() ? &document : nullptr;
  if (document.is_object() && document.contains("traceEvents")) events = &document["traceEvents"];
  if (events == nullptr || !events->is_array()) {
    throw InputError(file, "traceEvents", "expected a PyTorch profiler trace: an object with a traceEvents array");
  }
  RankTrace trace;
  trace.file = file;
  trace.rank = position;
  std::int64_t world = 0;
  if (document.is_object() && document.contains("distributedInfo") && document["distributedInfo"].is_object()) {
    const nlohmann::json& info = document["distributedInfo"];
    trace.rank = static_cast<int>(integer_at(info, "rank", 0, kMaxRank, file, "distributedInfo"));
    if (info.contains("world_size")) world = integer_at(info, "world_size", 1, kMaxRank + 1, file, "distributedInfo");
  }
  std::map<std::int64_t, double> launches;  // correlation id -> the launch call's time
  // External id -> an operator's communication record and its path: PyTorch before 2.3
  // writes it on the record_param_comms operator only, not on the NCCL kernel.
  std::map<std::int64_t, std::pair<const nlohmann::json*, std::string>> records;
  for (std::size_t i = 0; i < events->size(); ++i) {
    const nlohmann::json& e = (*events)[i];
    const std::string path = "traceEvents[" + std::to_string(i) + "]";
    if (!e.is_object() || text_at(e, "ph", "") != "X") continue;
    const std::string category = text_at(e, "cat", "");
    const bool gpu = is_gpu_activity(category);
    const nlohmann::json no_args = nlohmann::json::object();
    const nlohmann::json& args = e.contains("args") && e["args"].is_object() ? e["args"] : no_args;
    const std::optional<std::int64_t> external = args.contains("External id") ? integer_within(args["External id"], 0, INT64_MAX) : std::nullopt;
    if (!gpu && external && args.contains("Collective name")) records[*external] = {&args, path + ".args"};
    if (!gpu && !is_launch(category)) continue;
    const double ts = number_at(e, "ts", file, path);
    const std::optional<std::int64_t> correlation =
        args.contains("correlation") ? integer_within(args["correlation"], 0, INT64_MAX) : std::nullopt;
    if (!gpu) {
      if (correlation) launches[*correlation] = ts;
      continue;
    }
    GpuEvent event;
    event.kernel = text_at(e, "name", category);
    event.start = ts;
    const double duration = number_at(e, "dur", file, path);
    if (duration < 0 || duration > kMaxDurationUs) throw InputError(file, path + ".dur", "expected a duration of 0 to 1e9 us");
    event.end = ts + duration;
    event.stream = integer_at(args, "stream", 0, INT64_MAX, file, path + ".args");
    event.correlation = correlation;
    event.external = external;
    event.collective = read_collective(args, world, file, path + ".args");
    trace.events.push_back(std::move(event));
  }
  for (GpuEvent& event : trace.events) {
    const auto record = event.collective || !event.external ? records.end() : records.find(*event.external);
    if (record != records.end()) event.collective = read_collective(*record->second.first, world, file, record->second.second);
  }
  for (GpuEvent& event : trace.events) {
    const auto it = event.correlation ? launches.find(*event.correlation) : launches.end();
    if (it != launches.end()) event.launched = it->second;
  }
  std::stable_sort(trace.events.begin(), trace.events.end(), [](const GpuEvent& a, const GpuEvent& b) { return a.start < b.start; });
  return trace;
}

std::string short_kernel_name(const std::string& kernel) {
  std::string name = kernel.starts_with("void ") ? kernel.substr(5) : kernel;
  name = name.substr(0, std::min(name.find('('), name.find('<')));
  if (name.size() > 48) name.resize(48);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name.empty() ? "kernel" : name;
}

class GraphBuilder {
 public:
  GraphBuilder(std::vector<RankTrace> traces, bool retime) : traces_(std::move(traces)), retime_(retime) {
    for (const RankTrace& t : traces_) {
      ranks_ = std::max(ranks_, t.rank + 1);
      traced_.insert(t.rank);
    }
  }

  KinetoImport build(const std::string& gpu) {
    choose_merged_groups();
    name_ops();
    infer_waits();
    nlohmann::json ops = emit_ops();
    // Ranks' clocks differ, so two collectives can be seen in opposite orders on two ranks;
    // the waits inferred into collectives then close a loop the replay cannot run.
    if (has_cycle(ops)) {
      for (nlohmann::json& op : ops) {
        if (op.contains("collective")) op.erase("after");
      }
      notes_.push_back("the waits inferred into collectives formed a cycle (ranks' clocks disagree): left out");
    }
    KinetoImport result;
    result.graph = {{"ranks", ranks_}, {"gpu", gpu}, {"ops", std::move(ops)}};
    result.notes = std::move(notes_);
    return result;
  }

 private:
  using Key = std::pair<std::string, int>;  // process group, its n-th collective

  // A process group's collectives become one op each when every member's trace is given and
  // every member's n-th collective agrees on kind and size; otherwise the whole group's stay
  // per rank, with their measured durations, so that its stream keeps one order.
  void choose_merged_groups() {
    std::map<std::string, std::string> why_not;
    std::map<Key, std::vector<GpuEvent*>> instances;
    for (RankTrace& t : traces_) {
      std::map<std::string, int> seen;
      for (GpuEvent& e : t.events) {
        if (!e.collective) continue;
        const Collective& c = *e.collective;
        instances[{c.group, seen[c.group]++}].push_back(&e);
        if (c.kind.empty()) why_not.emplace(c.group, "its " + c.call + " is not a collective the replay times");
        if (c.ranks.size() < 2) why_not.emplace(c.group, "the trace does not list its ranks");
        for (int member : c.ranks) {
          if (!traced_.contains(member)) why_not.emplace(c.group, "rank " + std::to_string(member) + " of it has no trace here");
        }
      }
    }
    for (const auto& [key, events] : instances) {
      const Collective& first = *events.front()->collective;
      const bool agree = events.size() == first.ranks.size() && std::all_of(events.begin(), events.end(), [&](const GpuEvent* e) {
        return e->collective->kind == first.kind && e->collective->bytes == first.bytes && e->collective->ranks == first.ranks;
      });
      if (!agree) why_not.emplace(key.first, "its members' collective " + std::to_string(key.second) + " differs in kind, size or count");
    }
    for (const auto& [key, events] : instances) {
      if (why_not.contains(key.first)) continue;
      for (GpuEvent* e : events) e->merged = static_cast<int>(merged_.size());
      merged_.push_back({key, events});
    }
    for (const auto& [group, why] : why_not) notes_.push_back("process group " + group + ": kept as measured on each rank, since " + why);
  }

  void name_ops() {
    for (auto& [key, events] : merged_) {
      const std::string name = "pg" + key.first + "." + std::to_string(key.second) + " " + events.front()->collective->kind;
      for (GpuEvent* e : events) e->op = name;
    }
    if (!merged_.empty()) {
      notes_.push_back("collectives merged into one op over their group: " + std::to_string(merged_.size()) + ", " +
                       (retime_ ? "timed on the graph's topology" : "each with its shortest member's measured duration"));
    }
    for (RankTrace& t : traces_) {
      int index = 0;
      for (GpuEvent& e : t.events) {
        // Appended rather than "r" + to_string(...): GCC 12 warns falsely (-Wrestrict) on that form.
        if (e.op.empty()) e.op.append("r").append(std::to_string(t.rank)).append(".").append(std::to_string(index)).append(" ").append(short_kernel_name(e.kernel));
        ++index;
      }
    }
  }

  void infer_waits() {
    int inferred = 0;
    for (const RankTrace& t : traces_) {
      std::map<std::int64_t, double> stream_free;  // stream -> when its last op ended
      std::multimap<double, const GpuEvent*> ended;  // the ops started so far, by end
      double host_wait = 0;
      for (const GpuEvent& e : t.events) {
        ended.emplace(e.end, &e);
        const auto free = stream_free.find(e.stream);
        const double stream_ready = free == stream_free.end() ? -INFINITY : free->second;
        stream_free[e.stream] = e.end;
        const double ready = std::max(stream_ready, e.launched.value_or(-INFINITY));
        if (!(e.start - ready > kWaitUs) || !std::isfinite(ready)) continue;
        if (e.launched && e.start - *e.launched <= kLaunchLatencyUs) {
          if (std::isfinite(stream_ready)) host_wait += e.start - stream_ready;  // the stream idled until the launch
          continue;
        }
        const GpuEvent* cause = latest_end_before(ended, e);
        if (cause != nullptr && after_[e.op].insert(cause->op).second) ++inferred;
      }
      if (host_wait > 0) {
        std::ostringstream line;
        line.precision(3);
        line << std::fixed << "rank " << t.rank << ": the GPU waited " << host_wait / 1000 << " ms for kernel launches; the replay "
             << "launches each op as soon as its stream and dependencies allow";
        notes_.push_back(line.str());
      }
    }
    notes_.push_back("waits between streams inferred from the timing: " + std::to_string(inferred));
  }

  // The op on another stream that ended last, at most kCoincidenceUs before `e` started.
  static const GpuEvent* latest_end_before(const std::multimap<double, const GpuEvent*>& ended, const GpuEvent& e) {
    for (auto it = ended.upper_bound(e.start); it != ended.begin();) {
      --it;
      if (it->first < e.start - kCoincidenceUs) break;
      const GpuEvent& other = *it->second;
      if (other.stream != e.stream && other.op != e.op) return &other;
    }
    return nullptr;
  }

  static std::string stream_name(const GpuEvent& e, std::int64_t compute) {
    if (e.collective) return "nccl." + e.collective->group;
    return e.stream == compute ? "compute" : "s" + std::to_string(e.stream);
  }

  // The rank's stream that ran the most kernel time, NCCL's aside.
  std::int64_t compute_stream(const RankTrace& t) const {
    std::map<std::int64_t, double> busy;
    for (const GpuEvent& e : t.events) {
      if (!e.collective) busy[e.stream] += e.end - e.start;
    }
    const auto most = std::max_element(busy.begin(), busy.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    return most == busy.end() ? -1 : most->first;
  }

  // Whether stream order and "after" together loop: Kahn's algorithm over the ops.
  static bool has_cycle(const nlohmann::json& ops) {
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < ops.size(); ++i) index[ops[i]["name"].get<std::string>()] = i;
    std::vector<std::vector<std::size_t>> next(ops.size());
    std::vector<int> waiting(ops.size(), 0);
    const auto edge = [&](std::size_t from, std::size_t to) {
      next[from].push_back(to);
      ++waiting[to];
    };
    std::map<std::pair<std::int64_t, std::string>, std::size_t> last_on_stream;  // (rank, stream) -> op
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const nlohmann::json& op = ops[i];
      const std::vector<std::int64_t> ranks = op.contains("group") ? op["group"].get<std::vector<std::int64_t>>()
                                                                    : std::vector<std::int64_t>{op["rank"].get<std::int64_t>()};
      for (std::int64_t rank : ranks) {
        const auto key = std::pair{rank, op["stream"].get<std::string>()};
        if (const auto it = last_on_stream.find(key); it != last_on_stream.end()) edge(it->second, i);
        last_on_stream[key] = i;
      }
      for (const auto& name : op.value("after", nlohmann::json::array())) edge(index.at(name.get<std::string>()), i);
    }
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (waiting[i] == 0) ready.push_back(i);
    }
    std::size_t done = 0;
    while (!ready.empty()) {
      const std::size_t i = ready.back();
      ready.pop_back();
      ++done;
      for (std::size_t j : next[i]) {
        if (--waiting[j] == 0) ready.push_back(j);
      }
    }
    return done < ops.size();
  }

  nlohmann::json emit_ops() const {
    struct Entry {
      double start;
      int rank;
      nlohmann::json op;
    };
    std::vector<Entry> entries;
    std::set<std::string> emitted;
    const double origin = earliest_start();
    for (const RankTrace& t : traces_) {
      const std::int64_t compute = compute_stream(t);
      for (const GpuEvent& e : t.events) {
        if (!emitted.insert(e.op).second) continue;
        nlohmann::json op = {{"name", e.op}};
        if (e.merged >= 0) {
          const std::vector<GpuEvent*>& members = merged_[static_cast<std::size_t>(e.merged)].second;
          op["collective"] = e.collective->kind;
          op["group"] = e.collective->ranks;
          op["bytes"] = e.collective->bytes;
          op["stream"] = stream_name(e, compute);
          if (!retime_) op["duration_us"] = shortest(members);
          const double first = (*std::min_element(members.begin(), members.end(), [](auto a, auto b) { return a->start < b->start; }))->start;
          add_after(op, e.op);
          entries.push_back({first - origin, t.rank, std::move(op)});
          continue;
        }
        op["rank"] = t.rank;
        op["stream"] = stream_name(e, compute);
        op["duration_us"] = e.end - e.start;
        add_after(op, e.op);
        entries.push_back({e.start - origin, t.rank, std::move(op)});
      }
    }
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.start < b.start; });
    nlohmann::json ops = nlohmann::json::array();
    for (Entry& entry : entries) ops.push_back(std::move(entry.op));
    return ops;
  }

  void add_after(nlohmann::json& op, const std::string& name) const {
    const auto it = after_.find(name);
    if (it != after_.end()) op["after"] = std::vector<std::string>(it->second.begin(), it->second.end());
  }

  static double shortest(const std::vector<GpuEvent*>& members) {
    double best = INFINITY;
    for (const GpuEvent* e : members) best = std::min(best, e->end - e->start);
    return best;
  }

  double earliest_start() const {
    double origin = INFINITY;
    for (const RankTrace& t : traces_) {
      if (!t.events.empty()) origin = std::min(origin, t.events.front().start);
    }
    return std::isfinite(origin) ? origin : 0;
  }

  std::vector<RankTrace> traces_;
  bool retime_;
  int ranks_ = 1;
  std::set<int> traced_;
  std::vector<std::pair<Key, std::vector<GpuEvent*>>> merged_;
  std::map<std::string, std::set<std::string>> after_;
  std::vector<std::string> notes_;
};
}  // namespace

KinetoImport import_kineto(const std::vector<std::string>& traces, const std::string& gpu, bool retime_collectives) {
  std::vector<RankTrace> ranks;
  std::set<int> seen;
  for (std::size_t i = 0; i < traces.size(); ++i) {
    RankTrace trace = read_rank_trace(traces[i], static_cast<int>(i));
    if (!seen.insert(trace.rank).second) {
      throw InputError(traces[i], "distributedInfo.rank", "rank " + std::to_string(trace.rank) + " is given by another trace too");
    }
    ranks.push_back(std::move(trace));
  }
  std::vector<std::string> read;
  for (const RankTrace& t : ranks) {
    int collectives = 0, unrecorded = 0;
    for (const GpuEvent& e : t.events) {
      collectives += e.collective.has_value();
      unrecorded += !e.collective && e.kernel.starts_with("nccl");
    }
    read.push_back("rank " + std::to_string(t.rank) + ": " + t.file + ", " + std::to_string(t.events.size()) + " GPU ops, " +
                   std::to_string(collectives) + " of them collectives");
    if (unrecorded > 0) {
      read.push_back("rank " + std::to_string(t.rank) + ": " + std::to_string(unrecorded) + " NCCL kernels carry no communication record "
                     "on them or on the operator that launched them: kept as measured kernels on their stream");
    }
    if (t.events.empty()) throw InputError(t.file, "traceEvents", "no GPU kernels, memcpys or memsets: profile with CUDA activities on");
  }
  KinetoImport result = GraphBuilder(std::move(ranks), retime_collectives).build(gpu);
  result.notes.insert(result.notes.begin(), read.begin(), read.end());
  return result;
}

}  // namespace foresight
