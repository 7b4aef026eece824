// Downstream: a simulated system the handlers call, with a capacity.
//
// With a capacity, it serves `concurrency` requests at once, each for
// `service_ms`, so it completes concurrency / service_ms requests a second;
// the others wait in line, first come first served, so latency grows with
// the line. A caller gives up after `timeout_ms` (a timeout error) but its
// request stays in line and is served anyway: work nobody waits for, what
// keeps a retry storm going after its trigger is gone (Bronson et al.,
// "Metastable Failures in Distributed Systems", HotOS 2021). In a brownout
// each request takes `slow_factor` times as long. Without a capacity every
// request is answered at once. In an outage every request is refused at
// once and costs nothing. Every call is logged with its caller (for
// INV_007, check/amplification.h), failed when the system failed it, and
// each second's calls and answers in time are counted (goodput).
// Deterministic: a function of the calls and their times, which must not
// go backwards. Thread-safety: none (one simulated world).
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "check/amplification.h"
#include "core/clock.h"

namespace lab {

// What the system can do (see above).
struct DownstreamCapacity {
  int concurrency = 4;
  DurationMs service_ms = 400;
  DurationMs timeout_ms = 1'000;  // The callers' timeout.
  std::vector<TimeWindow> brownouts;
  int slow_factor = 10;
};

struct DownstreamOptions {
  std::optional<DownstreamCapacity> capacity;  // None: every request answered at once.
  std::vector<TimeWindow> outages;
};

enum class CallOutcome { kOk, kTimedOut, kRefused };
std::string_view ToString(CallOutcome outcome);

struct CallReply {
  CallOutcome outcome = CallOutcome::kOk;
  TimeMs reply_at_ms = 0;  // When the caller hears back (or gives up).
};

// One second of the downstream system's life.
struct DownstreamSecond {
  int64_t calls = 0;   // Requests that arrived.
  int64_t ok = 0;      // Answers its callers got in time (goodput).
  int64_t wasted = 0;  // Requests served after their caller gave up.
  int64_t failed = 0;  // Requests refused, timed out or answered with an error.
};

class Downstream {
 public:
  explicit Downstream(DownstreamOptions options);

  // A request from `caller` for the job's execution, at `now_ms`. A
  // `repeat` (under a key the system already holds an effect for) is
  // answered from its record at the door, at once, taking no server
  // (outages aside): what makes the drill's redrive of such a job cheap.
  CallReply Call(TimeMs now_ms, JobId job, ExecutionId execution, const std::string& caller,
                 bool repeat = false);
  // Call `index` (of calls()), answered in time, was answered with an
  // error all the same (a request the system served and failed), or its
  // caller never heard the answer (the network lost it).
  void Fail(size_t index);
  // Call `index`'s caller heard its outcome at `at_ms` (a late reply, a
  // lost one it gave up on at its timeout).
  void HeardAt(size_t index, TimeMs at_ms);
  // A call the network lost on its way: logged for its caller (failed,
  // heard at its timeout), never seen by the system.
  void Lost(TimeMs now_ms, JobId job, ExecutionId execution, const std::string& caller,
            TimeMs heard_at_ms);
  // Marks the last call a copy of the one before it that the network
  // delivered again (see DownstreamCall::duplicate).
  void MarkLastDuplicate();
  // Requests in line or in service at `now_ms`.
  int64_t Backlog(TimeMs now_ms);
  const std::vector<DownstreamCall>& calls() const { return calls_; }
  // Second by second from 0, through the last second anything happened in.
  const std::vector<DownstreamSecond>& seconds() const { return seconds_; }
  const DownstreamOptions& options() const { return options_; }

 private:
  DownstreamSecond& Second(TimeMs t);

  DownstreamOptions options_;
  // When each server is next free.
  std::priority_queue<TimeMs, std::vector<TimeMs>, std::greater<>> free_at_;
  // When each request in line or in service is done.
  std::priority_queue<TimeMs, std::vector<TimeMs>, std::greater<>> done_at_;
  std::vector<DownstreamCall> calls_;
  std::vector<TimeMs> ok_at_;  // By call: when it was answered in time (0: it was not).
  std::vector<DownstreamSecond> seconds_;
};

}  // namespace lab
