#include "sim/input/protobuf_wire.hpp"

#include "sim/input/input_error.hpp"

namespace foresight {

WireReader::WireReader(std::string_view bytes, std::string file, std::size_t base_offset)
    : bytes_(bytes), file_(std::move(file)), base_(base_offset) {}

void WireReader::fail(std::size_t offset, const std::string& message) const {
  throw InputError(file_, "byte " + std::to_string(offset), message);
}

std::uint64_t WireReader::varint() {
  const std::size_t start = offset();
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at_end()) fail(start, "a varint runs past the end of the data (the file is cut short or not protobuf)");
    const auto byte = static_cast<std::uint8_t>(bytes_[at_++]);
    if (shift == 63 && byte > 1) fail(start, "a varint does not fit in 64 bits");
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  fail(start, "a varint is longer than 10 bytes");
}

std::uint64_t WireReader::fixed(int bytes) {
  if (bytes_.size() - at_ < static_cast<std::size_t>(bytes)) {
    fail(offset(), "a " + std::to_string(8 * bytes) + "-bit value runs past the end of the data");
  }
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes_[at_++])) << (8 * i);
  return value;
}

std::string_view WireReader::delimited() {
  const std::size_t start = offset();
  const std::uint64_t length = varint();
  if (length > bytes_.size() - at_) {
    fail(start, "a length of " + std::to_string(length) + " bytes runs past the end of the data (" +
                    std::to_string(bytes_.size() - at_) + " left)");
  }
  const std::string_view payload = bytes_.substr(at_, static_cast<std::size_t>(length));
  at_ += static_cast<std::size_t>(length);
  return payload;
}

WireField WireReader::field() {
  WireField f;
  f.offset = offset();
  const std::uint64_t tag = varint();
  const std::uint64_t number = tag >> 3;
  if (number == 0 || number > 536870911) fail(f.offset, "field number " + std::to_string(number) + " is outside 1..536870911");
  f.number = static_cast<std::uint32_t>(number);
  switch (tag & 7) {
    case 0:
      f.type = WireType::kVarint;
      f.scalar = varint();
      break;
    case 1:
      f.type = WireType::kFixed64;
      f.scalar = fixed(8);
      break;
    case 2:
      f.type = WireType::kLengthDelimited;
      f.bytes = delimited();
      break;
    case 5:
      f.type = WireType::kFixed32;
      f.scalar = fixed(4);
      break;
    default:
      fail(f.offset, "wire type " + std::to_string(tag & 7) + " of field " + std::to_string(number) +
                         " is not one of protobuf 3's (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)");
  }
  return f;
}

WireReader WireReader::nested(const WireField& field) const {
  const std::size_t start = static_cast<std::size_t>(field.bytes.data() - bytes_.data());
  return WireReader(field.bytes, file_, base_ + start);
}

}  // namespace foresight
