#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

// Each test program gets a temporary folder of its own, given as TMPDIR (which
// std::filesystem::temp_directory_path() and the programs the tests start read): tests
// name their scratch files, so two runs at once (a release and a sanitizer build, two
// checkouts) would otherwise write and remove each other's files mid-test.
int main(int argc, char** argv) {
  const char* parent = std::getenv("TMPDIR");
  std::string pattern = std::string(parent != nullptr && *parent != '\0' ? parent : "/tmp") + "/foresight-tests-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::cerr << "cannot create a temporary folder from " << pattern << "\n";
    return 1;
  }
  setenv("TMPDIR", pattern.c_str(), 1);
  doctest::Context context(argc, argv);
  const int status = context.run();
  std::error_code ignored;
  std::filesystem::remove_all(pattern, ignored);
  return status;
}
