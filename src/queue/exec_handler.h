// ExecHandler: a job handler that runs a shell command once per job.
//
// The command runs as `/bin/sh -c COMMAND` in its own process group, with
// the job's payload on stdin and LAB_JOB_ID, LAB_JOB_KEY, LAB_ATTEMPT and
// LAB_FENCING_TOKEN added to the worker's environment; stdout and stderr are
// the worker's (with capture_output, stdout is the effect). Exit status 0
// is success (the effect recorded in the ledger is "exit 0", or the output); any other status or a
// signal is a transient failure, which the retry policy turns into a retry or a dead letter. While
// the command runs the handler extends the lease every `heartbeat_ms`; when the lease is lost
// (taken over after a stall), it kills the command's process group and reports the loss; after
// `timeout_ms` (if set) it kills it and fails the attempt. When a command ends, whatever it left
// running in its process group (background children) is killed too, so nothing of a job outlives
// its commit. LAB_JOB_KEY is the job's idempotency key when it has
// one, else "job:<id>": the key an idempotent command should record its
// effect under. Thread-safety: the handler may run on many threads at once.
#pragma once

#include <cstddef>
#include <string>

#include "core/waiter.h"
#include "queue/worker.h"

namespace lab {

// The most a captured output may hold (ExecOptions::capture_output).
inline constexpr size_t kMaxExecOutputBytes = 1u << 20;

struct ExecOptions {
  std::string command;
  DurationMs heartbeat_ms = 10'000;
  DurationMs timeout_ms = 0;  // 0: no limit. A job's own timeout_ms wins.
  // The command's stdout is its effect (an outbox's intent, say) instead of
  // "exit 0"; more than kMaxExecOutputBytes fails the attempt.
  bool capture_output = false;
};

// `waiter` and `clock` must outlive the handler: the waiter paces the wait
// for the command, the clock measures its run time against the timeout.
Handler ExecHandler(ExecOptions options, Waiter& waiter, Clock& clock);

// Kills the process group of every command an ExecHandler is running now.
// Async-signal-safe: for a process that is about to exit at once.
void KillRunningCommands();

}  // namespace lab
