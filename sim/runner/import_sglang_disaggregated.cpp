#include "sim/runner/import_sglang_disaggregated.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string_view>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_command.hpp"
#include "sim/runner/import_disaggregated.hpp"
#include "sim/runner/shell_commands.hpp"

namespace foresight {
namespace {
enum class Role { kPrefill, kDecode, kPlain, kRouter, kOther };

// The commands given, and the file they came from ("" for words on the command line).
struct LaunchSet {
  std::string script;
  std::vector<ShellCommand> commands;

  // Where a command is, for errors and the scenario's comment: "line 3", "command 2".
  std::string where(const ShellCommand& c, std::size_t index) const {
    return script.empty() ? "command " + std::to_string(index + 1) : "line " + std::to_string(c.line);
  }
};

// The script the words run: `bash FILE`, `sh FILE` or FILE.sh alone.
std::optional<std::string> script_path(const std::vector<std::string>& words) {
  if (words.size() == 1 && words[0].ends_with(".sh")) return words[0];
  const bool shell = !words.empty() && (words[0] == "bash" || words[0] == "sh" || words[0].ends_with("/bash") || words[0].ends_with("/sh"));
  if (words.size() == 2 && shell) return words[1];
  return std::nullopt;
}

bool has_word(const std::vector<std::string>& words, std::string_view wanted) {
  return std::find(words.begin(), words.end(), wanted) != words.end();
}

// A flag's value, written "--flag value" or "--flag=value".
std::optional<std::string> flag_of(const std::vector<std::string>& words, const std::string& name) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == name && i + 1 < words.size()) return words[i + 1];
    if (words[i].starts_with(name + "=")) return words[i].substr(name.size() + 1);
  }
  return std::nullopt;
}

bool is_router(const std::vector<std::string>& words) {
  return has_word(words, "--pd-disaggregation") || std::any_of(words.begin(), words.end(), [](const std::string& w) {
           return w.starts_with("sglang_router") || w.ends_with("disaggregation.mini_lb");
         });
}

bool is_server(const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [](const std::string& w) { return w == "sglang.launch_server" || w.ends_with("sglang/launch_server.py"); });
}

Role role_of(const std::vector<std::string>& words, const std::string& file, const std::string& where) {
  if (is_router(words)) return Role::kRouter;
  if (!is_server(words)) return Role::kOther;
  const std::optional<std::string> mode = flag_of(words, "--disaggregation-mode");
  if (!mode || *mode == "null") return Role::kPlain;
  if (*mode == "prefill") return Role::kPrefill;
  if (*mode == "decode") return Role::kDecode;
  throw InputError(file, where + ": --disaggregation-mode", "expected prefill or decode, got \"" + *mode + "\"");
}

bool is_assignment(const std::string& word) {
  const std::size_t equals = word.find('=');
  if (equals == std::string::npos || equals == 0) return false;
  return std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(equals),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }) &&
         std::isdigit(static_cast<unsigned char>(word[0])) == 0;
}

// A server's words from its program on: the environment it sets (CUDA_VISIBLE_DEVICES=...)
// and nohup or exec before it are where and how it runs, not how fast.
std::vector<std::string> server_words(const std::vector<std::string>& words, const std::string& where, Imported& r) {
  std::size_t first = 0;
  while (first < words.size() && (is_assignment(words[first]) || words[first] == "nohup" || words[first] == "exec" || words[first] == "env")) {
    r.dropped.push_back(where + ": " + words[first]);
    ++first;
  }
  return {words.begin() + static_cast<std::ptrdiff_t>(first), words.end()};
}

// One pool's servers: the first one's settings, which the others must share, and how many
// the commands start.
struct PoolCommands {
  std::string label;  // "prefill", "decode"
  std::optional<Imported> first;
  std::string first_where;
  std::int64_t commands = 0;
};

void add_server(PoolCommands& pool, Imported server, const std::string& file, const std::string& where) {
  ++pool.commands;
  if (!pool.first) {
    pool.first = std::move(server);
    pool.first_where = where;
    return;
  }
  const nlohmann::json& mine = server.scenario["serving"];
  const nlohmann::json& theirs = pool.first->scenario["serving"];
  const auto text = [](const nlohmann::json& serving, const std::string& key) {
    return serving.contains(key) ? serving[key].dump() : std::string("the default");
  };
  std::set<std::string> keys;
  for (const auto& [key, value] : mine.items()) keys.insert(key);
  for (const auto& [key, value] : theirs.items()) keys.insert(key);
  for (const std::string& key : keys) {
    if (mine.value(key, nlohmann::json()) == theirs.value(key, nlohmann::json())) continue;
    throw InputError(file, where + ": " + key, "this " + pool.label + " server runs " + key + " = " + text(mine, key) + ", the one at " +
                                                   pool.first_where + " " + text(theirs, key) + ": foresight runs one shape per pool");
  }
}

// The router's view: each pool's servers' URLs (a prefill URL may be followed by its
// bootstrap port; mini_lb takes several URLs after one --prefill).
struct Router {
  std::vector<std::string> prefill, decode;
  bool given = false;
};

std::string host_of(const std::string& url) {
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  return rest.substr(0, rest.rfind(':'));
}

void read_router(const std::vector<std::string>& words, const std::string& where, Router& router, Imported& r) {
  router.given = true;
  std::vector<std::string>* urls = nullptr;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--prefill" || w == "--decode") {
      urls = w == "--prefill" ? &router.prefill : &router.decode;
    } else if (urls != nullptr && w.find("://") != std::string::npos) {
      urls->push_back(w);
    } else if (urls != nullptr && !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
      continue;  // a prefill server's bootstrap port
    } else if (w.starts_with("--")) {
      urls = nullptr;
      const WrittenFlag flag = split_flag(w);
      const bool policy = flag.name.find("policy") != std::string::npos;
      const std::optional<std::string> value = flag.inline_value ? flag.inline_value
                                               : i + 1 < words.size() && !words[i + 1].starts_with("--") ? std::optional(words[++i]) : std::nullopt;
      const std::string line = where + ": " + flag.name + (value ? " " + *value : "");
      if (policy) {
        r.not_modelled.push_back(line + " (the router's policy: serving.router routes both pools)");
      } else if (flag.name != "--pd-disaggregation") {
        r.dropped.push_back(line);
      }
    }
  }
}

// The lines translate_serving listed for each pool's first server, each naming its pool; a
// decode server's line that repeats a prefill server's is left out.
void list_pool_lines(const PoolCommands& prefill, const PoolCommands& decode, Imported& r) {
  const auto list = [&r](const PoolCommands& pool, const Imported* other, bool decode_side) {
    const std::string prefix = pool.label + " servers (" + pool.first_where + "): ";
    const auto repeated = [other](std::vector<std::string> Imported::*lines, const std::string& line) {
      if (other == nullptr) return false;
      const std::vector<std::string>& theirs = other->*lines;
      return std::find(theirs.begin(), theirs.end(), line) != theirs.end();
    };
    for (std::string line : pool.first->mapped) {
      if (repeated(&Imported::mapped, line)) continue;
      const std::size_t target = line.find(" -> serving.");
      if (decode_side && target != std::string::npos) line.replace(target + 4, 8, "the decode replicas' ");
      r.mapped.push_back(prefix + line);
    }
    for (auto [into, from] : {std::pair{&r.assumed, &Imported::assumed}, std::pair{&r.dropped, &Imported::dropped},
                              std::pair{&r.not_modelled, &Imported::not_modelled}}) {
      for (const std::string& line : (*pool.first).*from) {
        if (!repeated(from, line)) into->push_back(prefix + line);
      }
    }
  };
  list(prefill, nullptr, false);
  list(decode, &*prefill.first, true);
}

// How many servers a pool has: the router's URLs, or one per command without a router.
std::int64_t server_count(const PoolCommands& pool, const Router& router, const std::vector<std::string>& urls, const std::string& file,
                          Imported& r) {
  if (!router.given) return pool.commands;
  if (urls.empty()) throw InputError(file, "the router", "it lists no " + pool.label + " server (--" + pool.label + " URL)");
  const auto listed = static_cast<std::int64_t>(urls.size());
  if (listed != pool.commands) {
    r.assumed.push_back("the router lists " + std::to_string(listed) + " " + pool.label + " servers and " + std::to_string(pool.commands) +
                        " commands start them: each runs the settings of the command at " + pool.first_where);
  }
  return listed;
}

ServerPool make_pool(const PoolCommands& commands, std::int64_t servers, const std::vector<std::string>& urls) {
  ServerPool pool;
  pool.name = commands.label + " servers";
  pool.prose = "the " + pool.name;
  pool.serving = commands.first->scenario["serving"];
  // --dp-size without data-parallel attention: that many engines behind each server.
  pool.replicas = servers * pool.serving.value("replicas", std::int64_t{1});
  pool.serving.erase("replicas");
  for (const std::string& url : urls) pool.hosts.push_back(host_of(url));
  return pool;
}

// SGLang's settings that only decode iterations use: their CUDA graphs.
PoolKeys sglang_pool_keys() { return {"sglang", "max_running_requests", "chunked_prefill_size", {"cuda_graph_max_bs", "disable_cuda_graph"}}; }

LaunchSet launch_set(const std::vector<std::string>& words) {
  LaunchSet set;
  if (const std::optional<std::string> script = script_path(words)) {
    set.script = *script;
    const std::string text = read_input_file(*script, "launch script");
    // Its words reach the scenario's JSON, as a shell's own words do: UTF-8 without NUL.
    require_utf8(text, *script, "");
    if (text.find('\0') != std::string::npos) throw InputError(*script, "", "the launch script holds a NUL byte");
    set.commands = read_shell_commands(text, *script);
  } else {
    set.commands = split_at_separators(words);
  }
  return set;
}
}  // namespace

bool is_sglang_launch_set(const std::vector<std::string>& words) {
  if (script_path(words)) return true;
  if (std::any_of(words.begin(), words.end(), [](const std::string& w) { return w == ";" || w == "&" || w == "&&"; })) return true;
  const std::optional<std::string> mode = flag_of(words, "--disaggregation-mode");
  return mode && *mode != "null";
}

Imported import_sglang_launch_set(const ImportOptions& o) {
  const LaunchSet set = launch_set(o.command);
  const std::string& file = set.script;
  Imported r;
  PoolCommands prefill{"prefill", {}, {}, 0}, decode{"decode", {}, {}, 0};
  std::vector<std::vector<std::string>> plain;
  Router router;
  for (std::size_t i = 0; i < set.commands.size(); ++i) {
    const std::vector<std::string>& words = set.commands[i].words;
    const std::string where = set.where(set.commands[i], i);
    const Role role = role_of(words, file, where);
    if (role == Role::kRouter) {
      if (router.given) throw InputError(file, where, "a second router: foresight routes one set of pools");
      read_router(words, "router (" + where + ")", router, r);
      continue;
    }
    if (role == Role::kOther) {
      r.dropped.push_back(where + ": " + words.front() + (words.size() > 1 ? " ..." : "") + " (not an SGLang server or router)");
      continue;
    }
    ImportOptions one = o;
    one.command = server_words(words, where, r);
    if (role == Role::kPlain) {
      plain.push_back(one.command);
      continue;
    }
    Imported server;
    try {
      server = translate_serving(one);
    } catch (const InputError& e) {
      const Problem& p = e.problems().front();
      throw InputError(file, where + (p.path.empty() ? "" : ": " + p.path), p.message);
    }
    add_server(role == Role::kPrefill ? prefill : decode, std::move(server), file, where);
  }
  if (!prefill.first && !decode.first) {
    if (plain.size() == 1) {
      ImportOptions one = o;
      one.command = plain.front();
      Imported server = translate_serving(one);
      for (auto [into, from] : {std::pair{&server.dropped, &r.dropped}, std::pair{&server.not_modelled, &r.not_modelled}}) {
        into->insert(into->end(), from->begin(), from->end());
      }
      return server;
    }
    throw InputError(file, "the launch commands", plain.empty() ? "no SGLang server: expected `python -m sglang.launch_server --model-path MODEL ...`"
                                                                : std::to_string(plain.size()) + " servers without --disaggregation-mode: "
                                                                  "foresight imports one server, or prefill and decode servers");
  }
  for (const PoolCommands* pool : {&prefill, &decode}) {
    if (!pool->first) {
      throw InputError(file, "the launch commands", "no " + pool->label + " server: expected a `python -m sglang.launch_server ... "
                                                    "--disaggregation-mode " + pool->label + "` command beside the " +
                                                    (pool == &prefill ? "decode" : "prefill") + " servers'");
    }
  }
  if (!plain.empty()) throw InputError(file, "the launch commands", "a server without --disaggregation-mode beside prefill and decode servers");
  if (prefill.first->scenario["model"] != decode.first->scenario["model"]) {
    throw InputError(file, decode.first_where + ": --model-path", "the decode servers serve another model than the prefill servers at " + prefill.first_where);
  }
  const ServerPool prefill_pool = make_pool(prefill, server_count(prefill, router, router.prefill, file, r), router.prefill);
  const ServerPool decode_pool = make_pool(decode, server_count(decode, router, router.decode, file, r), router.decode);
  if (!router.given) r.assumed.push_back("no router command: one server per launch_server command");
  list_pool_lines(prefill, decode, r);
  r.mapped.push_back(std::to_string(prefill_pool.replicas) + " prefill and " + std::to_string(decode_pool.replicas) +
                     " decode engines -> serving.prefill_replicas = " + std::to_string(prefill_pool.replicas) +
                     ", serving.replicas = " + std::to_string(prefill_pool.replicas + decode_pool.replicas));
  const DisaggregatedCluster cluster = disaggregated_cluster(prefill_pool, decode_pool, sglang_pool_keys(), file, o.gpu, r);
  const std::string id = prefill.first->scenario.value("name", "sglang");
  r.scenario = {{"name", id + " disaggregated"},
                {"description", "Imported from SGLang's prefill and decode servers' launch commands by `foresight import`."},
                {"hardware", cluster.hardware},
                {"model", prefill.first->scenario["model"]},
                {"serving", cluster.serving}};
  return r;
}

}  // namespace foresight
