// WebServer: the lab's pages over HTTP (cpp-httplib, Debian's), on a thread
// pool of its own: `lab queue work --metrics` serves /metrics with it, `lab
// queue ui` the dashboard. Every GET and POST goes to one handler, which
// sees plain data (http.h) and may be tested without a socket.
// Thread-safety: the handler is called from the server's threads, several
// at once; it must be safe for that.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cli/http.h"
#include "core/status.h"

namespace lab {

// Where a server listens, from a HOST:PORT flag.
struct ListenAddress {
  std::string host;  // As bound: "127.0.0.1", "::1", "0.0.0.0", ...
  int port = 0;      // 0: any free port.
  bool loopback = false;
};

// "127.0.0.1:9464", "localhost:0", "[::1]:8080", "0.0.0.0:8080".
// kInvalidArgument naming `flag` for anything else.
Result<ListenAddress> ParseListen(std::string_view text, std::string_view flag);

// A secret nobody can guess (an access token, a form's anti-forgery token):
// 32 hex digits from the kernel's generator (/dev/urandom). Only for the web
// pages' security; the engine never draws from it.
Result<std::string> RandomSecret();

class WebServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // kUnavailable when the port cannot be bound.
  static Result<std::unique_ptr<WebServer>> Start(const ListenAddress& at, std::string_view flag,
                                                  Handler handler);
  ~WebServer();  // Stops serving and joins its threads.
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Where it listens, "127.0.0.1:PORT" ("[::1]:PORT").
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  explicit WebServer(std::unique_ptr<Impl> impl, std::string address);
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace lab
