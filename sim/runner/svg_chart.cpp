#include "sim/runner/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

namespace foresight {
namespace {
// Clamped while still a double: casting a value outside int's range (a span of -1e12 ms in
// a hand-made trace) is undefined behaviour; NaN goes to `low`.
int clamped_int(double value, int low, int high) {
  if (!(value >= low)) return low;
  return value > high ? high : static_cast<int>(value);
}

constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string px(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

struct Scale {
  double lo, hi;
  bool log;
  double from, to;      // pixels
  bool integer = false;  // whole-number data (GPUs, TP degrees): no tick between two integers
  double at(double v) const {
    const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi, x = log ? std::log10(v) : v;
    return b > a ? from + (x - a) / (b - a) * (to - from) : (from + to) / 2;
  }
  std::vector<double> ticks() const {
    std::vector<double> ticks;
    // A step too small to move a double at the axis's magnitude (a span of a few ulps, a
    // log axis from a subnormal) would never end the loop: such an axis gets its two ends.
    const auto ends = [&] { return lo < hi ? std::vector<double>{lo, hi} : std::vector<double>{lo}; };
    if (log) {
      if (!(lo >= std::numeric_limits<double>::min()) || !std::isfinite(hi)) return ends();
      // Powers of ten, and 2 and 5 times them when the axis spans three decades or fewer.
      const bool fine = hi / lo <= 1000;
      for (double t = std::pow(10, std::floor(std::log10(lo))); t <= hi * 1.0001; t *= 10) {
        for (double k : {1.0, 2.0, 5.0}) {
          if ((k == 1.0 || fine) && t * k >= lo * 0.9999 && t * k <= hi * 1.0001) ticks.push_back(t * k);
        }
      }
      return ticks;
    }
    const double span = hi - lo;
    if (span <= 0) return {lo};
    const double raw = span / 5, magnitude = std::pow(10, std::floor(std::log10(raw)));
    double step = raw / magnitude < 2 ? 2 * magnitude : raw / magnitude < 5 ? 5 * magnitude : 10 * magnitude;
    if (integer) step = std::max(step, 1.0);
    if (!(step > 0) || lo + step == lo || hi + step == hi || !std::isfinite(span)) return ends();
    for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
    return ticks;
  }
};

// The data's range, padded, and never empty or non-positive on a log axis.
std::pair<double, double> range_of(const std::vector<Series>& series, bool x, bool log) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : series) {
    for (const auto& p : s.points) {
      const double v = x ? p.first : p.second;
      if (!std::isfinite(v) || (log && v <= 0)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo)) return {log ? 1.0 : 0.0, log ? 10.0 : 1.0};
  if (log) return {lo / 1.2, hi * 1.2};
  const double pad = hi > lo ? (hi - lo) * 0.05 : std::max(std::fabs(hi) * 0.1, 1.0);
  return {lo >= 0 && lo - pad < 0 ? 0.0 : lo - pad, hi + pad};
}

// Whether every finite value on that axis is a whole number.
bool whole_numbers(const std::vector<Series>& series, bool x) {
  for (const Series& s : series) {
    for (const auto& p : s.points) {
      const double v = x ? p.first : p.second;
      if (std::isfinite(v) && v != std::round(v)) return false;
    }
  }
  return true;
}

// Whether the axis's values are all positive and span two decades or more.
bool spans_decades(const std::vector<Series>& series, bool x) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const Series& s : series) {
    for (const auto& p : s.points) {
      const double v = x ? p.first : p.second;
      if (!std::isfinite(v)) continue;
      if (v <= 0) return false;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  return hi > 0 && hi / lo >= 100;
}

std::string text(double x, double y, const std::string& content, const char* anchor = "middle", const char* extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\" " + extra + ">" + html_escape(content) + "</text>";
}

// A chart's title, shrunk to fit the width (13 px bold down to 9 px), and on two lines when
// even that is too wide; returns the text and the height it takes.
std::pair<std::string, double> fitted_title(const std::string& title, double width) {
  const double per_char = 0.6, room = width - 20;  // a bold sans-serif glyph is about 0.6 em wide
  const double fits = room / (per_char * static_cast<double>(std::max<std::size_t>(title.size(), 1)));
  const auto line = [&](double y, const std::string& content, double size) {
    return text(width / 2.0, y, content, "middle", ("font-size=\"" + px(size) + "\" font-weight=\"bold\"").c_str());
  };
  if (fits >= 9) return {line(16, title, std::min(13.0, fits)), 0};
  std::size_t cut = title.rfind(' ', title.size() / 2);
  if (cut == std::string::npos) cut = title.find(' ');
  if (cut == std::string::npos) return {line(16, title, 9), 0};
  const std::string first = title.substr(0, cut), second = title.substr(cut + 1);
  const double size = std::clamp(room / (per_char * static_cast<double>(std::max(first.size(), second.size()))), 7.0, 13.0);
  return {line(16, first, size) + line(16 + size + 2, second, size), size + 2};
}

std::string svg_open(double width, double height) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(width) + "\" height=\"" + px(height) + "\" font-family=\"sans-serif\" font-size=\"11\">";
}

// Swatches and names from `x` on, wrapping before `right`; returns the height used.
double legend(std::string& out, const std::vector<std::pair<std::string, std::string>>& entries, double x0, double y, double right) {
  double x = x0, rows = 1;
  for (const auto& [name, color] : entries) {
    const double width = 24 + 7 * static_cast<double>(name.size());
    if (x + width > right && x > x0) {
      x = x0;
      y += 16;
      ++rows;
    }
    out += "<rect x=\"" + px(x) + "\" y=\"" + px(y - 9) + "\" width=\"10\" height=\"10\" fill=\"" + color + "\"/>";
    out += text(x + 14, y, name, "start");
    x += width;
  }
  return rows * 16;
}
// Closes a bar or timeline chart: the value axis at `axis`, its unit, and a legend of
// `names` in their category colors, in an <svg> as tall as that needs.
std::string with_axis_and_legend(const std::string& body, const Scale& sx, double axis, const std::string& unit,
                           const std::vector<std::string>& names, int width) {
  std::string out = body;
  for (double t : sx.ticks()) out += text(sx.at(t), axis + 10, axis_number(t));
  out += text(sx.from - 6, axis + 10, unit, "end");
  std::vector<std::pair<std::string, std::string>> entries;
  for (const std::string& name : names) entries.emplace_back(name, category_color(name));
  const double used = legend(out, entries, sx.from, axis + 29, sx.to);
  return svg_open(width, axis + 29 + used) + out + "</svg>";
}
}  // namespace

std::string html_escape(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string axis_number(double value) {
  static const std::pair<double, const char*> kSuffixes[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
  char text[32];
  if (std::fabs(value) >= 1e4 && std::isfinite(value)) {
    for (const auto& [scale, suffix] : kSuffixes) {
      if (std::fabs(value) >= scale) {
        std::snprintf(text, sizeof text, "%.4g%s", value / scale, suffix);
        return text;
      }
    }
  }
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string category_color(const std::string& name) {
  static const std::map<std::string, std::string> kKnown = {
      {"gemm", "#4e79a7"}, {"attention", "#f28e2b"}, {"norm", "#59a14f"}, {"elementwise", "#76b7b2"}, {"collective", "#e15759"},
      {"embedding", "#edc948"}, {"loss", "#b07aa1"}, {"optimizer", "#9c755f"}, {"weights", "#4e79a7"}, {"gradients", "#f28e2b"},
      {"activations", "#e15759"}, {"reserved", "#bab0ac"}, {"kv_cache", "#59a14f"}, {"exposed_tp_comm", "#ff9da7"},
      {"exposed_cp_comm", "#d37295"}, {"exposed_ep_comm", "#fabfd2"}, {"exposed_pp_comm", "#b6992d"}, {"exposed_dp_comm", "#e15759"},
      {"idle", "#dddddd"}, {"ttft", "#f28e2b"}, {"tpot", "#59a14f"}, {"itl", "#76b7b2"}, {"e2e", "#4e79a7"}, {"queueing", "#b07aa1"},
      {"non_torch", "#d4a6c8"}, {"requests/s within the SLOs", "#4e79a7"}, {"interference", "#ff9d9a"}};
  if (const auto found = kKnown.find(name); found != kKnown.end()) return found->second;
  std::size_t hash = 0;
  for (char c : name) hash = hash * 31 + static_cast<unsigned char>(c);
  return kPalette[hash % std::size(kPalette)];
}

std::string XyChart::svg(int width, int height) const {
  const auto [title_svg, title_extra] = fitted_title(title, width);
  std::size_t longest = 0;
  for (const Series& s : series) longest = std::max(longest, s.name.size());
  const double legend_width = series.size() > 1 ? std::clamp(34 + 6.2 * static_cast<double>(longest), 100.0, 0.35 * width) : 0;
  const double left = 70, right = 20 + legend_width, top = 30 + title_extra, bottom = 45;
  const double full_height = height + title_extra;
  const bool lx = log_x || (auto_log && spans_decades(series, true)), ly = log_y || (auto_log && spans_decades(series, false));
  std::vector<Series> extent = series;  // the y range takes in the reference lines
  for (const ReferenceLine& l : y_lines) extent.push_back({"", "", {{std::numeric_limits<double>::quiet_NaN(), l.value}}, {}, false, 0});
  const auto [x_lo, x_hi] = range_of(series, true, lx);
  const auto [y_lo, y_hi] = range_of(extent, false, ly);
  const Scale sx{x_lo, x_hi, lx, left, width - right, whole_numbers(series, true)};
  const Scale sy{y_lo, y_hi, ly, full_height - bottom, top, whole_numbers(series, false)};
  std::string out = svg_open(width, full_height) + title_svg;
  out += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(width - right - left) + "\" height=\"" + px(full_height - bottom - top) +
         "\" fill=\"none\" stroke=\"#999\"/>";
  for (double t : sx.ticks()) {
    out += "<line x1=\"" + px(sx.at(t)) + "\" x2=\"" + px(sx.at(t)) + "\" y1=\"" + px(top) + "\" y2=\"" + px(full_height - bottom) + "\" stroke=\"#eee\"/>";
    out += text(sx.at(t), full_height - bottom + 14, axis_number(t));
  }
  for (double t : sy.ticks()) {
    out += "<line x1=\"" + px(left) + "\" x2=\"" + px(width - right) + "\" y1=\"" + px(sy.at(t)) + "\" y2=\"" + px(sy.at(t)) + "\" stroke=\"#eee\"/>";
    out += text(left - 4, sy.at(t) + 4, axis_number(t), "end");
  }
  out += text((left + width - right) / 2, full_height - 8, x_label + (lx ? " (log)" : ""));
  out += text(14, (top + full_height - bottom) / 2, y_label + (ly ? " (log)" : ""), "middle",
              ("transform=\"rotate(-90 14 " + px((top + full_height - bottom) / 2) + ")\"").c_str());
  for (const ReferenceLine& l : y_lines) {
    if (!std::isfinite(l.value) || (ly && l.value <= 0)) continue;
    const double y = sy.at(l.value);
    out += "<line x1=\"" + px(left) + "\" x2=\"" + px(width - right) + "\" y1=\"" + px(y) + "\" y2=\"" + px(y) + "\" stroke=\"" + l.color +
           "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>";
    out += text(width - right - 4, y - 4, l.label, "end", ("fill=\"" + l.color + "\"").c_str());
  }
  const auto visible = [&](const std::pair<double, double>& p) {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!lx || p.first > 0) && (!ly || p.second > 0);
  };
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    if (s.line) {
      std::string path;
      for (const auto& p : s.points) {
        if (visible(p)) path += (path.empty() ? "M" : " L") + px(sx.at(p.first)) + " " + px(sy.at(p.second));
      }
      out += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.8\"/>";
    }
    const std::string paint = s.hollow ? "fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.5\"" : "fill=\"" + s.color + "\" fill-opacity=\"0.75\"";
    for (std::size_t i = 0; s.radius > 0 && i < s.points.size(); ++i) {
      if (!visible(s.points[i])) continue;
      out += "<circle cx=\"" + px(sx.at(s.points[i].first)) + "\" cy=\"" + px(sy.at(s.points[i].second)) + "\" r=\"" + px(s.radius) + "\" " + paint + ">";
      out += "<title>" + html_escape(i < s.titles.size() ? s.titles[i] : axis_number(s.points[i].first) + ", " + axis_number(s.points[i].second)) + "</title></circle>";
    }
    if (series.size() > 1) {
      const double y = top + 14 + 16 * static_cast<double>(k);
      out += "<rect x=\"" + px(width - right + 10) + "\" y=\"" + px(y - 9) + "\" width=\"10\" height=\"10\" " +
             (s.hollow ? "fill=\"none\" stroke=\"" + s.color + "\"" : "fill=\"" + s.color + "\"") + "/>";
      out += text(width - right + 24, y, s.name, "start");
    }
  }
  return out + "</svg>";
}

std::string stacked_bars_svg(const std::string& title, const std::string& unit, const std::vector<StackedBar>& bars, int width) {
  const auto [title_svg, title_extra] = fitted_title(title, width);
  std::size_t longest = 0;
  for (const StackedBar& bar : bars) longest = std::max(longest, bar.label.size());
  // The label column fits the longest label, up to 45% of the width; the right margin, a total.
  constexpr double kCharWidth = 6.6;  // an 11 px sans-serif glyph, generously
  const double left = std::clamp(12 + kCharWidth * static_cast<double>(longest), 80.0, 0.45 * width), right = 90, row = 28, top = 30 + title_extra;
  const auto label_chars = static_cast<std::size_t>((left - 12) / kCharWidth);
  std::vector<std::string> names;
  double most = 0;
  for (const StackedBar& bar : bars) {
    double sum = 0;
    for (const BarSegment& s : bar.segments) {
      sum += s.value;
      if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
    }
    most = std::max({most, sum, bar.limit});
  }
  const Scale sx{0, most > 0 ? most * 1.05 : 1, false, left, width - right};
  std::string out = title_svg;
  for (std::size_t b = 0; b < bars.size(); ++b) {
    const double y = top + row * static_cast<double>(b);
    const std::string& label = bars[b].label;
    out += text(left - 6, y + 15, label.size() > label_chars ? label.substr(0, label_chars - 1) + "\u2026" : label, "end");
    double at = 0;
    for (const BarSegment& s : bars[b].segments) {
      out += "<rect x=\"" + px(sx.at(at)) + "\" y=\"" + px(y + 2) + "\" width=\"" + px(sx.at(at + s.value) - sx.at(at)) + "\" height=\"" + px(row - 6) +
             "\" fill=\"" + category_color(s.name) + "\"><title>" + html_escape(s.name + ": " + axis_number(s.value) + " " + unit) +
             "</title></rect>";
      at += s.value;
    }
    out += text(sx.at(std::max(at, bars[b].limit)) + 4, y + 15, axis_number(at) + " " + unit, "start");  // clear of the limit line
    if (bars[b].limit > 0) {
      out += "<line x1=\"" + px(sx.at(bars[b].limit)) + "\" x2=\"" + px(sx.at(bars[b].limit)) + "\" y1=\"" + px(y) + "\" y2=\"" + px(y + row - 2) +
             "\" stroke=\"#d00\" stroke-width=\"2\"><title>capacity " + axis_number(bars[b].limit) + " " + unit + "</title></line>";
    }
  }
  return with_axis_and_legend(out, sx, top + row * static_cast<double>(bars.size()) + 4, unit, names, width);
}

std::string timeline_svg(const std::string& title, const std::string& unit, const std::vector<TimelineTrack>& tracks, int width) {
  const double left = 150, right = 20, row = 16;
  double end = 0;
  for (const TimelineTrack& t : tracks) {
    for (const TimelineSpan& s : t.spans) end = std::max(end, s.end);
  }
  const int columns = static_cast<int>(width - left - right);
  const Scale sx{0, end > 0 ? end : 1, false, left, width - right};
  const auto [title_svg, title_extra] = fitted_title(title, width);
  std::string out = title_svg;
  const double top = 30 + title_extra;
  std::vector<std::string> seen;
  for (std::size_t k = 0; k < tracks.size(); ++k) {
    const double y = top + row * static_cast<double>(k);
    out += text(left - 6, y + 11, tracks[k].name, "end");
    // Per pixel column, the time each category covers in it; the busiest one wins.
    std::vector<std::map<std::string, double>> cover(static_cast<std::size_t>(columns));
    const double per_column = sx.hi / columns;
    for (const TimelineSpan& s : tracks[k].spans) {
      const int first = clamped_int(s.start / per_column, 0, columns - 1);
      const int last = clamped_int(s.end / per_column, 0, columns - 1);
      for (int c = first; c <= last; ++c) {
        const double overlap = std::min(s.end, (c + 1) * per_column) - std::max(s.start, c * per_column);
        if (overlap > 0) cover[static_cast<std::size_t>(c)][s.category] += overlap;
      }
    }
    // A column's look: its busiest category, and how busy it is in quarters (opacity), so
    // a sparse stream looks sparse.
    const auto look = [&](int c) -> std::pair<std::string, int> {
      const auto& here = cover[static_cast<std::size_t>(c)];
      if (here.empty()) return {"", 0};
      double busy = 0;
      for (const auto& [category, time] : here) busy += time;
      const auto winner = std::max_element(here.begin(), here.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      return {winner->first, clamped_int(std::ceil(4 * busy / per_column), 1, 4)};
    };
    for (int c = 0; c < columns;) {
      const auto here = look(c);
      int run = c + 1;
      while (run < columns && look(run) == here) ++run;
      if (!here.first.empty()) {
        out += "<rect x=\"" + px(left + c) + "\" y=\"" + px(y + 2) + "\" width=\"" + px(run - c) + "\" height=\"" + px(row - 4) + "\" fill=\"" +
               category_color(here.first) + "\" fill-opacity=\"" + px(0.25 * here.second) + "\"><title>" + html_escape(here.first) + "</title></rect>";
        if (std::find(seen.begin(), seen.end(), here.first) == seen.end()) seen.push_back(here.first);
      }
      c = run;
    }
  }
  return with_axis_and_legend(out, sx, top + row * static_cast<double>(tracks.size()) + 4, unit, seen, width);
}

}  // namespace foresight
