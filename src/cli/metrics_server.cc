#include "cli/metrics_server.h"

#include <fmt/core.h>
#include <httplib.h>

#include <charconv>
#include <thread>

namespace lab {

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                            std::function<std::string()> render) {
  const size_t colon = listen.rfind(':');
  const auto usage = [&](std::string_view why) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("--metrics '{}': {}; give HOST:PORT, e.g. 127.0.0.1:9464", listen, why));
  };
  if (colon == std::string::npos || colon == 0) return usage("no HOST:PORT");
  const std::string host = listen.substr(0, colon);
  int port = -1;
  const std::string_view digits(listen.data() + colon + 1, listen.size() - colon - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port < 0 || port > 65'535) {
    return usage("the port must be a number from 0 to 65535");
  }
  if (host != "127.0.0.1" && host != "localhost" && host != "::1" && host != "[::1]") {
    return usage("metrics listen on loopback only (127.0.0.1, localhost or ::1)");
  }
  auto impl = std::make_unique<Impl>();
  impl->server.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const std::string bind_host = host == "localhost" ? "127.0.0.1" : host == "[::1]" ? "::1" : host;
  const int bound = port == 0 ? impl->server.bind_to_any_port(bind_host)
                              : (impl->server.bind_to_port(bind_host, port) ? port : -1);
  if (bound < 0) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("--metrics '{}': cannot listen there (in use?)", listen));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(impl), fmt::format("{}:{}", bind_host, bound)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl, std::string address)
    : impl_(std::move(impl)), address_(std::move(address)) {}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace lab
