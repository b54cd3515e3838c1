#include "sim/runner/import_chakra.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <utility>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/input/protobuf_wire.hpp"

namespace foresight {
namespace {
constexpr std::int64_t kMaxRank = 65535;
// Longer than any kernel runs, and more bytes than any collective moves: keeps every time
// the replay derives inside its clock.
constexpr double kMaxDurationUs = 1e9;
constexpr double kMaxBytes = 1e15;
constexpr double kMaxFlops = 1e21;
constexpr double kBarrierBytes = 4;  // NCCL runs a barrier as a one-element all-reduce

// Chakra's NodeType numbers (schema/protobuf/et_def.proto); the others carry no GPU work.
constexpr std::int64_t kComputeNode = 4, kSendNode = 5, kRecvNode = 6, kCollectiveNode = 7;

// CollectiveCommType as the replay's collectives; "" where the replay has none (gather, scatter).
std::string collective_kind(std::int64_t comm_type) {
  switch (comm_type) {
    case 0: case 9: return "all_reduce";  // 9: barrier
    case 1: return "reduce";
    case 2: return "all_gather";
    case 5: return "broadcast";
    case 6: return "all_to_all";
    case 7: case 8: return "reduce_scatter";  // 8: reduce_scatter_block, equal blocks
    default: return "";
  }
}

struct Attribute {
  std::optional<double> number;  // any scalar number; a bool as 0 or 1
  std::optional<std::string> text;
};

struct Node {
  std::uint64_t id = 0;
  std::string name;
  std::int64_t type = 0;
  std::vector<std::uint64_t> deps;  // control and data dependencies
  std::uint64_t start_us = 0, duration_us = 0;
  std::map<std::string, Attribute> attrs;
};

enum class Role { kSkipped, kCompute, kCollective, kSend, kRecv };

struct RankTrace {
  std::string file;
  int rank = 0;
  std::string version;
  std::vector<Node> nodes;
  std::vector<Role> roles;
  std::vector<std::size_t> order;  // node indices, dependencies first
  std::vector<std::vector<std::size_t>> deps;  // per node: indices of the nodes it depends on, in the file
};

void expect_type(const WireReader& r, const WireField& f, WireType type) {
  if (f.type != type) {
    r.fail(f.offset, "field " + std::to_string(f.number) + " has wire type " + std::to_string(static_cast<int>(f.type)) +
                         " where Chakra's schema has " + std::to_string(static_cast<int>(type)) + ": not a Chakra execution trace?");
  }
}

template <typename To, typename From>
To bits_as(From bits) {
  To value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// AttributeProto: its name and its scalar value (lists and doc strings are not used).
Attribute read_attribute(WireReader r, std::string& name) {
  Attribute a;
  while (!r.at_end()) {
    const WireField f = r.field();
    switch (f.number) {
      case 1: expect_type(r, f, WireType::kLengthDelimited); name = std::string(f.bytes); break;
      case 3: expect_type(r, f, WireType::kFixed64); a.number = bits_as<double>(f.scalar); break;
      case 5: expect_type(r, f, WireType::kFixed32); a.number = bits_as<float>(static_cast<std::uint32_t>(f.scalar)); break;
      case 7: case 9: expect_type(r, f, WireType::kVarint); a.number = static_cast<double>(static_cast<std::int64_t>(f.scalar)); break;
      case 11: case 13: case 27: expect_type(r, f, WireType::kVarint); a.number = static_cast<double>(f.scalar); break;
      case 15: case 17: expect_type(r, f, WireType::kVarint); a.number = static_cast<double>(zigzag_decoded(f.scalar)); break;
      case 19: expect_type(r, f, WireType::kFixed32); a.number = static_cast<double>(f.scalar); break;
      case 21: expect_type(r, f, WireType::kFixed64); a.number = static_cast<double>(f.scalar); break;
      case 23: expect_type(r, f, WireType::kFixed32); a.number = bits_as<std::int32_t>(static_cast<std::uint32_t>(f.scalar)); break;
      case 25: expect_type(r, f, WireType::kFixed64); a.number = static_cast<double>(bits_as<std::int64_t>(f.scalar)); break;
      case 29: case 31: expect_type(r, f, WireType::kLengthDelimited); a.text = std::string(f.bytes); break;
      default: break;
    }
  }
  return a;
}

// A repeated uint64: packed (one length-delimited field) or one varint per value.
void read_ids(const WireReader& r, const WireField& f, std::vector<std::uint64_t>& ids) {
  if (f.type == WireType::kVarint) {
    ids.push_back(f.scalar);
    return;
  }
  expect_type(r, f, WireType::kLengthDelimited);
  WireReader packed = r.nested(f);
  while (!packed.at_end()) ids.push_back(packed.varint());
}

Node read_node(WireReader r) {
  Node n;
  while (!r.at_end()) {
    const WireField f = r.field();
    switch (f.number) {
      case 1: expect_type(r, f, WireType::kVarint); n.id = f.scalar; break;
      case 2: expect_type(r, f, WireType::kLengthDelimited); n.name = std::string(f.bytes); break;
      case 3: expect_type(r, f, WireType::kVarint); n.type = static_cast<std::int64_t>(f.scalar); break;
      case 4: case 5: read_ids(r, f, n.deps); break;
      case 6: expect_type(r, f, WireType::kVarint); n.start_us = f.scalar; break;
      case 7: expect_type(r, f, WireType::kVarint); n.duration_us = f.scalar; break;
      case 10: {
        expect_type(r, f, WireType::kLengthDelimited);
        std::string name;
        const Attribute a = read_attribute(r.nested(f), name);
        n.attrs[name] = a;
        break;
      }
      default: break;  // inputs, outputs, storage and fields of later schemas
    }
  }
  return n;
}

// GlobalMetadata has fields 1 (the version, a string) and 2 (attributes) only; a Node
// always carries more (its type) or an id, a varint.
bool is_metadata(std::string_view message, const std::string& file, std::size_t base) {
  WireReader r(message, file, base);
  while (!r.at_end()) {
    const WireField f = r.field();
    if (f.number > 2 || f.type != WireType::kLengthDelimited) return false;
  }
  return true;
}

std::string metadata_version(std::string_view message, const std::string& file, std::size_t base) {
  WireReader r(message, file, base);
  while (!r.at_end()) {
    const WireField f = r.field();
    if (f.number == 1) return std::string(f.bytes);
  }
  return "";
}

// Chakra's converters write <prefix>.<rank>.et; other names take their place in the list.
int rank_from_name(const std::string& file, int position) {
  std::string name = file.substr(file.find_last_of('/') + 1);
  if (name.ends_with(".et")) name.resize(name.size() - 3);
  const auto dot = name.find_last_of('.');
  if (dot == std::string::npos) return position;
  const std::string digits = name.substr(dot + 1);
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return position;
  }
  const int rank = std::stoi(digits);
  return rank <= kMaxRank ? rank : position;
}

std::string node_path(const Node& n) { return "node " + std::to_string(n.id); }

Role role_of(const Node& n) {
  const auto cpu = n.attrs.find("is_cpu_op");
  const bool on_cpu = cpu != n.attrs.end() && cpu->second.number.value_or(0) != 0;
  switch (n.type) {
    case kComputeNode: return on_cpu ? Role::kSkipped : Role::kCompute;
    case kCollectiveNode: return Role::kCollective;
    case kSendNode: return Role::kSend;
    case kRecvNode: return Role::kRecv;
    default: return Role::kSkipped;
  }
}

// Dependencies first; among ready nodes, the earliest recorded start, then file order.
void order_nodes(RankTrace& t, std::size_t& dangling) {
  std::map<std::uint64_t, std::size_t> index;
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    if (!index.emplace(t.nodes[i].id, i).second) throw InputError(t.file, node_path(t.nodes[i]), "a second node with this id");
  }
  const std::size_t n = t.nodes.size();
  t.deps.assign(n, {});
  std::vector<std::vector<std::size_t>> dependents(n);
  std::vector<std::size_t> waiting(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::set<std::size_t> unique;
    for (std::uint64_t id : t.nodes[i].deps) {
      const auto it = index.find(id);
      if (it == index.end() || it->second == i) {
        ++dangling;
        continue;
      }
      unique.insert(it->second);
    }
    t.deps[i].assign(unique.begin(), unique.end());
    waiting[i] = unique.size();
    for (std::size_t d : unique) dependents[d].push_back(i);
  }
  using Ready = std::pair<std::uint64_t, std::size_t>;
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.emplace(t.nodes[i].start_us, i);
  }
  t.order.clear();
  while (!ready.empty()) {
    const std::size_t i = ready.top().second;
    ready.pop();
    t.order.push_back(i);
    for (std::size_t next : dependents[i]) {
      if (--waiting[next] == 0) ready.emplace(t.nodes[next].start_us, next);
    }
  }
  if (t.order.size() < n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (waiting[i] > 0) throw InputError(t.file, node_path(t.nodes[i]), "lies on a cycle of control and data dependencies");
    }
  }
}

// The messages of a trace: a GlobalMetadata (its version kept), then Nodes.
void read_messages(const std::string& bytes, RankTrace& t) {
  WireReader stream(bytes, t.file);
  bool first_message = true;
  while (!stream.at_end()) {
    const std::string_view message = stream.delimited();
    const std::size_t base = stream.offset() - message.size();
    if (std::exchange(first_message, false) && is_metadata(message, t.file, base)) {
      t.version = metadata_version(message, t.file, base);
      continue;
    }
    t.nodes.push_back(read_node(WireReader(message, t.file, base)));
  }
}

RankTrace read_trace(const std::string& file, int position, std::size_t& dangling) {
  const std::string bytes = read_input_file(file);
  RankTrace t;
  t.file = file;
  t.rank = rank_from_name(file, position);
  try {
    read_messages(bytes, t);
  } catch (const InputError&) {
    // A first length byte of '{' or '[' is legal protobuf, so JSON is named only once the
    // bytes fail to read as a trace.
    const auto first = bytes.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (bytes[first] == '{' || bytes[first] == '[')) {
      throw InputError(file, "", "a JSON file: this reads Chakra's binary traces (.et, as ASTRA-sim does), not chakra_jsonizer's JSON; "
                                 "for PyTorch profiler JSON use `foresight import kineto`");
    }
    throw;
  }
  if (t.nodes.empty()) throw InputError(file, "", "no nodes: expected a Chakra execution trace (varint-length-prefixed Node messages)");
  t.roles.reserve(t.nodes.size());
  for (const Node& n : t.nodes) t.roles.push_back(role_of(n));
  order_nodes(t, dangling);
  return t;
}

// A number as text, whole ones without the ".0" a double's JSON carries.
std::string whole(double value) {
  if (value == std::floor(value) && std::abs(value) < 1e15) return std::to_string(static_cast<long long>(value));
  return nlohmann::json(value).dump();
}

const Attribute* attribute(const Node& n, const char* name) {
  const auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : &it->second;
}

double whole_number_attr(const RankTrace& t, const Node& n, const char* name, double high) {
  const Attribute* a = attribute(n, name);
  if (a == nullptr || !a->number) throw InputError(t.file, node_path(n) + ".attr." + name, "missing: expected a whole number");
  const double v = *a->number;
  if (!(v >= 0 && v <= high) || v != std::floor(v)) {
    throw InputError(t.file, node_path(n) + ".attr." + name, "expected a whole number in 0.." + whole(high));
  }
  return v;
}

double duration_of(const RankTrace& t, const Node& n) {
  if (static_cast<double>(n.duration_us) > kMaxDurationUs) {
    throw InputError(t.file, node_path(n) + ".duration_micros", "longer than " + whole(kMaxDurationUs) + " us");
  }
  return static_cast<double>(n.duration_us);
}

// Names reach the graph's JSON: printable ASCII, short.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?');
  return out;
}

// "r<rank>.<node name>#<node id>": unique, and readable in the replay's trace.
std::string op_name(int rank, const Node& n) {
  std::string name = "r";
  name += std::to_string(rank);
  name += '.';
  name += printable(n.name);
  name += '#';
  name += std::to_string(n.id);
  return name;
}

std::string group_name(const Node& n) {
  const Attribute* a = attribute(n, "pg_name");
  if (a == nullptr) return "";
  if (a->text) return printable(*a->text);
  return a->number ? whole(*a->number) : "";
}

using NodeRef = std::pair<std::size_t, std::size_t>;  // trace, node

struct GraphOp {
  nlohmann::json json;  // everything but "after"
  std::vector<NodeRef> members;
};

class GraphBuilder {
 public:
  GraphBuilder(std::vector<RankTrace>& traces, bool retime) : traces_(traces), retime_(retime) {
    op_of_.resize(traces_.size());
    for (std::size_t i = 0; i < traces_.size(); ++i) op_of_[i].assign(traces_[i].nodes.size(), -1);
    for (std::size_t i = 0; i < traces_.size(); ++i) trace_of_rank_[traces_[i].rank] = i;
  }

  void add_compute() {
    for (std::size_t ti = 0; ti < traces_.size(); ++ti) {
      const RankTrace& t = traces_[ti];
      for (std::size_t ni : t.order) {
        if (t.roles[ni] != Role::kCompute) continue;
        const Node& n = t.nodes[ni];
        nlohmann::json op = {{"name", op_name(t.rank, n)}, {"rank", t.rank}};
        const double duration = duration_of(t, n);
        const Attribute* flops = attribute(n, "num_ops");
        if (duration == 0 && flops != nullptr && flops->number.value_or(0) > 0) {
          // No recorded time: the roofline times its operations and bytes, as ASTRA-sim's does.
          const Attribute* bytes = attribute(n, "tensor_size");
          op["work"] = {{"flops", whole_number_attr(t, n, "num_ops", kMaxFlops)},
                        {"bytes", bytes && bytes->number ? whole_number_attr(t, n, "tensor_size", kMaxBytes) : 0.0}};
          ++work_compute_;
        } else {
          op["duration_us"] = duration;
          if (duration == 0) ++untimed_compute_;
        }
        add(std::move(op), {{ti, ni}});
        ++compute_;
      }
    }
  }

  void add_collectives() {
    // Each group's collectives, in each member's program order.
    std::map<std::string, std::map<int, std::vector<NodeRef>>> by_group;
    for (std::size_t ti = 0; ti < traces_.size(); ++ti) {
      for (std::size_t ni : traces_[ti].order) {
        if (traces_[ti].roles[ni] == Role::kCollective) by_group[group_name(traces_[ti].nodes[ni])][traces_[ti].rank].push_back({ti, ni});
      }
    }
    for (const auto& [group, members] : by_group) {
      const auto& [first_rank, first_calls] = *members.begin();
      for (const auto& [rank, calls] : members) {
        if (calls.size() != first_calls.size()) {
          throw InputError(traces_[calls.front().first].file, "", "process group \"" + group + "\": " + std::to_string(calls.size()) +
                                                                     " collectives here and " + std::to_string(first_calls.size()) + " in " +
                                                                     traces_[first_calls.front().first].file +
                                                                     ": every member's trace must hold all of the group's collectives");
        }
      }
      for (std::size_t k = 0; k < first_calls.size(); ++k) {
        std::vector<NodeRef> call;
        for (const auto& [rank, calls] : members) call.push_back(calls[k]);
        add_collective(group, k, call);
      }
    }
  }

  void add_point_to_point() {
    // Sends and receives by (source, destination, tag), in each rank's program order.
    std::map<std::tuple<double, double, double>, std::vector<NodeRef>> sends, receives;
    for (std::size_t ti = 0; ti < traces_.size(); ++ti) {
      const RankTrace& t = traces_[ti];
      for (std::size_t ni : t.order) {
        const Role role = t.roles[ni];
        if (role != Role::kSend && role != Role::kRecv) continue;
        const Node& n = t.nodes[ni];
        const Attribute* tag_attr = attribute(n, "comm_tag");
        const double tag = tag_attr && tag_attr->number ? *tag_attr->number : 0.0;
        if (!std::isfinite(tag)) throw InputError(t.file, node_path(n) + ".attr.comm_tag", "expected a number");
        const double peer = whole_number_attr(t, n, role == Role::kSend ? "comm_dst" : "comm_src", static_cast<double>(kMaxRank));
        const double self = t.rank;
        if (peer == self) throw InputError(t.file, node_path(n), "a send or receive between rank " + std::to_string(t.rank) + " and itself");
        const auto key = role == Role::kSend ? std::tuple{self, peer, tag} : std::tuple{peer, self, tag};
        (role == Role::kSend ? sends : receives)[key].push_back({ti, ni});
      }
    }
    for (auto& [key, sent] : sends) {
      const int to = static_cast<int>(std::get<1>(key));
      std::vector<NodeRef>& received = receives[key];
      if (!trace_of_rank_.contains(to)) {
        for (const NodeRef& send : sent) add_unmatched(send, "its receiver's trace (rank " + std::to_string(to) + ") is not given");
        continue;
      }
      if (received.size() != sent.size()) {
        throw InputError(traces_[sent.front().first].file, node_path(node(sent.front())),
                         std::to_string(sent.size()) + " sends to rank " + std::to_string(to) + " with tag " +
                             whole(std::get<2>(key)) + " here, " + std::to_string(received.size()) +
                             " matching receives in rank " + std::to_string(to) + "'s trace");
      }
      for (std::size_t k = 0; k < sent.size(); ++k) add_send_recv(sent[k], received[k]);
      received.clear();
    }
    for (const auto& [key, received] : receives) {
      for (const NodeRef& recv : received) {
        const int from = static_cast<int>(std::get<0>(key));
        if (trace_of_rank_.contains(from)) {
          throw InputError(traces_[recv.first].file, node_path(node(recv)),
                           "a receive from rank " + std::to_string(from) + " that no send in its trace matches (source, destination, tag)");
        }
        add_unmatched(recv, "its sender's trace (rank " + std::to_string(from) + ") is not given");
      }
    }
  }

  // The ops in an order that keeps every dependency and each stream's program order.
  nlohmann::json ordered_ops() {
    const std::vector<std::vector<int>> after = dependencies();
    std::vector<std::vector<int>> dependents(ops_.size());
    std::vector<std::size_t> waiting(ops_.size());
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      waiting[i] = after[i].size();
      for (int d : after[i]) dependents[static_cast<std::size_t>(d)].push_back(static_cast<int>(i));
    }
    using Ready = std::tuple<std::uint64_t, NodeRef, std::size_t>;  // earliest start, first member, op
    std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
    const auto push = [&](std::size_t i) { ready.emplace(start_of(i), ops_[i].members.front(), i); };
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (waiting[i] == 0) push(i);
    }
    nlohmann::json listed = nlohmann::json::array();
    while (!ready.empty()) {
      const std::size_t i = std::get<2>(ready.top());
      ready.pop();
      nlohmann::json op = ops_[i].json;
      if (!after[i].empty()) {
        nlohmann::json names = nlohmann::json::array();
        for (int d : after[i]) names.push_back(ops_[static_cast<std::size_t>(d)].json["name"]);
        op["after"] = std::move(names);
      }
      listed.push_back(std::move(op));
      for (int next : dependents[i]) {
        if (--waiting[static_cast<std::size_t>(next)] == 0) push(static_cast<std::size_t>(next));
      }
    }
    if (listed.size() < ops_.size()) {
      for (std::size_t i = 0; i < ops_.size(); ++i) {
        if (waiting[i] > 0) {
          throw InputError(traces_[ops_[i].members.front().first].file, node_path(node(ops_[i].members.front())),
                           "its dependencies and the matched collectives and send/receives form a cycle across the ranks' traces");
        }
      }
    }
    return listed;
  }

  std::size_t compute() const { return compute_; }
  std::size_t untimed_compute() const { return untimed_compute_; }
  std::size_t work_compute() const { return work_compute_; }
  std::size_t collectives() const { return collectives_; }
  std::size_t send_recvs() const { return send_recvs_; }
  std::size_t untimed_communication() const { return untimed_communication_; }
  std::size_t kept_measured() const { return kept_measured_; }
  std::size_t skipped() const {
    std::size_t n = 0;
    for (const RankTrace& t : traces_) n += static_cast<std::size_t>(std::count(t.roles.begin(), t.roles.end(), Role::kSkipped));
    return n;
  }
  const std::set<std::string>& groups() const { return groups_; }

 private:
  const Node& node(const NodeRef& ref) const { return traces_[ref.first].nodes[ref.second]; }

  void add(nlohmann::json json, std::vector<NodeRef> members) {
    const int id = static_cast<int>(ops_.size());
    for (const NodeRef& m : members) op_of_[m.first][m.second] = id;
    ops_.push_back({std::move(json), std::move(members)});
  }

  // The members' recorded duration (the shortest: the others include waiting for the last
  // to arrive), unless retimed or not recorded on every member.
  void set_duration(nlohmann::json& op, const std::vector<NodeRef>& members) {
    double shortest = kMaxDurationUs;
    for (const NodeRef& m : members) shortest = std::min(shortest, duration_of(traces_[m.first], node(m)));
    if (!retime_ && shortest > 0) {
      op["duration_us"] = shortest;
    } else {
      ++untimed_communication_;
    }
  }

  void add_collective(const std::string& group, std::size_t k, const std::vector<NodeRef>& call) {
    const RankTrace& t0 = traces_[call.front().first];
    const Node& n0 = node(call.front());
    const auto comm_type = static_cast<std::int64_t>(whole_number_attr(t0, n0, "comm_type", 9));
    const std::string kind = collective_kind(comm_type);
    const double bytes = comm_type == 9 ? kBarrierBytes : whole_number_attr(t0, n0, "comm_size", kMaxBytes);
    for (const NodeRef& m : call) {
      const RankTrace& t = traces_[m.first];
      const double size = comm_type == 9 ? kBarrierBytes : whole_number_attr(t, node(m), "comm_size", kMaxBytes);
      if (whole_number_attr(t, node(m), "comm_type", 9) != static_cast<double>(comm_type) || size != bytes) {
        throw InputError(t.file, node_path(node(m)), "collective " + std::to_string(k) + " of process group \"" + group +
                                                         "\" differs in type or size from " + t0.file + "'s " + node_path(n0));
      }
    }
    if (kind.empty() || call.size() == 1) {
      for (const NodeRef& m : call) add_unmatched(m, kind.empty() ? "the replay has no gather or scatter" : "its group has one member here");
      return;
    }
    const std::string stream = group.empty() ? "comm" : "comm." + group;
    nlohmann::json ranks = nlohmann::json::array();
    for (const NodeRef& m : call) ranks.push_back(traces_[m.first].rank);
    nlohmann::json op = {{"name", kind + "." + (group.empty() ? std::string("world") : group) + "#" + std::to_string(k)},
                         {"collective", kind}, {"group", ranks}, {"bytes", bytes}, {"stream", stream}};
    set_duration(op, call);
    groups_.insert(group.empty() ? "(unnamed)" : group);
    ++collectives_;
    add(std::move(op), call);
  }

  void add_send_recv(const NodeRef& send, const NodeRef& recv) {
    const RankTrace& from = traces_[send.first];
    const RankTrace& to = traces_[recv.first];
    const double bytes = whole_number_attr(from, node(send), "comm_size", kMaxBytes);
    if (whole_number_attr(to, node(recv), "comm_size", kMaxBytes) != bytes) {
      throw InputError(to.file, node_path(node(recv)), "receives a different comm_size from " + from.file + "'s " + node_path(node(send)));
    }
    const std::size_t k = transfers_[{from.rank, to.rank}]++;  // the pair's k-th, whatever its tag
    nlohmann::json op = {{"name", "send_recv." + std::to_string(from.rank) + "-" + std::to_string(to.rank) + "#" + std::to_string(k)},
                         {"collective", "send_recv"}, {"group", {from.rank, to.rank}}, {"bytes", bytes}, {"stream", "p2p"}};
    set_duration(op, {send, recv});
    ++send_recvs_;
    add(std::move(op), {send, recv});
  }

  // Communication the replay cannot merge keeps its recorded time on its own rank.
  void add_unmatched(const NodeRef& ref, const std::string& why) {
    const RankTrace& t = traces_[ref.first];
    const Node& n = node(ref);
    const double duration = duration_of(t, n);
    if (duration == 0) throw InputError(t.file, node_path(n), "cannot become a collective (" + why + ") and has no recorded duration");
    add({{"name", op_name(t.rank, n)}, {"rank", t.rank},
         {"stream", "comm"}, {"duration_us", duration}},
        {ref});
    ++kept_measured_;
  }

  // Per op: the ops it waits for, through the nodes that became no op.
  std::vector<std::vector<int>> dependencies() const {
    std::vector<std::set<int>> after(ops_.size());
    for (std::size_t ti = 0; ti < traces_.size(); ++ti) {
      const RankTrace& t = traces_[ti];
      std::vector<std::vector<int>> reaches(t.nodes.size());  // per node: the ops it stands for, as a dependency
      for (std::size_t ni : t.order) {
        std::set<int> before;
        for (std::size_t d : t.deps[ni]) before.insert(reaches[d].begin(), reaches[d].end());
        const int op = op_of_[ti][ni];
        if (op >= 0) {
          before.erase(op);
          after[static_cast<std::size_t>(op)].insert(before.begin(), before.end());
          reaches[ni] = {op};
        } else {
          reaches[ni].assign(before.begin(), before.end());
        }
      }
    }
    std::vector<std::vector<int>> lists;
    for (const std::set<int>& s : after) lists.emplace_back(s.begin(), s.end());
    return lists;
  }

  std::uint64_t start_of(std::size_t op) const {
    std::uint64_t start = UINT64_MAX;
    for (const NodeRef& m : ops_[op].members) start = std::min(start, node(m).start_us);
    return start;
  }

  std::vector<RankTrace>& traces_;
  bool retime_;
  std::vector<GraphOp> ops_;
  std::vector<std::vector<int>> op_of_;  // per trace and node: its op, or -1
  std::map<int, std::size_t> trace_of_rank_;
  std::set<std::string> groups_;
  std::map<std::pair<int, int>, std::size_t> transfers_;  // send_recv ops so far, by sender and receiver
  std::size_t compute_ = 0, untimed_compute_ = 0, work_compute_ = 0, collectives_ = 0, send_recvs_ = 0, untimed_communication_ = 0, kept_measured_ = 0;
};
// What was read, merged and left out, for the graph's header.
std::vector<std::string> summary(const std::vector<RankTrace>& traces, const GraphBuilder& b, bool retimed, std::size_t dangling) {
  const auto count = [](std::size_t n) { return std::to_string(n); };
  std::string read = count(traces.size()) + (traces.size() == 1 ? " trace (ranks" : " traces (ranks");
  for (const RankTrace& t : traces) read.append(1, ' ').append(std::to_string(t.rank));
  read += ')';
  if (!traces.front().version.empty()) read.append(", schema ").append(printable(traces.front().version));
  std::vector<std::string> notes{read};
  std::string compute = count(b.compute()) + " GPU compute nodes as ops with their recorded durations, one at a time per rank";
  if (b.work_compute() > 0) {
    compute.append("; ").append(count(b.work_compute())).append(" of them record none but num_ops (and tensor_size): the roofline times them");
  }
  if (b.untimed_compute() > 0) compute.append("; ").append(count(b.untimed_compute())).append(" of them record neither and take no time");
  notes.push_back(compute);
  std::string groups;
  for (const std::string& g : b.groups()) groups.append(groups.empty() ? "" : ", ").append(g);
  notes.push_back(count(b.collectives()) + " collectives, each one op over its process group's ranks (groups: " + (groups.empty() ? "none" : groups) +
                  "), and " + count(b.send_recvs()) + " send/receive pairs");
  if (b.untimed_communication() > 0) {
    notes.push_back(count(b.untimed_communication()) + (retimed ? " of them retimed" : " of them without a recorded duration") +
                    ": the graph's topology times them");
  }
  if (b.kept_measured() > 0) {
    notes.push_back(count(b.kept_measured()) + " communication nodes kept as measured on their own rank (gather, scatter, one-member "
                                               "groups, peers whose trace is not given)");
  }
  notes.push_back(count(b.skipped()) + " nodes left out (CPU operators, memory and metadata), their dependencies bridged");
  if (dangling > 0) notes.push_back(count(dangling) + " dependencies on node ids not in the trace dropped");
  return notes;
}
}  // namespace

ChakraImport import_chakra(const std::vector<std::string>& files, const std::string& gpu, bool retime_collectives) {
  std::vector<RankTrace> traces;
  std::size_t dangling = 0;
  std::set<int> ranks;
  for (std::size_t i = 0; i < files.size(); ++i) {
    traces.push_back(read_trace(files[i], static_cast<int>(i), dangling));
    if (!ranks.insert(traces.back().rank).second) {
      const auto first = std::find_if(traces.begin(), traces.end(), [&](const RankTrace& t) { return t.rank == traces.back().rank; });
      throw InputError(files[i], "", "a second trace of rank " + std::to_string(traces.back().rank) + " after " + first->file +
                                         " (ranks come from names like trace.<rank>.et, else from the order given)");
    }
  }
  GraphBuilder builder(traces, retime_collectives);
  builder.add_compute();
  builder.add_collectives();
  builder.add_point_to_point();

  ChakraImport result;
  result.graph = {{"ranks", *ranks.rbegin() + 1}, {"gpu", gpu}};
  result.graph["ops"] = builder.ordered_ops();
  result.notes = summary(traces, builder, retime_collectives, dangling);
  return result;
}

}  // namespace foresight
