#include "kernels/profile_writer.hpp"

#include <cstdio>

namespace foresight::kernels {
namespace {
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}
}  // namespace

void Fields::key(const char* name) {
  if (!body_.empty()) body_ += ", ";
  body_ += quoted(name) + ": ";
}

Fields& Fields::text(const char* name, const std::string& value) {
  key(name);
  body_ += quoted(value);
  return *this;
}

Fields& Fields::number(const char* name, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  key(name);
  body_ += buffer;
  return *this;
}

Fields& Fields::integer(const char* name, std::int64_t value) {
  key(name);
  body_ += std::to_string(value);
  return *this;
}

Fields& Fields::boolean(const char* name, bool value) {
  key(name);
  body_ += value ? "true" : "false";
  return *this;
}

Fields& Fields::raw(const char* name, const std::string& json) {
  key(name);
  body_ += json;
  return *this;
}

Fields& Fields::spread(const Spread& s) {
  return number("median_us", s.median_us).number("p10_us", s.p10_us).number("p90_us", s.p90_us).integer("repetitions", s.repetitions);
}

std::string profile_document(const DeviceInfo& d, const std::string& source, const std::vector<std::string>& measurements) {
  Fields device;
  device.text("gpu", d.gpu).text("name", d.name).integer("sms", d.sms).number("sm_clock_mhz", d.sm_clock_mhz);
  device.number("memory_clock_mhz", d.memory_clock_mhz).number("memory_gb", d.memory_gb).text("driver", d.driver).text("cuda", d.cuda);
  device.text("cublas", d.cublas).text("cudnn", d.cudnn).text("nccl", d.nccl);
  device.number("l2_mb", static_cast<double>(d.l2_bytes) / (1 << 20)).number("power_limit_w", d.power_limit_w);
  std::string text = "{\n  \"format\": \"foresight.profile.v1\",\n  \"source\": " + quoted(source) + ",\n  \"device\": " + device.object() +
                     ",\n  \"measurements\": [\n";
  for (std::size_t i = 0; i < measurements.size(); ++i) text += "    " + measurements[i] + (i + 1 < measurements.size() ? ",\n" : "\n");
  return text + "  ]\n}\n";
}

}  // namespace foresight::kernels
