#include "cli/html_report.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>

#include "core/enum_names.h"

namespace lab {
namespace {

constexpr int kLeft = 130;       // Where the time axis starts: lane names to its left.
constexpr int kWidth = 1100;     // The time axis at zoom 1.
constexpr int kLaneHeight = 26;  // One actor's lane.
constexpr int kTop = 28;         // The axis's labels.
// Past this many events a page draws one by one only the ones that tell
// (faults, effects, repeats, every event of a violated job) and sums the
// rest per lane in blocks of kBlocks to the axis; past kMaxLeases
// executions, only the violated jobs' leases are bars.
constexpr size_t kMaxMarks = 3'000;
constexpr size_t kMaxLeases = 1'000;
constexpr int kBlocks = 220;

// Lanes top to bottom: producers, workers, the control plane, the relay,
// the drill, the external system, then the rest; within a group, by first
// appearance.
int LaneRank(std::string_view actor) {
  if (actor.starts_with("producer")) return 0;
  if (actor.starts_with("worker") ||
      (actor.size() > 1 && actor[0] == 'w' && std::isdigit(static_cast<unsigned char>(actor[1])))) {
    return 1;
  }
  if (actor == "sweeper" || actor == "reaper" || actor == "reconciler") return 2;
  if (actor == "relay") return 3;
  if (actor == "drill") return 4;
  if (actor == "external") return 5;
  return 6;
}

enum class MarkKind { kStep, kFault, kEffect, kRepeat, kNote };

MarkKind KindOf(const TraceEvent& e) {
  static const std::set<std::string_view> kFaults = {
      "fault", "store-fault", "link", "cut-off", "reopen", "store-error", "give-up", "liveness"};
  if (e.actor == "external") return e.event == "effect" ? MarkKind::kEffect : MarkKind::kRepeat;
  if (kFaults.contains(e.event)) return MarkKind::kFault;
  if (e.event == "note" || e.event == "check") return MarkKind::kNote;
  return MarkKind::kStep;
}

// Each kind's CSS class.
constexpr EnumNames<MarkKind, 5> kMarkClasses = {{{MarkKind::kStep, "step"},
                                                  {MarkKind::kFault, "fault"},
                                                  {MarkKind::kEffect, "effect"},
                                                  {MarkKind::kRepeat, "repeat"},
                                                  {MarkKind::kNote, "note"}}};

// A lease as the trace shows it: from its execution's first event to its
// last, on the lane of the worker that claimed it.
struct LeaseBar {
  size_t lane = 0;
  TimeMs from_ms = 0;
  TimeMs to_ms = 0;
  int64_t job = 0;
  int64_t token = 0;
};

constexpr std::string_view kStyle = R"css(
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #1b1f24; }
h1 { font-size: 18px; margin: 0 0 4px; }
.summary { color: #444; margin: 0 0 8px; }
code { background: #f3f4f6; padding: 1px 4px; }
.bar { margin: 8px 0; }
.bar button { margin-right: 4px; }
.lanes { overflow-x: auto; border: 1px solid #d0d7de; }
svg text { font-size: 11px; }
.lane-name { fill: #333; }
.lane-line { stroke: #e5e7eb; }
.tick { stroke: #d0d7de; }
.lease { fill: #c7dcf5; stroke: #6a9bd8; }
.summed { fill: #afb8c1; }
.mark { cursor: pointer; }
.mark.step { fill: #57606a; }
.mark.fault { fill: #d1242f; }
.mark.effect { fill: #1a7f37; }
.mark.repeat { fill: #9a6700; }
.mark.note { fill: #8c959f; }
.mark.violated { stroke: #d1242f; stroke-width: 2; }
.mark.hit { stroke: #0969da; stroke-width: 3; }
.lease.hit { stroke: #0969da; stroke-width: 2; }
ol.violations li { cursor: pointer; margin-bottom: 6px; }
ol.violations li.focus { background: #fff8c5; }
.legend span { margin-right: 12px; }
.ok { color: #1a7f37; }
.bad { color: #d1242f; font-weight: bold; }
table { border-collapse: collapse; margin: 4px 0 8px; }
td, th { border: 1px solid #d0d7de; padding: 2px 6px; text-align: left; vertical-align: top; }
nav { margin: 0 0 12px; padding: 6px 0; border-bottom: 1px solid #d0d7de; }
nav a { margin-right: 14px; font-weight: 600; }
h2 { font-size: 15px; margin: 18px 0 6px; }
h3.worker { font-size: 13px; margin: 10px 0 4px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.banner { background: #dafbe1; border: 1px solid #1a7f37; padding: 6px 10px; }
form.inline { display: inline; margin: 0; }
button.redrive { cursor: pointer; }
svg.chart text { font-size: 10px; fill: #57606a; }
svg.chart .done, .done-key { fill: #1a7f37; color: #1a7f37; }
svg.chart .dead, .dead-key { fill: #d1242f; color: #d1242f; }
svg.chart .expired, .expired-key { fill: #8c959f; color: #8c959f; }
pre { background: #f6f8fa; padding: 6px; white-space: pre-wrap; }
)css";

constexpr std::string_view kScript = R"js(
document.querySelectorAll('section.run').forEach(function (section) {
  const svg = section.querySelector('svg.lanes');
  const left = Number(svg.dataset.left), width = Number(svg.dataset.width);
  const end = Number(svg.dataset.end);
  let zoom = 1;
  function x(t) { return left + (t / end) * width * zoom; }
  function layout() {
    svg.setAttribute('width', left + width * zoom + 20);
    svg.querySelectorAll('[data-t]').forEach(function (e) {
      const t = Number(e.dataset.t);
      if (e.tagName === 'rect') {
        const t1 = Number(e.dataset.t1);
        e.setAttribute('x', x(t));
        e.setAttribute('width', Math.max(3, x(t1) - x(t)));
      } else if (e.tagName === 'circle') {
        e.setAttribute('cx', x(t));
      } else if (e.tagName === 'line') {
        e.setAttribute('x1', x(t)); e.setAttribute('x2', x(t));
      } else {
        e.setAttribute('x', x(t) + (e.dataset.dx ? Number(e.dataset.dx) : 0));
      }
    });
  }
  section.querySelectorAll('button[data-zoom]').forEach(function (b) {
    b.addEventListener('click', function () {
      const f = Number(b.dataset.zoom);
      zoom = f === 0 ? 1 : Math.min(64, Math.max(1, zoom * f));
      layout();
    });
  });
  function mark(job) {
    section.querySelectorAll('.hit').forEach(function (e) { e.classList.remove('hit'); });
    let first = null;
    svg.querySelectorAll('[data-job="' + job + '"]').forEach(function (e) {
      e.classList.add('hit');
      if (!first) first = e;
    });
    if (first) first.scrollIntoView({block: 'nearest', inline: 'center'});
  }
  const violationOf = {};
  section.querySelectorAll('ol.violations > li').forEach(function (li) {
    if (!(li.dataset.job in violationOf)) violationOf[li.dataset.job] = li;
    li.addEventListener('click', function () { mark(li.dataset.job); });
  });
  svg.querySelectorAll('.mark').forEach(function (m) {
    m.addEventListener('click', function () {
      const li = violationOf[m.dataset.job];
      if (!li) return;
      section.querySelectorAll('li.focus').forEach(function (e) { e.classList.remove('focus'); });
      li.classList.add('focus');
      li.scrollIntoView({block: 'center'});
    });
  });
  layout();
});
)js";

// A tick every this many ms, so that an axis shows about ten.
TimeMs TickEvery(TimeMs end) {
  for (TimeMs step : {100LL, 250LL, 500LL, 1'000LL, 2'000LL, 5'000LL, 10'000LL, 30'000LL, 60'000LL,
                      300'000LL, 600'000LL, 3'600'000LL}) {
    if (end / step <= 12) return step;
  }
  return 86'400'000LL;
}

}  // namespace

Result<void> WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return MakeError(ErrorCode::kFailedPrecondition, "cannot write " + path);
  return {};
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderSwimlanes(std::string_view id, const std::vector<TraceEvent>& events,
                            const std::vector<Violation>& violations) {
  // The lanes, in their order.
  std::vector<std::string> lanes;
  std::map<std::string, size_t> first_seen;
  for (const TraceEvent& e : events) {
    if (first_seen.emplace(e.actor, first_seen.size()).second) lanes.push_back(e.actor);
  }
  std::stable_sort(lanes.begin(), lanes.end(), [&](const std::string& a, const std::string& b) {
    const int ra = LaneRank(a), rb = LaneRank(b);
    return ra != rb ? ra < rb : first_seen[a] < first_seen[b];
  });
  std::map<std::string, size_t> lane_of;
  for (size_t i = 0; i < lanes.size(); ++i) lane_of[lanes[i]] = i;

  TimeMs end = 1;
  for (const TraceEvent& e : events) end = std::max(end, e.time_ms);
  // Leases: each execution's events on the lane of the worker that claimed it.
  std::map<int64_t, LeaseBar> leases;
  for (const TraceEvent& e : events) {
    if (e.execution == 0 || LaneRank(e.actor) != 1) continue;
    auto [it, fresh] = leases.try_emplace(e.execution, LeaseBar{.lane = lane_of[e.actor],
                                                                .from_ms = e.time_ms,
                                                                .to_ms = e.time_ms,
                                                                .job = e.job,
                                                                .token = e.token});
    if (!fresh && it->second.lane == lane_of[e.actor]) it->second.to_ms = e.time_ms;
  }
  std::map<int64_t, size_t> violation_of;  // A job's first violation.
  for (size_t i = 0; i < violations.size(); ++i) violation_of.emplace(violations[i].job_id, i);

  const auto x = [&](TimeMs t) {
    return kLeft + static_cast<double>(t) / static_cast<double>(end) * kWidth;
  };
  const auto y = [&](size_t lane) { return kTop + static_cast<int>(lane) * kLaneHeight; };
  const int height = y(lanes.size()) + 8;

  std::string svg = fmt::format(
      "<svg class=\"lanes\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "data-left=\"{}\" data-width=\"{}\" data-end=\"{}\">\n",
      kLeft + kWidth + 20, height, kLeft, kWidth, end);
  const TimeMs every = TickEvery(end);
  for (TimeMs t = 0; t <= end; t += every) {
    svg += fmt::format(
        "<line class=\"tick\" data-t=\"{}\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\"/>"
        "<text data-t=\"{}\" data-dx=\"2\" x=\"{:.1f}\" y=\"14\">{}</text>\n",
        t, x(t), x(t), kTop - 6, height, t, x(t) + 2, HtmlEscape(RunTime(t)));
  }
  for (size_t i = 0; i < lanes.size(); ++i) {
    const int mid = y(i) + kLaneHeight / 2;
    svg += fmt::format(
        "<line class=\"lane-line\" x1=\"0\" x2=\"100%\" y1=\"{}\" y2=\"{}\"/>"
        "<text class=\"lane-name\" x=\"4\" y=\"{}\">{}</text>\n",
        y(i) + kLaneHeight, y(i) + kLaneHeight, mid + 4, HtmlEscape(lanes[i]));
  }
  const bool aggregate = events.size() > kMaxMarks;
  const bool all_leases = leases.size() <= kMaxLeases;
  for (const auto& [exec, bar] : leases) {
    if (!all_leases && !violation_of.contains(bar.job)) continue;
    svg += fmt::format(
        "<rect class=\"lease\" data-job=\"{}\" data-t=\"{}\" data-t1=\"{}\" x=\"{:.1f}\" "
        "y=\"{}\" width=\"{:.1f}\" height=\"{}\" rx=\"3\"><title>job {} exec {} token {}: "
        "{} to {}</title></rect><text data-t=\"{}\" data-dx=\"3\" x=\"{:.1f}\" "
        "y=\"{}\">t{}</text>\n",
        bar.job, bar.from_ms, bar.to_ms, x(bar.from_ms), y(bar.lane) + 4,
        std::max(3.0, x(bar.to_ms) - x(bar.from_ms)), kLaneHeight - 8, bar.job, exec, bar.token,
        HtmlEscape(RunTime(bar.from_ms)), HtmlEscape(RunTime(bar.to_ms)), bar.from_ms,
        x(bar.from_ms) + 3, y(bar.lane) + kLaneHeight - 8, bar.token);
  }
  // Per lane and block: how many events were summed, and their span.
  struct Block {
    int64_t count = 0;
    TimeMs from_ms = 0, to_ms = 0;
  };
  std::map<std::pair<size_t, int>, Block> blocks;
  size_t drawn = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const TraceEvent& e = events[i];
    const bool violated = e.job != 0 && violation_of.contains(e.job);
    const MarkKind kind = KindOf(e);
    if (aggregate && !violated && (kind == MarkKind::kStep || kind == MarkKind::kNote)) {
      const int at = static_cast<int>(e.time_ms * kBlocks / (end + 1));
      Block& b = blocks[{lane_of[e.actor], at}];
      if (b.count++ == 0) b.from_ms = e.time_ms;
      b.to_ms = e.time_ms;
      continue;
    }
    ++drawn;
    svg += fmt::format(
        "<circle id=\"{}-e{}\" class=\"mark {}{}\" data-job=\"{}\" data-t=\"{}\" cx=\"{:.1f}\" "
        "cy=\"{}\" r=\"4\"><title>{} {} {}{}{}{}: {}</title></circle>\n",
        HtmlEscape(id), i, NameOf(kMarkClasses, kind), violated ? " violated" : "", e.job,
        e.time_ms, x(e.time_ms), y(lane_of[e.actor]) + kLaneHeight / 2,
        HtmlEscape(RunTime(e.time_ms)), HtmlEscape(e.actor), HtmlEscape(e.event),
        e.job != 0 ? fmt::format(" job={}", e.job) : "",
        e.execution != 0 ? fmt::format(" exec={}", e.execution) : "",
        e.token != 0 ? fmt::format(" token={}", e.token) : "", HtmlEscape(e.result));
  }
  for (const auto& [where, b] : blocks) {
    svg += fmt::format(
        "<rect class=\"summed\" data-t=\"{}\" data-t1=\"{}\" x=\"{:.1f}\" y=\"{}\" "
        "width=\"{:.1f}\" height=\"{}\"><title>{} steps, {} to {}</title></rect>\n",
        b.from_ms, b.to_ms, x(b.from_ms), y(where.first) + kLaneHeight / 2 - 3,
        std::max(3.0, x(b.to_ms) - x(b.from_ms)), 6, b.count, HtmlEscape(RunTime(b.from_ms)),
        HtmlEscape(RunTime(b.to_ms)));
  }
  svg += "</svg>\n";
  std::string large;
  if (aggregate || !all_leases) {
    large = fmt::format(
        "<p class=\"summary large\">A large run: {} of its {} events drawn one by one (faults, "
        "effects, repeats, the violated jobs'); the other steps summed per lane in grey blocks "
        "(hover for their count){}. Zoom in to spread them.</p>\n",
        drawn, events.size(),
        all_leases ? ""
                   : fmt::format("; of its {} leases, the violated jobs' drawn", leases.size()));
  }

  return fmt::format(
      "<div class=\"legend\"><span>bar: a lease (t = its fencing "
      "token)</span><span style=\"color:#57606a\">&#9679; step</span><span "
      "style=\"color:#d1242f\">&#9679; fault</span><span style=\"color:#1a7f37\">&#9679; "
      "effect applied</span><span style=\"color:#9a6700\">&#9679; repeat absorbed</span>{}</div>\n"
      "<div class=\"bar\">zoom <button data-zoom=\"2\">+</button><button "
      "data-zoom=\"0.5\">&minus;</button><button data-zoom=\"0\">fit</button></div>\n"
      "{}<div class=\"lanes\">\n{}</div>\n",
      violations.empty() ? ""
                         : "<span>ringed: an event of a job a violation names (click it)</span>",
      large, svg);
}

std::string RenderTimelineSection(std::string_view id, const std::vector<TraceEvent>& events,
                                  const std::vector<Violation>& violations) {
  std::string listed;
  if (violations.empty()) {
    listed = "<p class=\"ok\">Every invariant holds.</p>\n";
  } else {
    listed = "<ol class=\"violations\">\n";
    for (size_t i = 0; i < violations.size(); ++i) {
      const Violation& v = violations[i];
      listed +=
          fmt::format("<li id=\"{}-v{}\" data-job=\"{}\"><b>{}</b> job {}: {}<br><small>{}</small>",
                      HtmlEscape(id), i, v.job_id, ToString(v.invariant), v.job_id,
                      HtmlEscape(v.message), HtmlEscape(InvariantStatement(v.invariant)));
      if (!v.evidence.empty()) {
        listed += "<ul>";
        for (const std::string& line : v.evidence) listed += "<li>" + HtmlEscape(line) + "</li>";
        listed += "</ul>";
      }
      listed += "</li>\n";
    }
    listed += "</ol>\n";
  }
  return fmt::format(
      "<section class=\"run\" id=\"{}\">\n<h3>Violations</h3>\n{}<h3>Timeline</h3>\n{}</section>\n",
      HtmlEscape(id), listed, RenderSwimlanes(id, events, violations));
}

std::string RenderPage(std::string_view title, std::string_view body, std::string_view nav) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{}</title>\n"
      "<style>{}</style></head>\n<body>\n{}<h1>{}</h1>\n{}<script>{}</script>\n</body></html>\n",
      HtmlEscape(title), kStyle, nav, HtmlEscape(title), body, kScript);
}

std::string RenderRunHtml(const HtmlRun& run) {
  std::string body;
  for (const std::string& line : run.summary) {
    body += "<div class=\"summary\">" + HtmlEscape(line) + "</div>\n";
  }
  body += "<div class=\"summary\">reproduce: <code>" + HtmlEscape(run.command) + "</code></div>\n";
  body += RenderTimelineSection("run", run.events, run.violations);
  return RenderPage(run.title, body);
}

}  // namespace lab
