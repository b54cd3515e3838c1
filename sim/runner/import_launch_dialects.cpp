#include "sim/runner/import_launch_dialects.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sim/input/input_error.hpp"

namespace foresight {

std::optional<std::string> flag_of(const std::vector<std::string>& words, const std::string& name) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == name && i + 1 < words.size()) return words[i + 1];
    if (words[i].starts_with(name + "=")) return words[i].substr(name.size() + 1);
  }
  return std::nullopt;
}

std::string host_of(const std::string& url) {
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  return rest.substr(0, rest.rfind(':'));
}

std::string port_of(const std::string& url) {
  const std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  const std::string authority = rest.substr(0, rest.find('/'));
  return authority.find(':') == std::string::npos ? "" : authority.substr(authority.rfind(':') + 1);
}

namespace {
bool has_word(const std::vector<std::string>& words, std::string_view wanted) {
  return std::find(words.begin(), words.end(), wanted) != words.end();
}

bool is_digits(const std::string& word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// A router flag that is not a pool's list: its policy is not modelled, the rest is dropped.
void list_router_flag(const std::vector<std::string>& words, std::size_t& i, const std::string& where, Imported& r) {
  const WrittenFlag flag = split_flag(words[i]);
  const std::optional<std::string> value = flag.inline_value ? flag.inline_value
                                           : i + 1 < words.size() && !words[i + 1].starts_with("-") ? std::optional(words[++i]) : std::nullopt;
  const std::string line = where + ": " + flag.name + (value ? " " + *value : "");
  if (flag.name.find("policy") != std::string::npos) {
    r.not_modelled.push_back(line + " (the router's policy: serving.router routes both pools)");
  } else if (flag.name != "--pd-disaggregation") {
    r.dropped.push_back(line);
  }
}

// SGLang: python -m sglang.launch_server --disaggregation-mode prefill|decode, and
// sglang_router's --pd-disaggregation (or mini_lb) with --prefill URL [BOOTSTRAP_PORT] and
// --decode URL, or several URLs after one flag.
bool is_sglang_server(const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [](const std::string& w) { return w == "sglang.launch_server" || w.ends_with("sglang/launch_server.py"); });
}

bool is_sglang_router(const std::vector<std::string>& words) {
  return has_word(words, "--pd-disaggregation") || std::any_of(words.begin(), words.end(), [](const std::string& w) {
           return w.starts_with("sglang_router") || w.ends_with("disaggregation.mini_lb");
         });
}

ServerRole sglang_role(const std::vector<std::string>& words, const std::string& file, const std::string& where) {
  const std::optional<std::string> mode = flag_of(words, "--disaggregation-mode");
  if (!mode || *mode == "null") return ServerRole::kPlain;
  if (*mode == "prefill") return ServerRole::kPrefill;
  if (*mode == "decode") return ServerRole::kDecode;
  throw InputError(file, where + ": --disaggregation-mode", "expected prefill or decode, got \"" + *mode + "\"");
}

void read_sglang_router(const std::vector<std::string>& words, const std::string& where, RouterListing& router, Imported& r) {
  std::vector<std::string>* urls = nullptr;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--prefill" || w == "--decode") {
      urls = w == "--prefill" ? &router.prefill : &router.decode;
    } else if (urls != nullptr && w.find("://") != std::string::npos) {
      urls->push_back(w);
    } else if (urls != nullptr && is_digits(w)) {
      continue;  // a prefill server's bootstrap port
    } else if (w.starts_with("--")) {
      urls = nullptr;
      list_router_flag(words, i, where, r);
    }
  }
}

// vLLM: vllm serve with --kv-transfer-config, whose kv_role says kv_producer (a prefiller),
// kv_consumer (a decoder) or kv_both (NIXL's: either, as the proxy lists it), and a proxy
// with --prefiller-hosts/--prefiller-ports and --decoder-hosts/--decoder-ports (one host for
// several ports stands for each), as vLLM's toy_proxy_server.py takes them.
bool is_vllm_server(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if ((words[i] == "vllm" || words[i].ends_with("/vllm")) && words[i + 1] == "serve") return true;
  }
  return has_word(words, "vllm.entrypoints.openai.api_server");
}

bool is_vllm_router(const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [](const std::string& w) {
    return w.starts_with("--prefiller-") || w.starts_with("--decoder-") || w.ends_with("proxy_server.py");
  });
}

ServerRole vllm_role(const std::vector<std::string>& words, const std::string& file, const std::string& where) {
  const std::optional<std::string> text = flag_of(words, "--kv-transfer-config");
  if (!text) return ServerRole::kPlain;
  const nlohmann::json config = nlohmann::json::parse(*text, nullptr, false);
  const std::string role = config.is_object() && config.contains("kv_role") && config["kv_role"].is_string() ? config["kv_role"].get<std::string>() : "";
  if (role == "kv_producer") return ServerRole::kPrefill;
  if (role == "kv_consumer") return ServerRole::kDecode;
  if (role == "kv_both") return ServerRole::kEither;
  throw InputError(file, where + ": --kv-transfer-config",
                   "expected a JSON object whose kv_role is kv_producer, kv_consumer or kv_both, like "
                   "'{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}', got " + *text);
}

void read_vllm_router(const std::vector<std::string>& words, const std::string& where, RouterListing& router, Imported& r) {
  std::vector<std::string> lists[4];  // prefiller hosts, prefiller ports, decoder hosts, decoder ports
  std::vector<std::string>* list = nullptr;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string name = split_flag(words[i]).name;
    const bool prefiller = name.starts_with("--prefiller-"), decoder = name.starts_with("--decoder-");
    if (prefiller || decoder) {
      list = &lists[(decoder ? 2 : 0) + (name.ends_with("port") || name.ends_with("ports") ? 1 : 0)];
      if (const std::optional<std::string> inline_value = split_flag(words[i]).inline_value) list->push_back(*inline_value);
    } else if (list != nullptr && !words[i].starts_with("-")) {
      list->push_back(words[i]);
    } else if (words[i].starts_with("-")) {
      list = nullptr;
      list_router_flag(words, i, where, r);
    }
  }
  // toy_proxy_server.py's defaults: localhost, port 8100 for a prefiller and 8200 for a decoder.
  const auto servers = [&where](std::vector<std::string> hosts, std::vector<std::string> ports, const char* pool, const char* port) {
    if (hosts.empty()) hosts = {"localhost"};
    if (ports.empty()) ports = {port};
    if (hosts.size() == 1 && ports.size() > 1) hosts.resize(ports.size(), hosts.front());
    if (hosts.size() != ports.size()) {
      throw InputError("", where, std::to_string(hosts.size()) + " " + pool + " hosts for " + std::to_string(ports.size()) + " ports: one per server");
    }
    std::vector<std::string> listed;
    for (std::size_t k = 0; k < hosts.size(); ++k) listed.push_back(hosts[k] + ":" + ports[k]);
    return listed;
  };
  router.prefill = servers(lists[0], lists[1], "prefiller", "8100");
  router.decode = servers(lists[2], lists[3], "decoder", "8200");
}
}  // namespace

const LaunchDialect& dialect_of(const std::string& tool) {
  // Settings only decode iterations use: their CUDA graphs.
  static const LaunchDialect kSglang{"SGLang", "python -m sglang.launch_server ... --disaggregation-mode", "--disaggregation-mode",
                               {"sglang", "max_running_requests", "chunked_prefill_size", {"cuda_graph_max_bs", "disable_cuda_graph"}},
                               is_sglang_server, is_sglang_router, sglang_role, read_sglang_router, "30000"};
  static const LaunchDialect kVllm{"vLLM", "vllm serve ... --kv-transfer-config", "--kv-transfer-config",
                             {"vllm_v1", "max_num_seqs", "max_num_batched_tokens", {"enforce_eager"}},
                             is_vllm_server, is_vllm_router, vllm_role, read_vllm_router, "8000"};
  return tool == "vllm" ? kVllm : kSglang;
}

}  // namespace foresight
