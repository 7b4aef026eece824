// lab: the Software Correctness Lab's command line.
//
//   lab list | run            the failure-mode catalogue (catalogue_commands.cc)
//   lab explore | replay | shrink   the simulator (sim_commands.cc)
//   lab queue ...              operate a real queue (queue_commands.cc)
//
// Exit codes: 0 success, 1 a failure (a claim not matched, a violation
// found, an I/O error), 2 a usage error (unknown command, option, FM or
// store URL), 3 an enqueue refused because its queue is full (admission
// control: try again later). Errors go to stderr.
#include <fmt/core.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"

namespace lab {

int FailWith(const Error& error) {
  fmt::print(stderr, "lab: {}\n", error.message);
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return kExitUsage;
    case ErrorCode::kOverloaded:
      return kExitOverloaded;
    default:
      return kExitFailure;
  }
}

int UsageError(const std::string& message) {
  fmt::print(stderr, "lab: {}\n", message);
  return kExitUsage;
}

namespace {

int Main(int argc, char** argv) {
  CLI::App app{
      "Software Correctness Lab: reproduce, detect, prevent and prove job-queue failure "
      "modes"};
  app.require_subcommand(1);
  CommandTable table;
  AddCatalogueCommands(app, table);
  AddSimCommands(app, table);
  AddQueueCommands(app, table);
  AddBenchCommands(app, table);

  if (argc >= 2 && argv[1][0] != '-') {
    const std::string command = argv[1];
    bool known = false;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == command;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      return UsageError(
          fmt::format("unknown command '{}' (commands: {}; see lab --help)", command, names));
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  for (const auto& [sub, action] : table) {
    if (sub->parsed()) return action();
  }
  return UsageError("no command given (see lab --help)");
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::Main(argc, argv); }
