// TraceEvent and TraceSink: the record of what happened in a run.
//
// Workers, the reaper, the reconciler and scenarios emit one event per step;
// a sink collects them. The same events render as a compact human timeline
// (`lab run`) and, later, as JSON lines for replay tooling. Emitting is
// optional: code holds a TraceSink* that may be null. Thread-safety:
// VectorTraceSink is not synchronized; one run, one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"

namespace lab {

struct TraceEvent {
  TimeMs time_ms = 0;
  std::string actor;  // "worker-A", "reaper", "scenario", ...
  std::string event;  // "claim", "begin", "handler", "commit", "note", ...
  int64_t job = 0;    // 0 when the event concerns no job.
  int64_t execution = 0;
  int64_t token = 0;   // Fencing token (attempt number); 0 when none.
  std::string result;  // "ok", "fenced", "effect applied", free text for notes.
};

// A run time as the timeline and every checker's evidence print it: seconds
// from the run clock's zero, "+31.000s". One origin for all of them.
std::string RunTime(TimeMs time_ms);

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void Emit(TraceEvent event) = 0;
};

class VectorTraceSink final : public TraceSink {
 public:
  void Emit(TraceEvent event) override { events_.push_back(std::move(event)); }
  const std::vector<TraceEvent>& events() const { return events_; }

 private:
  std::vector<TraceEvent> events_;
};

// One line per event, aligned, times in seconds relative to start_ms:
//   +31.000s  worker-B   commit    job=1 exec=2 token=2  ok
std::string FormatTimelineLine(const TraceEvent& event, TimeMs start_ms);
std::string FormatTimeline(const std::vector<TraceEvent>& events);

}  // namespace lab
