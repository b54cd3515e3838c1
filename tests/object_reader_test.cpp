#include <doctest/doctest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "sim/input/object_reader.hpp"

using namespace foresight;
using nlohmann::json;

namespace {
std::vector<Problem> read(const json& document) {
  Diagnostics diagnostics("s.json");
  {
    ObjectReader r(document, "", diagnostics);
    r.integer("layers", 1, {"", "", 1.0});
    r.number("rate", 1.0, {"", "req/s", {}, {}, true});
    r.boolean("enabled", false, "");
    r.string("scheduler", "vllm", {"", "", {}, {}, false, {"vllm", "sarathi", "orca"}});
    auto sub = r.object("parallel", "");
    sub.integer("tp", 1, {"", "", 1.0, 64.0});
  }
  return diagnostics.problems();
}
}  // namespace

TEST_CASE("a clean document has no problems and reads its values") {
  Diagnostics diagnostics("s.json");
  const json document = {{"layers", 4}, {"parallel", {{"tp", 8}}}};
  ObjectReader r(document, "", diagnostics);
  CHECK(r.integer("layers", 1, {"", "", 1.0}) == 4);
  CHECK(r.number("rate", 2.5, {""}) == 2.5);
  auto sub = r.object("parallel", "");
  CHECK(sub.integer("tp", 1, {""}) == 8);
  CHECK(diagnostics.empty());
}

TEST_CASE("unknown keys are reported with a suggestion, at every depth") {
  const auto problems = read({{"layres", 2}, {"parallel", {{"pt", 2}}}});
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].path == "parallel.pt");
  CHECK(problems[0].message.find("did you mean \"tp\"") != std::string::npos);
  CHECK(problems[1].path == "layres");
  CHECK(problems[1].message.find("did you mean \"layers\"") != std::string::npos);
  CHECK(problems[1].file == "s.json");
}

TEST_CASE("wrong types, ranges and enum values: every problem is reported, not just the first") {
  const auto problems = read({{"layers", 2.5}, {"rate", -1}, {"enabled", "yes"},
                              {"scheduler", "vlm"}, {"parallel", {{"tp", 128}}}});
  REQUIRE(problems.size() == 5);
  std::map<std::string, std::string> by_path;
  for (const Problem& p : problems) by_path[p.path] = p.message;
  CHECK(by_path["layers"].find("expected an integer >= 1") != std::string::npos);
  CHECK(by_path["rate"].find("expected a number > 0 and <= 1e+12 (req/s), got -1") != std::string::npos);  // a unit without bounds of its own: the generic cap
  CHECK(by_path["enabled"].find("expected true or false, got string") != std::string::npos);
  CHECK(by_path["scheduler"].find("did you mean \"vllm\"") != std::string::npos);
  CHECK(by_path["parallel.tp"].find("<= 64") != std::string::npos);
}

TEST_CASE("an object expected but something else given") {
  const auto problems = read({{"parallel", 3}});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "parallel");
  CHECK(problems[0].message.find("expected an object, got number") != std::string::npos);
}

TEST_CASE("required keys") {
  Diagnostics diagnostics("m.json");
  {
    const json empty = json::object();
    ObjectReader r(empty, "model", diagnostics);
    r.required_integer("hidden", {"", "", 1.0});
  }
  REQUIRE(diagnostics.problems().size() == 1);
  CHECK(format_problem(diagnostics.problems()[0]) == "m.json: model.hidden: is required: expected an integer >= 1");
}

TEST_CASE("documenting mode records every key with its type, unit and default") {
  std::vector<FieldDoc> docs;
  {
    ObjectReader r = ObjectReader::documenting(docs);
    r.number("rate", 2.0, {"Arrival rate.", "req/s", {}, {}, true});
    auto sub = r.object("parallel", "Layout.");
    sub.integer("tp", 1, {"Tensor parallel.", "", 1.0});
  }
  REQUIRE(docs.size() == 3);
  CHECK(docs[0].path == "rate");
  CHECK(docs[0].unit == "req/s");
  CHECK(docs[0].default_value == "2");
  CHECK(docs[2].path == "parallel.tp");
  CHECK(docs[2].doc.find("Range: >= 1") != std::string::npos);
  CHECK(format_reference_table(docs).find("| `parallel.tp` | integer |") != std::string::npos);
}

TEST_CASE("closest_match suggests only near words") {
  CHECK(closest_match("sequnce_length", {"sequence_length", "micro_batch"}) == "sequence_length");
  CHECK(closest_match("banana", {"sequence_length", "micro_batch"}).empty());
  CHECK(closest_match("h100", {"b200", "h100_sxm", "h100_pcie"}) == "h100_sxm");
}
