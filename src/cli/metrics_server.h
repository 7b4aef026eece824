// MetricsServer: GET /metrics over HTTP on a loopback address, on a thread
// of its own (cpp-httplib), answering with what `render` returns in
// Prometheus' text format (queue/metrics.h). Anything else is 404. It
// listens on loopback only: a port reachable from elsewhere would need an
// access token, which nothing here has yet. Thread-safety: `render` is
// called from the server's thread, one request at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace lab {

class MetricsServer {
 public:
  // "127.0.0.1:9464", "localhost:0" (0: any free port). kInvalidArgument
  // for a malformed or non-loopback address; kUnavailable when the port
  // cannot be bound.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                      std::function<std::string()> render);
  ~MetricsServer();  // Stops serving and joins its thread.
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Where it listens, "127.0.0.1:PORT".
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl, std::string address);
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace lab
