// INV_008 bounded latency under overload: what the queue accepts it starts
// in time, and what it cannot serve in time it refuses or expires, saying
// so; nothing waits past its use or vanishes.
//
// Judged from the store's record alone (the snapshot) and the depth limits
// in force for the whole run:
//   1. No job starts after its deadline: every execution of a job with a
//      deadline was leased at or before it. (Work begun past its deadline is
//      work nobody waits for: the producer has given up on it.)
//   2. No queue holds more unfinished (PENDING or RUNNING) jobs than its
//      limit at any moment: the audit log's job-level transitions are
//      replayed, an enqueue or a redrive opening a job, a finished state
//      closing it. (Excess load must be refused at the door, not queued.)
//   3. Every EXPIRED job says why: its last error and an audited "expire".
// One violation per queue for each of 1 and 2 (the worst job named, with
// the count), one per job for 3. Thread-safety: pure function.
#pragma once

#include <span>
#include <vector>

#include "check/invariants.h"

namespace lab {

std::vector<Violation> CheckBoundedLatency(const Snapshot& snapshot,
                                           std::span<const QueueLimit> limits);

}  // namespace lab
