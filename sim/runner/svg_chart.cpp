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

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string px(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

struct Scale {
  double lo, hi;
  bool log;
  double from, to;  // pixels
  double at(double v) const {
    const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi, x = log ? std::log10(v) : v;
    return b > a ? from + (x - a) / (b - a) * (to - from) : (from + to) / 2;
  }
  std::vector<double> ticks() const {
    std::vector<double> ticks;
    if (log) {
      for (double t = std::pow(10, std::floor(std::log10(lo))); t <= hi * 1.0001; t *= 10) {
        if (t >= lo * 0.9999) ticks.push_back(t);
      }
      return ticks;
    }
    const double span = hi - lo;
    if (span <= 0) return {lo};
    const double raw = span / 5, magnitude = std::pow(10, std::floor(std::log10(raw)));
    const double step = raw / magnitude < 2 ? 2 * magnitude : raw / magnitude < 5 ? 5 * magnitude : 10 * magnitude;
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

std::string text(double x, double y, const std::string& content, const char* anchor = "middle", const char* extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\" " + extra + ">" + html_escape(content) + "</text>";
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
  for (double t : sx.ticks()) out += text(sx.at(t), axis + 10, number(t));
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

std::string category_color(const std::string& name) {
  static const std::map<std::string, std::string> kKnown = {
      {"gemm", "#4e79a7"}, {"attention", "#f28e2b"}, {"norm", "#59a14f"}, {"elementwise", "#76b7b2"}, {"collective", "#e15759"},
      {"embedding", "#edc948"}, {"loss", "#b07aa1"}, {"optimizer", "#9c755f"}, {"weights", "#4e79a7"}, {"gradients", "#f28e2b"},
      {"activations", "#e15759"}, {"reserved", "#bab0ac"}, {"kv_cache", "#59a14f"}, {"exposed_tp_comm", "#ff9da7"},
      {"exposed_cp_comm", "#d37295"}, {"exposed_ep_comm", "#fabfd2"}, {"exposed_pp_comm", "#b6992d"}, {"exposed_dp_comm", "#e15759"},
      {"idle", "#dddddd"}};
  if (const auto found = kKnown.find(name); found != kKnown.end()) return found->second;
  std::size_t hash = 0;
  for (char c : name) hash = hash * 31 + static_cast<unsigned char>(c);
  return kPalette[hash % std::size(kPalette)];
}

std::string XyChart::svg(int width, int height) const {
  const double left = 70, right = 20 + (series.size() > 1 ? 150 : 0), top = 30, bottom = 45;
  const auto [x_lo, x_hi] = range_of(series, true, log_x);
  const auto [y_lo, y_hi] = range_of(series, false, log_y);
  const Scale sx{x_lo, x_hi, log_x, left, width - right}, sy{y_lo, y_hi, log_y, height - bottom, top};
  std::string out = svg_open(width, height);
  out += text(width / 2.0, 16, title, "middle", "font-size=\"13\" font-weight=\"bold\"");
  out += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(width - right - left) + "\" height=\"" + px(height - bottom - top) +
         "\" fill=\"none\" stroke=\"#999\"/>";
  for (double t : sx.ticks()) {
    out += "<line x1=\"" + px(sx.at(t)) + "\" x2=\"" + px(sx.at(t)) + "\" y1=\"" + px(top) + "\" y2=\"" + px(height - bottom) + "\" stroke=\"#eee\"/>";
    out += text(sx.at(t), height - bottom + 14, number(t));
  }
  for (double t : sy.ticks()) {
    out += "<line x1=\"" + px(left) + "\" x2=\"" + px(width - right) + "\" y1=\"" + px(sy.at(t)) + "\" y2=\"" + px(sy.at(t)) + "\" stroke=\"#eee\"/>";
    out += text(left - 4, sy.at(t) + 4, number(t), "end");
  }
  out += text((left + width - right) / 2, height - 8, x_label + (log_x ? " (log)" : ""));
  out += text(14, (top + height - bottom) / 2, y_label + (log_y ? " (log)" : ""), "middle",
              ("transform=\"rotate(-90 14 " + px((top + height - bottom) / 2) + ")\"").c_str());
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const auto visible = [&](const std::pair<double, double>& p) {
      return std::isfinite(p.first) && std::isfinite(p.second) && (!log_x || p.first > 0) && (!log_y || p.second > 0);
    };
    if (s.line) {
      std::string path;
      for (const auto& p : s.points) {
        if (visible(p)) path += (path.empty() ? "M" : " L") + px(sx.at(p.first)) + " " + px(sy.at(p.second));
      }
      out += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.8\"/>";
    }
    for (std::size_t i = 0; s.radius > 0 && i < s.points.size(); ++i) {
      if (!visible(s.points[i])) continue;
      out += "<circle cx=\"" + px(sx.at(s.points[i].first)) + "\" cy=\"" + px(sy.at(s.points[i].second)) + "\" r=\"" + px(s.radius) + "\" fill=\"" +
             s.color + "\" fill-opacity=\"0.75\">";
      out += "<title>" + html_escape(i < s.titles.size() ? s.titles[i] : number(s.points[i].first) + ", " + number(s.points[i].second)) + "</title></circle>";
    }
    if (series.size() > 1) {
      const double y = top + 14 + 16 * static_cast<double>(k);
      out += "<rect x=\"" + px(width - right + 10) + "\" y=\"" + px(y - 9) + "\" width=\"10\" height=\"10\" fill=\"" + s.color + "\"/>";
      out += text(width - right + 24, y, s.name, "start");
    }
  }
  return out + "</svg>";
}

std::string stacked_bars_svg(const std::string& title, const std::string& unit, const std::vector<StackedBar>& bars, int width) {
  const double left = 120, right = 20, row = 28, top = 30;
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
  std::string out;
  out += text(width / 2.0, 16, title, "middle", "font-size=\"13\" font-weight=\"bold\"");
  for (std::size_t b = 0; b < bars.size(); ++b) {
    const double y = top + row * static_cast<double>(b);
    out += text(left - 6, y + 15, bars[b].label, "end");
    double at = 0;
    for (const BarSegment& s : bars[b].segments) {
      out += "<rect x=\"" + px(sx.at(at)) + "\" y=\"" + px(y + 2) + "\" width=\"" + px(sx.at(at + s.value) - sx.at(at)) + "\" height=\"" + px(row - 6) +
             "\" fill=\"" + category_color(s.name) + "\"><title>" + html_escape(s.name + ": " + number(s.value) + " " + unit) +
             "</title></rect>";
      at += s.value;
    }
    if (bars[b].limit > 0) {
      out += "<line x1=\"" + px(sx.at(bars[b].limit)) + "\" x2=\"" + px(sx.at(bars[b].limit)) + "\" y1=\"" + px(y) + "\" y2=\"" + px(y + row - 2) +
             "\" stroke=\"#d00\" stroke-width=\"2\"><title>capacity " + number(bars[b].limit) + " " + unit + "</title></line>";
    }
  }
  return with_axis_and_legend(out, sx, top + row * static_cast<double>(bars.size()) + 4, unit, names, width);
}

std::string timeline_svg(const std::string& title, const std::string& unit, const std::vector<TimelineTrack>& tracks, int width) {
  const double left = 150, right = 20, row = 16, top = 30;
  double end = 0;
  for (const TimelineTrack& t : tracks) {
    for (const TimelineSpan& s : t.spans) end = std::max(end, s.end);
  }
  const int columns = static_cast<int>(width - left - right);
  const Scale sx{0, end > 0 ? end : 1, false, left, width - right};
  std::string out;
  out += text(width / 2.0, 16, title, "middle", "font-size=\"13\" font-weight=\"bold\"");
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
