#pragma once
// `foresight import nemo -- <launch command>`: a training scenario from a NeMo (1.x,
// Megatron GPT) launch: its Hydra config (--config-path and --config-name, a YAML file)
// with the command's `key=value` overrides on top. NeMo's model keys are Megatron-LM's
// arguments under their own names, so each is read as the Megatron argument it sets and the
// Megatron importer builds the scenario; the comment names the NeMo keys.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/runner/import_support.hpp"

namespace foresight {

// The block mappings of a YAML file as nested JSON objects of strings: what a NeMo or
// Megatron-Bridge config holds. Comments, quotes and `---` are understood; a block list of
// plain scalars is a list of strings; lists of mappings and anchors are skipped (foresight
// reads no key under one). InputError naming the file and line for what it cannot read.
nlohmann::json read_yaml_mappings(const std::string& path);
// "a.b.c" -> value for every scalar of read_yaml_mappings' result under `node`, a list's items
// joined by spaces (as a Megatron-LM argument takes several values).
void flatten_yaml(const nlohmann::json& node, const std::string& prefix, std::map<std::string, std::string>& out);

// A NeMo key (1.x's YAML or 2.0's recipe fields) and the Megatron-LM argument it is: a value,
// or a switch set when the key is true (or false).
struct NemoKey {
  const char* key;
  const char* flag;
  enum Kind { kValue, kSwitchIfTrue, kSwitchIfFalse } kind = kValue;
};
// YAML's and Python's spellings of true, and of no value.
bool is_true(const std::string& value);
bool is_null(const std::string& value);

// A config file's keys as Megatron-LM arguments ("--flag value", each with the "key=value" it
// came from), the launcher words that give the cluster (with the keys they came from), and
// keys read beside the arguments.
struct ConfigArgs {
  std::vector<std::pair<std::string, std::string>> args;
  std::vector<std::string> launcher;
  std::map<std::string, std::string> launcher_origins;
  std::vector<std::string> consulted;
};
// The arguments the keys of `keys` that `config` holds stand for.
ConfigArgs args_from_table(const std::map<std::string, std::string>& config, const std::vector<NemoKey>& keys);
// The Megatron importer run on `args`, its lines naming the config's keys; the config's other
// keys are counted as dropped, or listed as not modelled where `overrides` set them.
Imported import_config_arguments(const std::map<std::string, std::string>& config, const ConfigArgs& args,
                                 const std::vector<std::string>& overrides, const std::string& gpu, int gpus);

Imported import_nemo(const std::vector<std::string>& command, const std::string& gpu, int gpus);

}  // namespace foresight
