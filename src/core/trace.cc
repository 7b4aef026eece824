#include "core/trace.h"

#include <fmt/core.h>

#include <cstdlib>

namespace lab {

std::string FormatTimelineLine(const TraceEvent& e) {
  std::string ids;
  if (e.job != 0) ids += fmt::format("job={} ", e.job);
  if (e.execution != 0) ids += fmt::format("exec={} ", e.execution);
  if (e.token != 0) ids += fmt::format("token={} ", e.token);
  return fmt::format("{:>10}  {:<10} {:<10} {:<24} {}", RunTime(e.time_ms), e.actor, e.event, ids,
                     e.result);
}

std::string RunTime(TimeMs time_ms) {
  return fmt::format("{}{}.{:03}s", time_ms < 0 ? "-" : "+", std::abs(time_ms) / 1000,
                     std::abs(time_ms) % 1000);
}

std::string FormatTimeline(const std::vector<TraceEvent>& events) {
  std::string out;
  for (const auto& e : events) {
    out += FormatTimelineLine(e);
    out += '\n';
  }
  return out;
}

}  // namespace lab
