#include "sim/runner/output_files.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "sim/input/input_error.hpp"

namespace foresight {
namespace {

namespace fs = std::filesystem;

struct Destination {
  fs::path path;
  bool in_place;  // a FIFO, a character device or a socket: written as `>` in a shell would
};

// Where the bytes go. Special files (followed through symlinks: /dev/stdout names a pipe or
// a terminal) are written in place; a symlink to a regular file is resolved, so the file
// it names is replaced and the link stays.
Destination destination(const std::string& path) {
  std::error_code error;
  const fs::file_status followed = fs::status(path, error);
  if (!error && fs::exists(followed) && !fs::is_regular_file(followed) && !fs::is_directory(followed)) return {path, true};
  if (fs::is_symlink(fs::symlink_status(path, error))) {
    const fs::path resolved = fs::weakly_canonical(path, error);
    if (!error) return {resolved, false};
  }
  return {path, false};
}

void write_stream(const fs::path& path, const std::string& content, const std::string& shown, std::ios::openmode mode) {
  std::ofstream out(path, std::ios::binary | mode);
  if (!out) throw InputError(shown, "", "cannot write the file (does the folder exist, and may it be written?)");
  out << content;
  out.close();
  if (!out) throw InputError(shown, "", "writing the file failed (disk full?)");
}

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

}  // namespace

void check_output_path(const std::string& path, const std::string& flag) {
  const auto [target, in_place] = destination(path);
  if (in_place) return;
  std::error_code error;
  if (fs::is_directory(target, error)) throw InputError(path, flag, "is a folder; give a file name");
  const fs::path folder = target.parent_path();
  if (!folder.empty() && !fs::is_directory(folder, error)) throw InputError(path, flag, "the folder " + folder.string() + " does not exist");
}

void OutputFiles::add(std::string path, std::string content) { staged_.push_back({std::move(path), std::move(content)}); }

void OutputFiles::write_all() {
  struct Pending {
    fs::path target;
    fs::path temporary;  // empty for a special file
    const Staged* file;
  };
  std::vector<Pending> pending;
  for (const Staged& file : staged_) {
    const auto [target, in_place] = destination(file.path);
    pending.push_back({target, in_place ? fs::path() : fs::path(target.string() + ".partial"), &file});
  }
  const auto discard = [&] {
    for (const Pending& p : pending) {
      if (!p.temporary.empty()) remove_quietly(p.temporary);
    }
  };
  try {
    for (const Pending& p : pending) {
      if (!p.temporary.empty()) write_stream(p.temporary, p.file->content, p.file->path, std::ios::trunc);
    }
    // Special files cannot be taken back, so they go once every regular file is ready.
    for (const Pending& p : pending) {
      if (p.temporary.empty()) write_stream(p.target, p.file->content, p.file->path, std::ios::out);
    }
  } catch (const InputError&) {
    discard();
    throw;
  }
  for (const Pending& p : pending) {
    if (p.temporary.empty()) continue;
    std::error_code error;
    fs::rename(p.temporary, p.target, error);
    if (error) {
      discard();
      throw InputError(p.file->path, "", "cannot move the finished file into place (" + error.message() + ")");
    }
  }
  staged_.clear();
}

void write_file_atomically(const std::string& path, const std::string& content) {
  OutputFiles files;
  files.add(path, content);
  files.write_all();
}

}  // namespace foresight
