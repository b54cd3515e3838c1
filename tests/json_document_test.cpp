#include <doctest/doctest.h>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

using namespace foresight;

TEST_CASE("syntax errors name the source, line and column") {
  try {
    parse_json_text("{\n  \"a\": 1,\n  \"b\": ]\n}", "bad.json");
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string text = e.what();
    CHECK(text.find("bad.json") == 0);
    CHECK(text.find("line 3, column 8") != std::string::npos);
  }
}

TEST_CASE("comments are allowed in scenario files") {
  CHECK(parse_json_text("{ // a comment\n \"a\": 1 }", "x.json")["a"] == 1);
}

TEST_CASE("nesting counts brackets in the document, not in its strings and comments") {
  const std::string deep(kMaxJsonDepth + 1, '[');
  const std::string deep_close(kMaxJsonDepth + 1, ']');
  CHECK_THROWS_WITH_AS(parse_json_text(deep + deep_close, "deep.json"), doctest::Contains("deep.json: nested deeper than 64 levels"), InputError);
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  CHECK(parse_json_text(at_limit, "x.json").is_array());
  const std::string quoted = "{\"a\": \"" + deep + "\\\"\", \"b\": 1} // " + deep + "\n/* " + deep + " */";
  CHECK(parse_json_text(quoted, "x.json")["b"] == 1);
}

TEST_CASE("a missing file is a clear input error") {
  CHECK_THROWS_WITH_AS(load_json_file("/no/such/file.json"),
                       doctest::Contains("/no/such/file.json: cannot open the file"), InputError);
}

TEST_CASE("overrides set nested values, typed as JSON when they parse as JSON") {
  nlohmann::json doc = {{"training", {{"parallel", {{"tp", 1}}}}}};
  apply_override(doc, "training.parallel.tp=4");
  apply_override(doc, "training.dtype=fp8");
  apply_override(doc, "training.overlap_grad_reduce=false");
  apply_override(doc, "hardware.gpu={\"base\":\"h100_sxm\",\"memory_gb\":96}");
  CHECK(doc["training"]["parallel"]["tp"] == 4);
  CHECK(doc["training"]["dtype"] == "fp8");
  CHECK(doc["training"]["overlap_grad_reduce"] == false);
  CHECK(doc["hardware"]["gpu"]["memory_gb"] == 96);
}

TEST_CASE("malformed overrides are input errors naming the flag") {
  nlohmann::json doc = {{"model", "llama3_8b"}};
  CHECK_THROWS_WITH_AS(apply_override(doc, "no_equals_sign"), doctest::Contains("--set no_equals_sign: expected key.path=value"), InputError);
  CHECK_THROWS_WITH_AS(apply_override(doc, "a..b=1"), doctest::Contains("empty key"), InputError);
  CHECK_THROWS_WITH_AS(apply_override(doc, "model.layers=4"), doctest::Contains("cannot set a key inside a string"), InputError);
}
