// The lab CLI's commands, each registered on the CLI11 app with the action
// to run when it was the one parsed. Exit codes: 0 success, 1 failure, 2
// usage error; messages for 1 and 2 go to stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <utility>
#include <vector>

#include "core/status.h"

namespace lab {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// Refused by admission control: the queue is at its depth limit (try later).
inline constexpr int kExitOverloaded = 3;
// `lab queue work` abandoned by a second SIGINT/SIGTERM (128 + SIGINT, as a shell reports it).
inline constexpr int kExitInterrupted = 130;

using Action = std::function<int()>;
using CommandTable = std::vector<std::pair<CLI::App*, Action>>;

// Prints "lab: message" to stderr; exit 2 for kInvalidArgument, 3 for
// kOverloaded, else 1.
int FailWith(const Error& error);
int UsageError(const std::string& message);

void AddCatalogueCommands(CLI::App& app, CommandTable& table);  // list, run
void AddSimCommands(CLI::App& app, CommandTable& table);        // explore, replay, shrink
void AddQueueCommands(CLI::App& app, CommandTable& table);      // queue enqueue|work|ui|...
void AddBenchCommands(CLI::App& app, CommandTable& table);      // bench

}  // namespace lab
