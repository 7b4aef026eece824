// Goal: the dashboard shows what the store holds and changes it only as a
// person on its own page asks. Its pages list each queue's jobs by state,
// the running leases by worker and each job's record (every value escaped);
// a redrive from a dead letter's form moves the job to PENDING, and one
// without the page's anti-forgery field, or from another site, is refused
// with nothing changed; with an access token, nothing is served without it.
// Method: a Dashboard on each store (memory, a SQLite file, a PostgreSQL
// schema) with a hand-moved clock, asked with plain requests (no socket);
// the store is read back after each POST.
#include "cli/dashboard.h"

#include <gtest/gtest.h>

#include "store/fault_store.h"
#include "store/memory_store.h"
#include "store/record_store.h"
#include "store/testing/backends.h"

namespace lab {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

class DashboardTest : public ::testing::TestWithParam<testing::StorageBackend> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make(dir_);
    ASSERT_NE(backend_, nullptr);
    // The test and the dashboard each a handle on one storage.
    store_ = std::make_unique<RecordStore>(backend_, clock_, StoreOptions{});
    dash_ = std::make_unique<Dashboard>(
        [this]() -> Result<std::unique_ptr<Store>> {
          ++opened_;
          std::unique_ptr<Store> handle =
              std::make_unique<RecordStore>(backend_, clock_, StoreOptions{});
          if (reads_to_fail_ == 0) return handle;
          return std::make_unique<FaultStore>(
              std::move(handle), [this](StoreOp op, int) -> std::optional<InjectedFault> {
                if (op != StoreOp::kRead || reads_to_fail_ == 0) return std::nullopt;
                --reads_to_fail_;
                return InjectedFault{.error = {ErrorCode::kUnavailable, "the server went away"}};
              });
        },
        clock_, DashboardOptions{.store_label = "sqlite:q.db", .form_secret = kSecret});
  }

  JobId Add(NewJob job) { return store_->Enqueue(job).value().job_id; }
  // Claims the queue's next job and fails it for good: a dead letter.
  void KillNext(const std::string& queue, const std::string& why) {
    auto leases = store_->Claim({.queue = queue, .worker = "w1", .lease_ms = 1'000, .begin = true});
    ASSERT_EQ(leases->size(), 1u);
    const Lease& l = leases->front();
    ASSERT_TRUE(store_->Fail({l.execution_id, l.token}, {.error = why}));
  }
  HttpResponse Get(const std::string& path, std::map<std::string, std::string> params = {},
                   std::map<std::string, std::string> headers = {}) {
    return dash_->Handle({.method = HttpMethod::kGet,
                          .path = path,
                          .params = std::move(params),
                          .headers = std::move(headers)});
  }
  HttpResponse Post(const std::string& path, std::map<std::string, std::string> params,
                    std::map<std::string, std::string> headers = {{"host", "127.0.0.1:8080"}}) {
    return dash_->Handle({.method = HttpMethod::kPost,
                          .path = path,
                          .params = std::move(params),
                          .headers = std::move(headers)});
  }
  JobState StateOf(JobId id) { return store_->GetJob(id).value().state; }

  testing::TempDir dir_;
  ManualClock clock_{1'800'000'000'000};
  std::shared_ptr<StoreBackend> backend_;
  std::unique_ptr<RecordStore> store_;
  int opened_ = 0;         // Handles the dashboard opened.
  int reads_to_fail_ = 0;  // Reads the next handle it opens fails.
  std::unique_ptr<Dashboard> dash_;
};

TEST_P(DashboardTest, TheOverviewShowsQueuesByStateAndTheRunningLeasesByWorker) {
  Add({.queue = "mail"});
  Add({.queue = "mail"});
  Add({.queue = "billing", .max_attempts = 1});
  KillNext("billing", "card declined");
  auto leases = store_->Claim({.queue = "mail", .worker = "east-1", .lease_ms = 30'000});
  ASSERT_EQ(leases->size(), 1u);
  clock_.AdvanceMs(10'000);

  const HttpResponse r = Get("/");
  ASSERT_EQ(r.status, 200);
  const std::string& page = r.body;
  // mail: 1 PENDING, 1 RUNNING; billing: 1 DEAD, each count a link to its jobs.
  EXPECT_NE(page.find("<tr data-queue=\"mail\"><td>mail</td><td class=\"num\"><a "
                      "href=\"/jobs?queue=mail&amp;state=PENDING\">1</a></td><td "
                      "class=\"num\"><a href=\"/jobs?queue=mail&amp;state=RUNNING\">1</a>"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("href=\"/jobs?queue=billing&amp;state=DEAD\">1</a>"), std::string::npos);
  // The oldest pending job has waited the 10 s the clock moved.
  EXPECT_NE(page.find("<td class=\"num\">10.0 s</td>"), std::string::npos);
  // The worker with its lease: job, token, 20 s left.
  EXPECT_NE(page.find("east-1 &middot; 1 lease"), std::string::npos) << page;
  EXPECT_NE(page.find("<a href=\"/job/1\">1</a></td><td>mail</td><td class=\"num\">1</td><td>"
                      "LEASED"),
            std::string::npos);
  EXPECT_NE(page.find(">20.0 s</td>"), std::string::npos);
  // The last minutes: billing's dead letter is counted.
  EXPECT_NE(page.find("1 DEAD</title>"), std::string::npos);
}

TEST_P(DashboardTest, ARedriveFromTheDeadLettersPageMovesTheJobAndAForgedOneChangesNothing) {
  const JobId dead = Add({.queue = "billing", .max_attempts = 1});
  KillNext("billing", "card declined");
  const HttpResponse list = Get("/jobs", {{"state", "DEAD"}});
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("card declined"), std::string::npos);
  // The form carries the job and the anti-forgery field.
  EXPECT_NE(list.body.find("name=\"job\" value=\"1\"><input type=\"hidden\" name=\"form\" "
                           "value=\"" +
                           std::string(kSecret) + "\">"),
            std::string::npos)
      << list.body;

  // Without the field, with a wrong one, from another site or origin: 403,
  // and the job stays DEAD.
  EXPECT_EQ(Post("/redrive", {{"job", "1"}}).status, 403);
  EXPECT_EQ(Post("/redrive", {{"job", "1"}, {"form", "not-the-secret"}}).status, 403);
  EXPECT_EQ(Post("/redrive", {{"job", "1"}, {"form", kSecret}},
                 {{"host", "127.0.0.1:8080"}, {"sec-fetch-site", "cross-site"}})
                .status,
            403);
  EXPECT_EQ(Post("/redrive", {{"job", "1"}, {"form", kSecret}},
                 {{"host", "127.0.0.1:8080"}, {"origin", "http://evil.example"}})
                .status,
            403);
  EXPECT_EQ(StateOf(dead), JobState::kDead);
  EXPECT_NE(Get("/metrics").body.find("\nlab_redriven_total 0\n"), std::string::npos);

  // From the page itself: 303 to the job, now PENDING.
  const HttpResponse ok = Post("/redrive", {{"job", "1"}, {"form", kSecret}},
                               {{"host", "127.0.0.1:8080"},
                                {"origin", "http://127.0.0.1:8080"},
                                {"sec-fetch-site", "same-origin"}});
  EXPECT_EQ(ok.status, 303);
  ASSERT_FALSE(ok.headers.empty());
  EXPECT_EQ(ok.headers.front(),
            (std::pair<std::string, std::string>{"Location", "/job/1?redriven=1"}));
  EXPECT_EQ(StateOf(dead), JobState::kPending);
  EXPECT_NE(Get("/metrics").body.find("\nlab_redriven_total 1\n"), std::string::npos);
  EXPECT_NE(Get("/job/1", {{"redriven", "1"}}).body.find("Redriven"), std::string::npos);
  // Again: the job is not dead any more (409), an unknown one 404, a bad id 400.
  EXPECT_EQ(Post("/redrive", {{"job", "1"}, {"form", kSecret}}).status, 409);
  EXPECT_EQ(Post("/redrive", {{"job", "99"}, {"form", kSecret}}).status, 404);
  EXPECT_EQ(Post("/redrive", {{"job", "1x"}, {"form", kSecret}}).status, 400);
  EXPECT_EQ(Post("/elsewhere", {{"form", kSecret}}).status, 405);
}

TEST_P(DashboardTest, AJobsPageShowsItsRecordWithEveryValueEscaped) {
  const JobId id = Add({.queue = "q<x>", .key = "k\"1", .payload = "<script>alert(1)</script>"});
  auto leases = store_->Claim({.queue = "q<x>", .worker = "w<1>", .lease_ms = 1'000});
  ASSERT_EQ(leases->size(), 1u);
  const HttpResponse r = Get("/job/" + std::to_string(id));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("q&lt;x&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("k&quot;1"), std::string::npos);
  // The timeline: the worker's lane with its lease's bar, token 1.
  EXPECT_NE(r.body.find("worker w&lt;1&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("<rect class=\"lease\""), std::string::npos);
  // The audit trail: enqueue and claim.
  EXPECT_NE(r.body.find("<td>enqueue</td>"), std::string::npos);
  EXPECT_NE(r.body.find("<td>claim</td>"), std::string::npos);

  EXPECT_EQ(Get("/job/99").status, 404);
  EXPECT_EQ(Get("/job/abc").status, 404);
  EXPECT_EQ(Get("/jobs", {{"state", "NOPE"}}).status, 400);
  EXPECT_EQ(Get("/nowhere").status, 404);
}

// A page the store could not answer says so (503), and the next request
// opens a new handle and is answered.
TEST_P(DashboardTest, AStoreErrorIsA503AndTheNextRequestOpensANewHandle) {
  Add({.queue = "mail"});
  reads_to_fail_ = 1;
  const HttpResponse failed = Get("/");
  EXPECT_EQ(failed.status, 503);
  EXPECT_NE(failed.body.find("the server went away"), std::string::npos) << failed.body;
  EXPECT_EQ(opened_, 1);
  const HttpResponse answered = Get("/");
  EXPECT_EQ(answered.status, 200);
  EXPECT_NE(answered.body.find("<tr data-queue=\"mail\">"), std::string::npos);
  EXPECT_EQ(opened_, 2);
  EXPECT_EQ(Get("/").status, 200);
  EXPECT_EQ(opened_, 2);  // A good answer keeps its handle.
}

// An outbox effect: an intent on the relay's lane at the commit, then
// applied at the external system once acknowledged; shown in the table too.
TEST_P(DashboardTest, AJobsOutboxEffectIsAnIntentThenADelivery) {
  const JobId id = Add({.queue = "mail", .key = "receipt-7"});
  auto leases = store_->Claim({.queue = "mail", .worker = "w1", .lease_ms = 30'000, .begin = true});
  ASSERT_EQ(leases->size(), 1u);
  const Lease& l = leases->front();
  ASSERT_TRUE(store_->Commit({l.execution_id, l.token}, Effect{"MAIL", /*outbox=*/true},
                             CommitThen::kFinish));
  clock_.AdvanceMs(1'000);
  const std::string pending = Get("/job/" + std::to_string(id)).body;
  EXPECT_NE(pending.find("outbox: to deliver"), std::string::npos);
  EXPECT_NE(pending.find("relay intent job=1 exec=1: outbox, key mail/receipt-7"),
            std::string::npos)
      << pending;
  EXPECT_EQ(pending.find("delivered, key"), std::string::npos);
  auto outbox = store_->Outbox(10);
  ASSERT_EQ(outbox->size(), 1u);
  ASSERT_TRUE(store_->MarkDelivered(outbox->front().id));
  const std::string delivered = Get("/job/" + std::to_string(id)).body;
  EXPECT_NE(delivered.find("+1.000s external effect job=1 exec=1: delivered, key mail/receipt-7"),
            std::string::npos)
      << delivered;
  EXPECT_NE(delivered.find("<td>deliver</td>"), std::string::npos);
}

TEST(DashboardAccessTest, WithATokenNothingIsServedWithoutIt) {
  ManualClock clock(1'800'000'000'000);
  const std::string token = "s3cret-token-0123456789";
  Dashboard dash([&clock]() -> Result<std::unique_ptr<Store>> { return MakeMemoryStore(clock); },
                 clock, {.access_token = token, .form_secret = kSecret});
  const auto get = [&](std::map<std::string, std::string> params,
                       std::map<std::string, std::string> headers) {
    return dash.Handle({.method = HttpMethod::kGet,
                        .path = "/",
                        .params = std::move(params),
                        .headers = std::move(headers)});
  };
  EXPECT_EQ(get({}, {}).status, 401);
  EXPECT_EQ(get({{"token", "wrong"}}, {}).status, 401);
  EXPECT_EQ(get({}, {{"authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(get({}, {{"authorization", "Bearer " + token}}).status, 200);
  // Once in the address: a cookie, and the address without it.
  const HttpResponse first = get({{"token", token}}, {});
  EXPECT_EQ(first.status, 303);
  ASSERT_EQ(first.headers.size(), 2u);
  EXPECT_EQ(first.headers[0].second, "/");
  EXPECT_EQ(first.headers[1].second, "lab_token=" + token + "; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(get({}, {{"cookie", "other=1; lab_token=" + token}}).status, 200);
  // The address it sends back to stays on this site.
  const HttpResponse away = dash.Handle(
      {.method = HttpMethod::kGet, .path = "//evil.example/x", .params = {{"token", token}}});
  EXPECT_EQ(away.headers[0], (std::pair<std::string, std::string>{"Location", "/"}));
  EXPECT_EQ(get({}, {{"cookie", "lab_token=" + token + "x"}}).status, 401);
  // A POST needs the token too, and then still the form's field.
  EXPECT_EQ(dash.Handle({.method = HttpMethod::kPost,
                         .path = "/redrive",
                         .params = {{"job", "1"}, {"form", kSecret}}})
                .status,
            401);
  EXPECT_EQ(dash.Handle({.method = HttpMethod::kPost,
                         .path = "/redrive",
                         .params = {{"job", "1"}},
                         .headers = {{"cookie", "lab_token=" + token}}})
                .status,
            403);
}

TEST_P(DashboardTest, MetricsAreTheStoresGaugesInTheExpositionFormat) {
  Add({.queue = "mail"});
  clock_.AdvanceMs(2'500);
  const HttpResponse r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("lab_jobs{queue=\"mail\",state=\"PENDING\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("lab_oldest_pending_job_age_seconds{queue=\"mail\"} 2.500\n"),
            std::string::npos)
      << r.body;
}

INSTANTIATE_TEST_SUITE_P(Stores, DashboardTest, ::testing::ValuesIn(testing::StorageBackends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
