#pragma once
// How SGLang's and vLLM's disaggregated launches say which server is which (import_launch_set.hpp):
// a server command's pool, and the servers its router lists in each pool.
#include <optional>
#include <string>
#include <vector>

#include "sim/runner/import_disaggregated.hpp"

namespace foresight {

// kEither: a server that can do both (vLLM's kv_both), in the pool the router lists it in.
enum class ServerRole { kPrefill, kDecode, kEither, kPlain, kRouter, kOther };

// The router's view: the servers it lists in each pool, as URLs or host:port.
struct RouterListing {
  std::vector<std::string> prefill, decode;
  bool given = false;
};

// A launch dialect: how one engine's commands say which server is which, and its limits' names.
struct LaunchDialect {
  std::string engine_name;  // in messages: "SGLang", "vLLM"
  std::string server_example, mode_flag;
  PoolKeys keys;
  bool (*is_server)(const std::vector<std::string>& words);
  bool (*is_router)(const std::vector<std::string>& words);
  ServerRole (*role_of)(const std::vector<std::string>& words, const std::string& file, const std::string& where);
  void (*read_router)(const std::vector<std::string>& words, const std::string& where, RouterListing& router, Imported& r);
  const char* default_port;  // a server's without --port
};

// The dialect of `tool`: "sglang" or "vllm".
const LaunchDialect& dialect_of(const std::string& tool);

// A flag's value, written "--flag value" or "--flag=value".
std::optional<std::string> flag_of(const std::vector<std::string>& words, const std::string& name);
// "node1" from "http://node1:30001/v1" or "node1:8101"; port_of: "30001", "8101".
std::string host_of(const std::string& url);
std::string port_of(const std::string& url);

}  // namespace foresight
