// The dashboard of a real queue (`lab queue ui`, issue 14): web pages read
// through the same store API as the CLI, on SQLite or PostgreSQL.
//
//   GET  /                 queues with their jobs by state, the oldest
//                          pending job's wait, throughput and enqueue-to-done
//                          latency over the last minutes, the running
//                          workers and their leases
//   GET  /jobs?queue=&state=   a list of jobs (DEAD: the dead letters, each
//                          with its last error and a redrive button)
//   GET  /job/ID           one job: its fields, its executions, effect and
//                          audit trail drawn on a timeline (the same swimlanes
//                          as a run's report), then as tables
//   POST /redrive          job=ID: DEAD -> PENDING with a fresh budget
//   GET  /metrics          Prometheus' text format: jobs by queue and state,
//                          each queue's oldest pending job's age, leases held
//
// Access: with an access token set (required by `lab queue ui` to listen
// beyond loopback), every request must carry it, as `Authorization: Bearer
// TOKEN`, or once as ?token=TOKEN, which sets a cookie and strips it from the
// address. A POST changes state only with the page's anti-forgery field (a
// secret of this process, in every form it serves) and, when the browser
// says where the request comes from (Origin, Sec-Fetch-Site), from this
// same site: another site's page cannot make a visitor's browser redrive.
// A page the store could not answer is a 503 saying why, and the next
// request opens a new handle (a dropped server, a handle fail-stopped by a
// failed commit: nothing to restart by hand).
// Thread-safety: Handle may be called from several threads at once; it
// serializes them on the store handle.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cli/http.h"
#include "core/clock.h"
#include "store/store.h"

namespace lab {

struct DashboardOptions {
  std::string store_label;             // Shown in every page's header: the store's URL.
  std::string access_token;            // Empty: none is asked for.
  std::string form_secret;             // Every POST must carry it; not empty.
  DurationMs window_ms = 15 * 60'000;  // The overview's "last minutes".
};

// Opens a handle on the dashboard's store.
using StoreOpener = std::function<Result<std::unique_ptr<Store>>()>;

class Dashboard {
 public:
  Dashboard(StoreOpener open, Clock& clock, DashboardOptions options);
  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Route(const HttpRequest& request);
  HttpResponse Overview();
  HttpResponse Jobs(const HttpRequest& request);
  HttpResponse JobPage(std::string_view id, const HttpRequest& request);
  HttpResponse Redrive(const HttpRequest& request);
  HttpResponse Metrics();
  // Why this request may not go on (a response to send instead), or none.
  std::optional<HttpResponse> Refuse(const HttpRequest& request) const;
  std::optional<HttpResponse> RefuseForgery(const HttpRequest& request) const;
  std::string Page(std::string_view title, std::string_view body) const;
  std::string RedriveForm(JobId job) const;

  const StoreOpener open_;
  std::unique_ptr<Store> store_;  // Null until opened, and after an answer it failed.
  Clock& clock_;
  const DashboardOptions options_;
  std::mutex mu_;         // One request at a time on the store handle.
  int64_t redriven_ = 0;  // Redrives this dashboard made; guarded by mu_.
};

}  // namespace lab
