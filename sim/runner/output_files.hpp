#pragma once
// One output policy for every command: nothing is written until every output can be.
// A command stages its files, then writes them together; a failure on any one leaves
// none behind. A regular file is replaced atomically (a temporary beside it, renamed);
// a symlink is written through to the file it names; a FIFO or device (/dev/stdout)
// is written directly, never replaced.
#include <string>
#include <vector>

namespace foresight {

// Said before a run starts, not after minutes of it: throws InputError naming `flag`
// when `path`'s folder does not exist or `path` is a folder.
void check_output_path(const std::string& path, const std::string& flag);

class OutputFiles {
 public:
  void add(std::string path, std::string content);
  // Writes every staged file, or none (throws InputError naming the file that failed).
  void write_all();

 private:
  struct Staged {
    std::string path;
    std::string content;
  };
  std::vector<Staged> staged_;
};

// One file under the same policy.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace foresight
