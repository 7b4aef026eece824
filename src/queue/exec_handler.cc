#include "queue/exec_handler.h"

#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

extern char** environ;

namespace lab {
namespace {

// An fd that closes itself.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The process groups of the commands running now, for KillRunningCommands
// (called from a signal handler: plain atomics, no locks, no allocation).
constexpr int kMaxRunning = 1024;
std::atomic<pid_t> g_running[kMaxRunning];

// Holds a slot in g_running while a command runs.
class RunningSlot {
 public:
  explicit RunningSlot(pid_t pgid) {
    for (int i = 0; i < kMaxRunning; ++i) {
      pid_t empty = 0;
      if (g_running[i].compare_exchange_strong(empty, pgid)) {
        slot_ = i;
        return;
      }
    }
  }
  ~RunningSlot() {
    if (slot_ >= 0) g_running[slot_].store(0);
  }
  RunningSlot(const RunningSlot&) = delete;
  RunningSlot& operator=(const RunningSlot&) = delete;

 private:
  int slot_ = -1;
};

std::string SysError(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// The payload as a file at offset 0, for the command's stdin: a pipe could
// fill up while the command does not read it.
Result<void> WritePayload(int fd, const std::string& payload) {
  size_t done = 0;
  while (done < payload.size()) {
    ssize_t n = write(fd, payload.data() + done, payload.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(ErrorCode::kInternal, SysError("writing the payload"));
    done += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    return MakeError(ErrorCode::kInternal, SysError("rewinding the payload"));
  }
  return {};
}

// The worker's environment without any LAB_* job variable, plus the job's.
std::vector<std::string> JobEnvironment(const JobContext& ctx) {
  static constexpr std::string_view kOurs[] = {
      "LAB_JOB_ID=", "LAB_JOB_KEY=", "LAB_ATTEMPT=", "LAB_FENCING_TOKEN="};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool ours = false;
    for (auto prefix : kOurs) ours = ours || entry.starts_with(prefix);
    if (!ours) env.emplace_back(entry);
  }
  env.push_back(fmt::format("LAB_JOB_ID={}", ctx.job_id));
  env.push_back(fmt::format("LAB_JOB_KEY={}", ctx.key));
  env.push_back(fmt::format("LAB_ATTEMPT={}", ctx.attempt));
  env.push_back(fmt::format("LAB_FENCING_TOKEN={}", ctx.attempt));
  return env;
}

// Starts `/bin/sh -c command` in its own process group (so a terminal's
// Ctrl-C reaches the worker, which lets running commands finish), with
// default signal dispositions and an empty signal mask.
Result<pid_t> Spawn(const std::string& command, int stdin_fd, int stdout_fd,
                    const JobContext& ctx) {
  std::vector<std::string> env = JobEnvironment(ctx);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("starting /bin/sh -c '{}': {}", command, std::strerror(err)));
  }
  return pid;
}

Result<int> Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return MakeError(ErrorCode::kInternal, SysError("waitpid"));
  }
  return status;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("command exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("command killed by signal {}", WTERMSIG(status));
  return fmt::format("command ended with wait status {}", status);
}

// Kills what is left of the command's process group, then reaps the
// command. The group is killed while the command is still unreaped (a
// zombie holds its pid), so the group id cannot have been reused.
Result<int> EndCommand(pid_t pid) {
  kill(-pid, SIGKILL);
  return Reap(pid);
}

// What the command wrote to its stdout (a file, so it never blocks on a
// full pipe), at most kMaxExecOutputBytes.
Result<std::string> ReadOutput(int fd) {
  const off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return MakeError(ErrorCode::kInternal, SysError("measuring the output"));
  if (size > static_cast<off_t>(kMaxExecOutputBytes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the command wrote {} bytes to its output, more than the {} an "
                                 "effect may hold",
                                 static_cast<long long>(size), kMaxExecOutputBytes));
  }
  std::string out(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return MakeError(ErrorCode::kInternal, SysError("reading the output"));
    done += static_cast<size_t>(n);
  }
  return out;
}

HandlerResult RunCommand(const ExecOptions& options, Waiter& waiter, Clock& clock,
                         const JobContext& ctx) {
  Fd payload(memfd_create("lab-payload", MFD_CLOEXEC));
  if (payload.get() < 0) return HandlerResult::Transient(SysError("memfd_create"));
  if (auto w = WritePayload(payload.get(), ctx.payload); !w) {
    return HandlerResult::Transient(w.error().message);
  }
  Fd output(options.capture_output ? memfd_create("lab-output", MFD_CLOEXEC) : -1);
  if (options.capture_output && output.get() < 0) {
    return HandlerResult::Transient(SysError("memfd_create"));
  }
  auto pid = Spawn(options.command, payload.get(), output.get(), ctx);
  if (!pid) return HandlerResult::Transient(pid.error().message);
  RunningSlot running(*pid);
  // Readable when the child has exited; the wait for it never spins.
  Fd exited(static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)));
  if (exited.get() < 0) {
    const std::string why = SysError("pidfd_open");
    (void)EndCommand(*pid);
    return HandlerResult::Transient(why);
  }
  const TimeMs started = clock.NowMs();
  const DurationMs timeout_ms = ctx.timeout_ms > 0 ? ctx.timeout_ms : options.timeout_ms;
  for (;;) {
    DurationMs wait = options.heartbeat_ms;
    if (timeout_ms > 0) {
      const DurationMs left = timeout_ms - (clock.NowMs() - started);
      if (left <= 0) {
        (void)EndCommand(*pid);
        return HandlerResult::Transient(
            fmt::format("command timed out after {}ms; killed", timeout_ms));
      }
      wait = std::min(wait, left);
    }
    if (waiter.WaitReadableMs(exited.get(), wait)) break;
    if (!ctx.keep_alive) continue;
    auto beat = ctx.keep_alive();
    if (!beat && beat.error().code == ErrorCode::kAborted) {
      // Another worker owns the job now: stop this copy of the command.
      (void)EndCommand(*pid);
      return HandlerResult::Transient("lease lost while the command ran; command killed");
    }
  }
  auto status = EndCommand(*pid);
  if (!status) return HandlerResult::Transient(status.error().message);
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return HandlerResult::Transient(DescribeStatus(*status));
  }
  if (!options.capture_output) return HandlerResult::Ok("exit 0");
  auto out = ReadOutput(output.get());
  if (!out) return HandlerResult::Transient(out.error().message);
  return HandlerResult::Ok(std::move(*out));
}

}  // namespace

Handler ExecHandler(ExecOptions options, Waiter& waiter, Clock& clock) {
  return [options = std::move(options), &waiter, &clock](const JobContext& ctx) {
    return RunCommand(options, waiter, clock, ctx);
  };
}

void KillRunningCommands() {
  for (auto& slot : g_running) {
    if (const pid_t pgid = slot.load(); pgid > 0) kill(-pgid, SIGKILL);
  }
}

}  // namespace lab
