#include "sim/runner/import_launch_set.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_command.hpp"
#include "sim/runner/import_disaggregated.hpp"
#include "sim/runner/import_launch_dialects.hpp"
#include "sim/runner/shell_commands.hpp"

namespace foresight {
namespace {

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

ServerRole classify(const LaunchDialect& dialect, const std::vector<std::string>& words, const std::string& file, const std::string& where) {
  if (dialect.is_router(words)) return ServerRole::kRouter;
  if (!dialect.is_server(words)) return ServerRole::kOther;
  return dialect.role_of(words, file, where);
}

// A kv_both server's pool: the one whose router entry has its port.
ServerRole pool_by_port(const std::vector<std::string>& words, const LaunchDialect& dialect, const RouterListing& router, const std::string& file, const std::string& where) {
  const std::string port = flag_of(words, "--port").value_or(dialect.default_port);
  const auto listed = [&port](const std::vector<std::string>& entries) {
    return std::any_of(entries.begin(), entries.end(), [&port](const std::string& e) { return port_of(e) == port; });
  };
  if (!router.given) throw InputError(file, where, "a kv_both server, and no proxy command to say whether it prefills or decodes");
  const bool prefill = listed(router.prefill), decode = listed(router.decode);
  if (prefill == decode) {
    throw InputError(file, where + ": --port", "the proxy lists port " + port + (prefill ? " as a prefiller's and a decoder's" : " as neither a prefiller's nor a decoder's") +
                                                   ": foresight tells a kv_both server's pool by its port");
  }
  return prefill ? ServerRole::kPrefill : ServerRole::kDecode;
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
    for (const std::string& line : pool.first->mapped) {
      if (!repeated(&Imported::mapped, line)) r.mapped.push_back(prefix + (decode_side ? as_decode_replicas(line) : line));
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
std::int64_t server_count(const PoolCommands& pool, const RouterListing& router, const std::vector<std::string>& urls, const std::string& file,
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
// A server command, with its pool once the router has said it.
struct ServerCommand {
  ServerRole role;
  std::vector<std::string> words;
  std::string where;
};

// The commands' servers and router; a kv_both server's pool comes from the router, which may
// come after it.
std::vector<ServerCommand> read_commands(const LaunchSet& set, const LaunchDialect& dialect, RouterListing& router, Imported& r) {
  std::vector<ServerCommand> servers;
  for (std::size_t i = 0; i < set.commands.size(); ++i) {
    const std::vector<std::string>& words = set.commands[i].words;
    const std::string where = set.where(set.commands[i], i);
    const ServerRole role = classify(dialect, words, set.script, where);
    if (role == ServerRole::kRouter) {
      if (router.given) throw InputError(set.script, where, "a second router: foresight routes one set of pools");
      router.given = true;
      try {
        dialect.read_router(words, "router (" + where + ")", router, r);
      } catch (const InputError& e) {
        throw InputError(set.script, e.problems().front().path, e.problems().front().message);
      }
    } else if (role == ServerRole::kOther) {
      r.dropped.push_back(where + ": " + words.front() + (words.size() > 1 ? " ..." : "") + " (not " + dialect.engine_name + "'s server or router)");
    } else {
      servers.push_back({role, server_words(words, where, r), where});
    }
  }
  for (ServerCommand& server : servers) {
    if (server.role == ServerRole::kEither) server.role = pool_by_port(server.words, dialect, router, set.script, server.where);
  }
  return servers;
}

Imported translated(const ImportOptions& o, const ServerCommand& server, const std::string& file) {
  ImportOptions one = o;
  one.command = server.words;
  try {
    return translate_serving(one);
  } catch (const InputError& e) {
    const Problem& p = e.problems().front();
    throw InputError(file, server.where + (p.path.empty() ? "" : ": " + p.path), p.message);
  }
}

// A set without prefill or decode servers: its one plain server, as a single command imports.
Imported plain_server(const ImportOptions& o, const std::vector<ServerCommand>& servers, const LaunchDialect& dialect, const std::string& file, Imported& r) {
  if (servers.size() != 1) {
    throw InputError(file, "the launch commands", servers.empty() ? "no " + dialect.engine_name + " server: expected `" + dialect.server_example + "`"
                                                                  : std::to_string(servers.size()) + " servers without " + dialect.mode_flag +
                                                                        ": foresight imports one server, or prefill and decode servers");
  }
  Imported server = translated(o, servers.front(), file);
  for (auto [into, from] : {std::pair{&server.dropped, &r.dropped}, std::pair{&server.not_modelled, &r.not_modelled}}) {
    into->insert(into->end(), from->begin(), from->end());
  }
  return server;
}
}  // namespace

bool is_launch_set(const std::string& tool, const std::vector<std::string>& words) {
  if (tool != "sglang" && tool != "vllm") return false;
  if (script_path(words)) return true;
  if (std::any_of(words.begin(), words.end(), [](const std::string& w) { return w == ";" || w == "&" || w == "&&"; })) return true;
  const std::optional<std::string> mode = flag_of(words, "--disaggregation-mode");
  return tool == "sglang" && mode && *mode != "null";
}

Imported import_launch_set(const ImportOptions& o) {
  const LaunchDialect& dialect = dialect_of(o.tool);
  const LaunchSet set = launch_set(o.command);
  const std::string& file = set.script;
  Imported r;
  RouterListing router;
  const std::vector<ServerCommand> servers = read_commands(set, dialect, router, r);
  const bool disaggregated = std::any_of(servers.begin(), servers.end(), [](const ServerCommand& s) { return s.role != ServerRole::kPlain; });
  if (!disaggregated) return plain_server(o, servers, dialect, file, r);
  PoolCommands prefill{"prefill", {}, {}, 0}, decode{"decode", {}, {}, 0};
  for (const ServerCommand& server : servers) {
    if (server.role == ServerRole::kPlain) {
      throw InputError(file, server.where, "a server without " + dialect.mode_flag + " beside prefill and decode servers");
    }
    add_server(server.role == ServerRole::kPrefill ? prefill : decode, translated(o, server, file), file, server.where);
  }
  for (const PoolCommands* pool : {&prefill, &decode}) {
    if (!pool->first) {
      throw InputError(file, "the launch commands", "no " + pool->label + " server: expected a `" + dialect.server_example + "` " + pool->label +
                                                    " server's command beside the " + (pool == &prefill ? "decode" : "prefill") + " servers'");
    }
  }
  if (prefill.first->scenario["model"] != decode.first->scenario["model"]) {
    throw InputError(file, decode.first_where, "the decode servers serve another model than the prefill servers at " + prefill.first_where);
  }
  const ServerPool prefill_pool = make_pool(prefill, server_count(prefill, router, router.prefill, file, r), router.prefill);
  const ServerPool decode_pool = make_pool(decode, server_count(decode, router, router.decode, file, r), router.decode);
  if (!router.given) r.assumed.push_back("no router command: one server per server command");
  list_pool_lines(prefill, decode, r);
  r.mapped.push_back(std::to_string(prefill_pool.replicas) + " prefill and " + std::to_string(decode_pool.replicas) +
                     " decode engines -> serving.prefill_replicas = " + std::to_string(prefill_pool.replicas) +
                     ", serving.replicas = " + std::to_string(prefill_pool.replicas + decode_pool.replicas));
  const DisaggregatedCluster cluster = disaggregated_cluster(prefill_pool, decode_pool, dialect.keys, file, o.gpu, r);
  r.scenario = {{"name", prefill.first->scenario.value("name", o.tool) + " disaggregated"},
                {"description", "Imported from " + dialect.engine_name + "'s prefill and decode servers' launch commands by `foresight import`."},
                {"hardware", cluster.hardware},
                {"model", prefill.first->scenario["model"]},
                {"serving", cluster.serving}};
  return r;
}

}  // namespace foresight
