#include "cli/dashboard.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

#include "cli/html_report.h"
#include "core/text.h"
#include "queue/metrics.h"
#include "store/state_machine.h"

namespace lab {
namespace {

constexpr std::array<JobState, 5> kStates = {JobState::kPending, JobState::kRunning,
                                             JobState::kSucceeded, JobState::kDead,
                                             JobState::kExpired};
// How many rows a page reads at most: a page, not an export.
constexpr int kListLimit = 500;
constexpr int kRunningLimit = 200;
constexpr int kRecentLimit = 100'000;
constexpr DurationMs kMinute = 60'000;

// Text of a store (a name, an error, a payload) for a page: bytes that are
// not printable shown as \xNN, long ones cut, then HTML-escaped.
std::string Shown(std::string_view bytes, size_t max_bytes = 1'000) {
  return HtmlEscape(ForTerminal(bytes, max_bytes));
}

// A query's value in a link.
std::string UrlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Seconds(DurationMs ms) {
  return fmt::format("{:.1f} s", static_cast<double>(ms) / 1e3);
}

// Compares secrets without telling, by its time, how much of them matched.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string_view Header(const HttpRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view Param(const HttpRequest& r, const std::string& name) {
  auto it = r.params.find(name);
  return it == r.params.end() ? std::string_view() : std::string_view(it->second);
}

// The value of cookie `name` in a Cookie header, or "".
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t end = std::min(header.find(';'), header.size());
    std::string_view pair = header.substr(0, end);
    while (pair.starts_with(' ')) pair.remove_prefix(1);
    if (pair.starts_with(name) && pair.substr(name.size()).starts_with('=')) {
      return pair.substr(name.size() + 1);
    }
    header.remove_prefix(std::min(end + 1, header.size()));
  }
  return {};
}

HttpResponse Text(int status, std::string body) {
  return {.status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body)};
}

HttpResponse SeeOther(std::string location) {
  return {.status = 303, .body = {}, .headers = {{"Location", std::move(location)}}};
}

std::optional<JobId> ParseJobId(std::string_view text) {
  JobId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id < 1) return std::nullopt;
  return id;
}

std::string JobLink(JobId id) { return fmt::format("<a href=\"/job/{}\">{}</a>", id, id); }

std::string JobsLink(std::string_view queue, JobState state, int64_t count) {
  if (count == 0) return "0";
  return fmt::format("<a href=\"/jobs?queue={}&amp;state={}\">{}</a>", UrlEncode(queue),
                     ToString(state), count);
}

// The last minutes as columns, oldest left: jobs finished per minute,
// stacked by how they ended.
std::string ThroughputChart(const std::vector<Job>& recent, TimeMs now, DurationMs window) {
  const int columns = static_cast<int>(std::max<DurationMs>(1, window / kMinute));
  std::vector<std::array<int64_t, 3>> per(columns, {0, 0, 0});  // SUCCEEDED, DEAD, EXPIRED.
  for (const Job& j : recent) {
    const int64_t ago = (now - j.finished_at_ms) / kMinute;
    if (ago < 0 || ago >= columns) continue;
    const size_t kind = j.state == JobState::kSucceeded ? 0 : j.state == JobState::kDead ? 1 : 2;
    ++per[columns - 1 - ago][kind];
  }
  int64_t top = 1;
  for (const auto& c : per) top = std::max(top, c[0] + c[1] + c[2]);
  constexpr int kCol = 28, kHeight = 90, kBase = 100;
  std::string svg = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">\n",
      columns * kCol + 60, kBase + 18);
  constexpr std::array<std::string_view, 3> kClass = {"done", "dead", "expired"};
  for (int i = 0; i < columns; ++i) {
    double y = kBase;
    for (size_t k = 0; k < 3; ++k) {
      const double h = static_cast<double>(per[i][k]) / static_cast<double>(top) * kHeight;
      if (per[i][k] == 0) continue;
      y -= h;
      svg += fmt::format(
          "<rect class=\"{}\" x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\"><title>"
          "{} to {} min ago: {} {}</title></rect>\n",
          kClass[k], i * kCol + 2, y, kCol - 4, h, columns - i, columns - i - 1, per[i][k],
          ToString(kStates[2 + k]));
    }
  }
  svg += fmt::format(
      "<line class=\"tick\" x1=\"0\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text x=\"0\" y=\"{}\">-{} "
      "min</text><text x=\"{}\" y=\"{}\">now</text><text x=\"{}\" y=\"12\">{}/min</text></svg>\n",
      columns * kCol, kBase, kBase, kBase + 14, columns, columns * kCol - 22, kBase + 14,
      columns * kCol + 4, top);
  return svg;
}

// Who made an audit entry, as a lane of the job's timeline.
std::string ActorOf(const AuditEntry& a, const std::map<ExecutionId, std::string>& worker_of) {
  switch (a.event) {
    case AuditEvent::kEnqueue:
      return "producer";
    case AuditEvent::kReap:
    case AuditEvent::kReconcile:
      return "sweeper";
    case AuditEvent::kDrill:
    case AuditEvent::kRedeliver:
      return "drill";
    case AuditEvent::kDeliver:
      return "relay";
    case AuditEvent::kRedrive:
    case AuditEvent::kPrune:
    case AuditEvent::kLimit:
      return "operator";
    default:
      break;
  }
  // An execution's entry on its worker's lane; the job's own moves (made
  // in the same transactions) on a lane of their own.
  auto it = worker_of.find(a.execution_id);
  return it != worker_of.end() ? "worker " + it->second : "job state";
}

// A job's record as the events of a run (times from its enqueue), for
// the report's swimlanes: each execution's lease a bar on its worker's
// lane, from its claim to its end (or its lease's expiry while it is live).
std::vector<TraceEvent> JobEvents(const JobDetail& d) {
  const TimeMs origin = d.job.created_at_ms;
  const auto at = [&](TimeMs t) { return std::max<TimeMs>(0, t - origin); };
  std::map<ExecutionId, std::string> worker_of;
  std::map<ExecutionId, int> token_of;
  for (const Execution& e : d.executions) {
    worker_of[e.id] = ForTerminal(e.worker, 64);
    token_of[e.id] = e.attempt;
  }
  std::vector<TraceEvent> events;
  for (const AuditEntry& a : d.audit) {
    std::string result = a.from == a.to ? a.to : a.from + " -> " + a.to;
    if (!a.detail.empty()) result += ": " + ForTerminal(a.detail, 200);
    events.push_back({.time_ms = at(a.at_ms),
                      .actor = ActorOf(a, worker_of),
                      .event = std::string(ToString(a.event)),
                      .job = d.job.id,
                      .execution = a.execution_id,
                      .token = a.execution_id != 0 ? token_of[a.execution_id] : 0,
                      .result = std::move(result)});
  }
  for (const Execution& e : d.executions) {
    const bool live = e.ended_at_ms == 0;
    events.push_back({.time_ms = at(live ? e.lease_expires_at_ms : e.ended_at_ms),
                      .actor = "worker " + worker_of[e.id],
                      .event = live ? "lease until" : "ended",
                      .job = d.job.id,
                      .execution = e.id,
                      .token = e.attempt,
                      .result = std::string(ToString(e.state)) +
                                (e.reason.empty() ? "" : ": " + ForTerminal(e.reason, 200))});
  }
  // A plain effect is applied with its commit, in the ledger; an outbox's
  // is an intent then, and applied once the receiver acknowledged it.
  for (const EffectRecord& e : d.effects) {
    const auto mark = [&](TimeMs t, std::string_view actor, std::string_view event,
                          std::string_view how) {
      events.push_back({.time_ms = at(t),
                        .actor = std::string(actor),
                        .event = std::string(event),
                        .job = d.job.id,
                        .execution = e.execution_id,
                        .result = fmt::format("{}, key {}", how, ForTerminal(e.key, 200))});
    };
    if (e.delivery == Delivery::kNone) {
      mark(e.applied_at_ms, "external", "effect", "in the ledger");
      continue;
    }
    mark(e.applied_at_ms, "relay", "intent", "outbox");
    if (e.delivery == Delivery::kDelivered)
      mark(e.delivered_at_ms, "external", "effect", "delivered");
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const TraceEvent& a, const TraceEvent& b) { return a.time_ms < b.time_ms; });
  return events;
}

}  // namespace

Dashboard::Dashboard(StoreOpener open, Clock& clock, DashboardOptions options)
    : open_(std::move(open)), clock_(clock), options_(std::move(options)) {}

HttpResponse Dashboard::Handle(const HttpRequest& request) {
  if (auto refused = Refuse(request)) return *refused;
  std::lock_guard lock(mu_);
  if (!store_) {
    auto opened = open_();
    if (!opened) {
      return {.status = 503,
              .body = Page("The store cannot be opened", "<p class=\"bad\">" +
                                                             Shown(opened.error().message) +
                                                             "</p><p>Reload to try again.</p>")};
    }
    store_ = std::move(*opened);
  }
  HttpResponse r = Route(request);
  // A store error: the next request starts on a new handle.
  if (r.status == 503) store_.reset();
  // Pages are never framed by another site, and nothing is cached.
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

std::optional<HttpResponse> Dashboard::Refuse(const HttpRequest& request) const {
  if (options_.access_token.empty()) return std::nullopt;
  const std::string& token = options_.access_token;
  std::string_view bearer = Header(request, "authorization");
  if (bearer.starts_with("Bearer ") && SameSecret(bearer.substr(7), token)) return std::nullopt;
  if (SameSecret(CookieValue(Header(request, "cookie"), "lab_token"), token)) return std::nullopt;
  if (request.method == HttpMethod::kGet && SameSecret(Param(request, "token"), token)) {
    // Once: the cookie carries it from now on, and the address loses it
    // (back to this site's page: "//elsewhere" would leave it).
    const bool local = request.path.starts_with('/') && !request.path.starts_with("//");
    HttpResponse r = SeeOther(local ? request.path : "/");
    r.headers.emplace_back("Set-Cookie",
                           "lab_token=" + token + "; Path=/; HttpOnly; SameSite=Strict");
    return r;
  }
  return Text(401,
              "This dashboard asks for its access token: open /?token=TOKEN once (the token "
              "`lab queue ui` was given with --token-file), or send 'Authorization: Bearer "
              "TOKEN'.\n");
}

std::optional<HttpResponse> Dashboard::RefuseForgery(const HttpRequest& request) const {
  const auto forbidden = [](std::string_view why) {
    return Text(403, fmt::format("Refused: {}. Nothing was changed.\n", why));
  };
  if (!SameSecret(Param(request, "form"), options_.form_secret)) {
    return forbidden(
        "the form does not come from this dashboard (its anti-forgery field is "
        "missing or stale; reload the page)");
  }
  const std::string_view site = Header(request, "sec-fetch-site");
  if (!site.empty() && site != "same-origin") {
    return forbidden("the request comes from another site");
  }
  const std::string_view origin = Header(request, "origin");
  const std::string_view host = Header(request, "host");
  if (!origin.empty() && origin != "http://" + std::string(host) &&
      origin != "https://" + std::string(host)) {
    return forbidden("the request comes from another origin");
  }
  return std::nullopt;
}

HttpResponse Dashboard::Route(const HttpRequest& request) {
  const std::string& path = request.path;
  if (request.method == HttpMethod::kPost) {
    if (path == "/redrive") return Redrive(request);
    return Text(405, "Only /redrive takes a POST.\n");
  }
  if (path == "/") return Overview();
  if (path == "/jobs") return Jobs(request);
  if (path.starts_with("/job/")) return JobPage(std::string_view(path).substr(5), request);
  if (path == "/metrics") return Metrics();
  return {.status = 404, .body = Page("Not found", "<p>No such page.</p>")};
}

std::string Dashboard::Page(std::string_view title, std::string_view body) const {
  const std::string nav = fmt::format(
      "<nav><a href=\"/\">Overview</a> <a href=\"/jobs?state=DEAD\">Dead letters</a> "
      "<a href=\"/metrics\">Metrics</a> <span class=\"summary\">{} &middot; as of {}</span>"
      "</nav>\n",
      HtmlEscape(options_.store_label), UtcTime(clock_.NowMs()));
  return RenderPage(title, body, nav);
}

std::string Dashboard::RedriveForm(JobId job) const {
  return fmt::format(
      "<form class=\"inline\" method=\"post\" action=\"/redrive\"><input type=\"hidden\" "
      "name=\"job\" value=\"{}\"><input type=\"hidden\" name=\"form\" value=\"{}\"><button "
      "type=\"submit\" class=\"redrive\" data-job=\"{}\">Redrive</button></form>",
      job, options_.form_secret, job);
}

HttpResponse Dashboard::Overview() {
  const TimeMs now = clock_.NowMs();
  auto counts = store_->CountJobs();
  auto limits = store_->QueueLimits();
  auto recent =
      store_->ListJobs({.finished_since_ms = now - options_.window_ms, .limit = kRecentLimit});
  auto running = store_->ListJobs({.state = JobState::kRunning, .limit = kRunningLimit});
  for (const Error* e :
       {counts ? nullptr : &counts.error(), limits ? nullptr : &limits.error(),
        recent ? nullptr : &recent.error(), running ? nullptr : &running.error()}) {
    if (e) return {.status = 503, .body = Page("The store did not answer", Shown(e->message))};
  }

  // Queues: jobs by state, the oldest pending job's wait, the depth limit.
  std::map<std::string, std::array<int64_t, kStates.size()>> by_queue;
  for (const StateCount& c : *counts) {
    by_queue[c.queue][static_cast<size_t>(c.state)] += c.count;
  }
  std::map<std::string, int64_t> limit_of;
  for (const QueueLimit& l : *limits) limit_of[l.queue] = l.max_depth;
  std::string body =
      "<h2>Queues</h2>\n<table class=\"queues\"><tr><th>queue</th><th>PENDING</th>"
      "<th>RUNNING</th><th>SUCCEEDED</th><th>DEAD</th><th>EXPIRED</th><th>oldest pending "
      "waited</th><th>depth limit</th></tr>\n";
  std::vector<std::string> queues;
  for (const auto& [queue, n] : by_queue) queues.push_back(queue);
  std::map<std::string, double> waited;
  for (const QueueAge& a : OldestPending(*store_, now, queues)) waited[a.queue] = a.seconds;
  for (const auto& [queue, n] : by_queue) {
    const std::string oldest =
        waited.contains(queue) ? fmt::format("{:.1f} s", waited[queue]) : "-";
    body += fmt::format("<tr data-queue=\"{}\"><td>{}</td>", HtmlEscape(queue), Shown(queue));
    for (size_t s = 0; s < kStates.size(); ++s) {
      body += fmt::format("<td class=\"num{}\">{}</td>",
                          kStates[s] == JobState::kDead && n[s] > 0 ? " bad" : "",
                          JobsLink(queue, kStates[s], n[s]));
    }
    body += fmt::format("<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n", oldest,
                        limit_of.contains(queue) ? std::to_string(limit_of[queue]) : "none");
  }
  body += "</table>\n";
  if (by_queue.empty()) body += "<p>No jobs yet: <code>lab queue enqueue PAYLOAD</code>.</p>\n";

  // The last minutes: throughput, and enqueue-to-done latency by queue.
  body += fmt::format("<h2>The last {} minutes</h2>\n", options_.window_ms / kMinute);
  body += ThroughputChart(*recent, now, options_.window_ms);
  body +=
      "<div class=\"legend\"><span class=\"done-key\">&#9632; SUCCEEDED</span><span "
      "class=\"dead-key\">&#9632; DEAD</span><span class=\"expired-key\">&#9632; "
      "EXPIRED</span></div>\n";
  std::map<std::string, std::vector<DurationMs>> latency;
  std::map<std::string, std::array<int64_t, 3>> ended;
  for (const Job& j : *recent) {
    if (j.state == JobState::kSucceeded)
      latency[j.queue].push_back(j.finished_at_ms - j.created_at_ms);
    ++ended[j.queue][j.state == JobState::kSucceeded ? 0 : j.state == JobState::kDead ? 1 : 2];
  }
  body +=
      "<table class=\"latency\"><tr><th>queue</th><th>SUCCEEDED</th><th>per minute</th>"
      "<th>DEAD</th><th>EXPIRED</th><th>enqueue to done p50</th><th>p95</th><th>max</th></tr>\n";
  for (auto& [queue, n] : ended) {
    std::vector<DurationMs>& l = latency[queue];
    std::sort(l.begin(), l.end());
    body += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1f}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        Shown(queue), n[0],
        static_cast<double>(n[0]) / static_cast<double>(options_.window_ms / kMinute), n[1], n[2],
        l.empty() ? "-" : Seconds(Quantile(l, 0.5)), l.empty() ? "-" : Seconds(Quantile(l, 0.95)),
        l.empty() ? "-" : Seconds(l.back()));
  }
  body += "</table>\n";
  if (ended.empty()) body += "<p>No job finished in this window.</p>\n";

  // Running: each job's live lease, by worker.
  std::map<std::string, std::vector<std::string>> rows_of;
  for (const Job& j : *running) {
    auto d = store_->InspectJob(j.id);
    if (!d) continue;  // Pruned or finished since the list was read.
    for (const Execution& e : d->executions) {
      if (!IsLive(e.state)) continue;
      const DurationMs left = e.lease_expires_at_ms - now;
      rows_of[e.worker].push_back(fmt::format(
          "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td "
          "class=\"num{}\">{}</td></tr>\n",
          JobLink(j.id), Shown(j.queue), e.attempt, ToString(e.state), UtcTime(e.leased_at_ms),
          left < 0 ? " bad" : "",
          left < 0 ? "ran out " + Seconds(-left) + " ago: the reaper takes it back"
                   : Seconds(left)));
    }
  }
  body += fmt::format("<h2>Workers</h2>\n<p>{} running job{} (of at most {} read).</p>\n",
                      running->size(), running->size() == 1 ? "" : "s", kRunningLimit);
  for (const auto& [worker, rows] : rows_of) {
    body += fmt::format(
        "<h3 class=\"worker\">{} &middot; {} lease{}</h3>\n<table><tr><th>job</th><th>queue</th>"
        "<th>token</th><th>state</th><th>leased at</th><th>lease left</th></tr>\n",
        Shown(worker), rows.size(), rows.size() == 1 ? "" : "s");
    for (const std::string& row : rows) body += row;
    body += "</table>\n";
  }
  return {.body = Page("lab queue", body)};
}

HttpResponse Dashboard::Jobs(const HttpRequest& request) {
  JobFilter filter{.limit = kListLimit};
  const std::string_view queue = Param(request, "queue");
  const std::string_view state = Param(request, "state");
  if (!queue.empty()) filter.queue = std::string(queue);
  if (!state.empty()) {
    filter.state = ParseJobState(state);
    if (!filter.state) {
      return {
          .status = 400,
          .body = Page("Jobs", "<p class=\"bad\">No such state: " + Shown(state, 40) + ".</p>")};
    }
  }
  auto jobs = store_->ListJobs(filter);
  if (!jobs) {
    return {.status = jobs.error().code == ErrorCode::kInvalidArgument ? 400 : 503,
            .body = Page("Jobs", "<p class=\"bad\">" + Shown(jobs.error().message) + "</p>")};
  }
  const bool dead = filter.state == JobState::kDead;
  std::string title = dead ? "Dead letters" : "Jobs";
  if (!queue.empty()) title += " in " + ForTerminal(queue, 128);
  if (!state.empty() && !dead) title += fmt::format(" ({})", ToString(*filter.state));
  std::string body = fmt::format(
      "<p>{} job{}{}.</p>\n<table class=\"jobs\"><tr><th>job</th><th>queue</th><th>key</th>"
      "<th>state</th><th>attempts</th><th>created</th><th>finished</th><th>last error</th>{}"
      "</tr>\n",
      jobs->size(), jobs->size() == 1 ? "" : "s",
      static_cast<int>(jobs->size()) == kListLimit ? fmt::format(" (the first {})", kListLimit)
                                                   : "",
      dead ? "<th></th>" : "");
  for (const Job& j : *jobs) {
    body += fmt::format(
        "<tr data-job=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td "
        "class=\"num\">{}/{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>\n",
        j.id, JobLink(j.id), Shown(j.queue), j.key ? Shown(*j.key) : "-", ToString(j.state),
        j.AttemptsUsed(), j.max_attempts, UtcTime(j.created_at_ms), UtcTime(j.finished_at_ms),
        Shown(j.last_error, 300), dead ? "<td>" + RedriveForm(j.id) + "</td>" : "");
  }
  body += "</table>\n";
  if (dead && jobs->empty()) body += "<p class=\"ok\">The dead-letter queue is empty.</p>\n";
  return {.body = Page(title, body)};
}

HttpResponse Dashboard::JobPage(std::string_view id_text, const HttpRequest& request) {
  const std::optional<JobId> id = ParseJobId(id_text);
  if (!id) return {.status = 404, .body = Page("Not found", "<p>No such job.</p>")};
  auto d = store_->InspectJob(*id);
  if (!d) {
    const bool missing = d.error().code == ErrorCode::kNotFound;
    return {.status = missing ? 404 : 503,
            .body = Page(fmt::format("Job {}", *id),
                         "<p class=\"bad\">" +
                             (missing ? std::string("No such job (never enqueued, or pruned).")
                                      : Shown(d.error().message)) +
                             "</p>")};
  }
  const Job& j = d->job;
  std::string body;
  if (Param(request, "redriven") == "1") {
    body += "<p class=\"banner\">Redriven: the job is PENDING again with a fresh budget.</p>\n";
  }
  body += fmt::format(
      "<table class=\"fields\"><tr><th>state</th><td class=\"state\">{}</td></tr><tr><th>queue"
      "</th><td>{}</td></tr><tr><th>key</th><td>{}</td></tr><tr><th>effect key</th><td>{}</td>"
      "</tr><tr><th>attempts</th><td>{} (since redrive {} of {})</td></tr><tr><th>priority</th>"
      "<td>{}</td></tr><tr><th>created</th><td>{}</td></tr><tr><th>run at</th><td>{}</td></tr>"
      "<tr><th>deadline</th><td>{}</td></tr><tr><th>finished</th><td>{}</td></tr><tr><th>last "
      "error</th><td>{}</td></tr><tr><th>payload ({} bytes)</th><td><code>{}</code></td></tr>"
      "</table>\n",
      ToString(j.state), Shown(j.queue), j.key ? Shown(*j.key) : "-", Shown(j.EffectKey()),
      j.attempts, j.AttemptsUsed(), j.max_attempts, j.priority, UtcTime(j.created_at_ms),
      UtcTime(j.run_at_ms), UtcTime(j.deadline_at_ms), UtcTime(j.finished_at_ms),
      Shown(j.last_error), j.payload.size(), Shown(j.payload, 2'000));
  if (j.state == JobState::kDead) body += "<p>Dead-lettered. " + RedriveForm(j.id) + "</p>\n";
  body +=
      "<h2>Timeline</h2>\n<p class=\"summary\">Times from the enqueue. A bar is an execution's "
      "lease, labelled with its fencing token.</p>\n<section class=\"run\" id=\"job\">\n" +
      RenderSwimlanes("job", JobEvents(*d), {}) + "</section>\n";
  body +=
      "<h2>Executions</h2>\n<table class=\"executions\"><tr><th>exec</th><th>token</th>"
      "<th>worker</th><th>state</th><th>leased</th><th>lease until</th><th>ended</th>"
      "<th>reason</th></tr>\n";
  for (const Execution& e : d->executions) {
    body += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td></tr>\n",
        e.id, e.attempt, Shown(e.worker), ToString(e.state), UtcTime(e.leased_at_ms),
        UtcTime(e.lease_expires_at_ms), UtcTime(e.ended_at_ms), Shown(e.reason));
  }
  body += "</table>\n<h2>Effect</h2>\n";
  if (d->effects.empty()) body += "<p>None recorded.</p>\n";
  for (const EffectRecord& e : d->effects) {
    body += fmt::format(
        "<p>exec {} &middot; key <code>{}</code> &middot; {} &middot; {}</p><pre>{}</pre>\n",
        e.execution_id, Shown(e.key), UtcTime(e.applied_at_ms),
        e.delivery == Delivery::kNone      ? "in the ledger"
        : e.delivery == Delivery::kPending ? "outbox: to deliver"
                                           : "outbox: delivered " + UtcTime(e.delivered_at_ms),
        Shown(e.payload, 2'000));
  }
  body +=
      "<h2>Audit trail</h2>\n<table class=\"audit\"><tr><th>seq</th><th>at</th><th>exec</th>"
      "<th>event</th><th>from</th><th>to</th><th>detail</th></tr>\n";
  for (const AuditEntry& a : d->audit) {
    body += fmt::format(
        "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        a.seq, UtcTime(a.at_ms), a.execution_id == 0 ? "-" : std::to_string(a.execution_id),
        ToString(a.event), a.from.empty() ? "(new)" : Shown(a.from), Shown(a.to), Shown(a.detail));
  }
  body += "</table>\n";
  return {.body = Page(fmt::format("Job {}", j.id), body)};
}

HttpResponse Dashboard::Redrive(const HttpRequest& request) {
  if (auto refused = RefuseForgery(request)) return *refused;
  const std::optional<JobId> id = ParseJobId(Param(request, "job"));
  if (!id) return Text(400, "Refused: job= must be a job id. Nothing was changed.\n");
  auto r = store_->Redrive(*id);
  if (!r) {
    const int status = r.error().code == ErrorCode::kNotFound             ? 404
                       : r.error().code == ErrorCode::kFailedPrecondition ? 409
                                                                          : 503;
    return {.status = status,
            .body = Page(fmt::format("Job {} was not redriven", *id),
                         fmt::format("<p class=\"bad\">{}</p><p>{}</p>", Shown(r.error().message),
                                     JobLink(*id)))};
  }
  ++redriven_;
  return SeeOther(fmt::format("/job/{}?redriven=1", *id));
}

HttpResponse Dashboard::Metrics() {
  MetricsInput in{.redriven = redriven_};
  auto counts = store_->CountJobs();
  if (!counts) return Text(503, "The store did not answer: " + counts.error().message + "\n");
  in.jobs = *counts;
  for (const StateCount& c : *counts) {
    if (in.queues.empty() || in.queues.back() != c.queue) in.queues.push_back(c.queue);
  }
  in.oldest_pending = OldestPending(*store_, clock_.NowMs(), in.queues);
  return {.content_type = std::string(kMetricsContentType), .body = RenderMetrics(in)};
}

}  // namespace lab
