#pragma once
// Plots as inline SVG, so that a report is one self-contained HTML file that needs no
// network and no script to view: XY charts (points and lines, linear or log axes),
// stacked horizontal bars, and timelines of tracks. Hovering a mark shows its <title>.
#include <string>
#include <utility>
#include <vector>

namespace foresight {

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;
  std::vector<std::string> titles;  // per point, shown on hover; may be empty
  bool line = false;                // join the points (in the order given)
  double radius = 3;                // 0: no markers
  bool hollow = false;              // rings instead of dots: points that miss a constraint
};

// A horizontal line across an XY chart at a value of the y axis: an SLO, a capacity.
struct ReferenceLine {
  std::string label;
  double value;
  std::string color;
};

struct XyChart {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<Series> series = {};
  std::vector<ReferenceLine> y_lines = {};
  // Each linear axis whose positive values span two decades or more becomes logarithmic.
  bool auto_log = false;
  std::string svg(int width = 640, int height = 360) const;
};

struct BarSegment {
  std::string name;
  double value;
};

struct StackedBar {
  std::string label;
  std::vector<BarSegment> segments;
  double limit = 0;  // drawn as a red line (a capacity); 0 for none
};

// One bar per row, segments left to right in a shared palette, with a legend; each bar's
// total is written at its end.
std::string stacked_bars_svg(const std::string& title, const std::string& unit, const std::vector<StackedBar>& bars, int width = 640);

struct TimelineSpan {
  double start, end;  // any time unit, as the axis label says
  std::string category;
};

struct TimelineTrack {
  std::string name;
  std::vector<TimelineSpan> spans;
};

// Each track a row; spans are drawn per pixel column (the category busiest in it), so a
// trace of millions of kernels stays a few thousand rectangles.
std::string timeline_svg(const std::string& title, const std::string& unit, const std::vector<TimelineTrack>& tracks, int width = 1100);

std::string html_escape(const std::string& text);
// A tick or a value as people read it: 4 significant digits, thousands and more with k, M, G
// or T instead of an exponent.
std::string axis_number(double value);
// A stable color per category name.
std::string category_color(const std::string& name);

}  // namespace foresight
