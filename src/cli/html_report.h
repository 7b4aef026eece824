// A run as one self-contained HTML page: the evidence to look at rather than
// read (issue 14, first part).
//
// One swimlane per actor (each worker, the control plane, the relay, the
// drill, producers, the external system), in time order left to right: each
// execution's lease drawn as a bar on its worker's lane, labelled with its
// fencing token; every event a mark on its actor's lane (state changes,
// faults, link faults, effects applied or deduplicated at the external
// system), its details shown on hover; and each violation listed with its
// evidence. A violation and the events of its job are linked both ways:
// clicking a violation marks its job's events and scrolls to the first;
// clicking an event of a job a violation names goes to that violation.
// Zoom buttons widen the time axis. Everything (CSS, script, SVG) is inline:
// the page fetches nothing, so it opens on a machine without a network.
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <vector>

#include "check/invariants.h"
#include "core/status.h"
#include "core/trace.h"

namespace lab {

struct HtmlRun {
  std::string title;                 // "seed 61, guards -stable_key", say.
  std::vector<std::string> summary;  // Lines shown under the title.
  std::vector<TraceEvent> events;    // In time order, as a run emits them.
  std::vector<Violation> violations;
  // The command that reproduces the run, shown on the page.
  std::string command;
};

std::string RenderRunHtml(const HtmlRun& run);

// One run's evidence as a section of a page: its violations and its
// swimlanes. `id` keeps its elements' ids apart from other sections'.
std::string RenderTimelineSection(std::string_view id, const std::vector<TraceEvent>& events,
                                  const std::vector<Violation>& violations);
// The swimlanes alone (legend, zoom buttons, the SVG), for a page that
// lists no violations (a job's page on the dashboard); put them in a
// <section class="run"> for the page's script to zoom and link them.
std::string RenderSwimlanes(std::string_view id, const std::vector<TraceEvent>& events,
                            const std::vector<Violation>& violations);
// A whole page around `body` (HTML), with the style and script inline;
// `nav` (HTML) above its title.
std::string RenderPage(std::string_view title, std::string_view body, std::string_view nav = {});

// Writes a page (or any text) to `path`, replacing it; kFailedPrecondition
// when it cannot.
Result<void> WriteFile(const std::string& path, std::string_view text);

// `text` with &, <, >, " and ' escaped, for HTML text and attributes.
std::string HtmlEscape(std::string_view text);

}  // namespace lab
