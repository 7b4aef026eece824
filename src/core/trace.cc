#include "core/trace.h"

#include <fmt/core.h>

namespace lab {

std::string FormatTimelineLine(const TraceEvent& e, TimeMs start_ms) {
  const TimeMs t = e.time_ms - start_ms;
  std::string ids;
  if (e.job != 0) ids += fmt::format("job={} ", e.job);
  if (e.execution != 0) ids += fmt::format("exec={} ", e.execution);
  if (e.token != 0) ids += fmt::format("token={} ", e.token);
  return fmt::format("{:>+9.3f}s  {:<10} {:<10} {:<24} {}", static_cast<double>(t) / 1000.0,
                     e.actor, e.event, ids, e.result);
}

std::string FormatTimeline(const std::vector<TraceEvent>& events) {
  std::string out;
  if (events.empty()) return out;
  const TimeMs start = events.front().time_ms;
  for (const auto& e : events) {
    out += FormatTimelineLine(e, start);
    out += '\n';
  }
  return out;
}

}  // namespace lab
