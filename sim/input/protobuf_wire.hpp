#pragma once
// Protocol Buffers' wire format, read without generated classes or the protobuf library:
// varints, 64- and 32-bit fixed values and length-delimited fields
// (protobuf.dev/programming-guides/encoding). Every read is bounds-checked; a malformed
// message throws an InputError naming the file and the byte offset.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace foresight {

enum class WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct WireField {
  std::uint32_t number = 0;
  WireType type = WireType::kVarint;
  std::uint64_t scalar = 0;    // a varint's value, or a fixed value's bits
  std::string_view bytes;      // a length-delimited field's payload
  std::size_t offset = 0;      // of the field's tag, from the start of the file
};

class WireReader {
 public:
  // `base_offset`: where `bytes` starts in the file, so that errors point into the file.
  WireReader(std::string_view bytes, std::string file, std::size_t base_offset = 0);

  bool at_end() const { return at_ == bytes_.size(); }
  std::size_t offset() const { return base_ + at_; }
  // The next field: its tag and value. Groups (wire types 3 and 4) are rejected.
  WireField field();
  std::uint64_t varint();
  // A varint length and that many bytes: a field's payload, or one message of a stream of
  // length-prefixed messages.
  std::string_view delimited();
  // A reader over a length-delimited field's payload, with offsets into the same file.
  WireReader nested(const WireField& field) const;
  [[noreturn]] void fail(std::size_t offset, const std::string& message) const;

 private:
  std::uint64_t fixed(int bytes);

  std::string_view bytes_;
  std::string file_;
  std::size_t base_ = 0;
  std::size_t at_ = 0;
};

// A sint32/sint64 field's ZigZag-encoded value.
inline std::int64_t zigzag_decoded(std::uint64_t value) {
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

}  // namespace foresight
