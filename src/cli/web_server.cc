#include "cli/web_server.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <thread>

#include "core/text.h"

namespace lab {

struct WebServer::Impl {
  httplib::Server server;
  std::thread thread;
};

Result<ListenAddress> ParseListen(std::string_view text, std::string_view flag) {
  const auto usage = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} '{}': {}; give HOST:PORT, e.g. 127.0.0.1:9464", flag,
                                 ForTerminal(std::string(text), 200), why));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return usage("no HOST:PORT");
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view digits = text.substr(colon + 1);
  int port = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port < 0 || port > 65'535) {
    return usage("the port must be a number from 0 to 65535");
  }
  if (host == "localhost") host = "127.0.0.1";
  const bool name_chars = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '-';
  });
  if (!name_chars) return usage("the host must be an address or a name");
  return ListenAddress{
      .host = host, .port = port, .loopback = host == "::1" || host.starts_with("127.")};
}

Result<std::string> RandomSecret() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[16] = {};
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
    return MakeError(ErrorCode::kUnavailable, "cannot read /dev/urandom for a secret");
  }
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

namespace {

HttpRequest FromHttplib(const httplib::Request& req, HttpMethod method) {
  HttpRequest out{.method = method, .path = req.path};
  for (const auto& [name, value] : req.params) out.params.emplace(name, value);
  if (method == HttpMethod::kPost &&
      req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    for (const auto& [name, value] : form) out.params.insert_or_assign(name, value);
  }
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers.emplace(std::move(lower), value);
  }
  return out;
}

void ToHttplib(const HttpResponse& from, httplib::Response& res) {
  res.status = from.status;
  for (const auto& [name, value] : from.headers) res.set_header(name, value);
  res.set_content(from.body, from.content_type);
}

}  // namespace

Result<std::unique_ptr<WebServer>> WebServer::Start(const ListenAddress& at, std::string_view flag,
                                                    Handler handler) {
  auto impl = std::make_unique<Impl>();
  // A form is small; a slow client is not waited on for long.
  impl->server.set_payload_max_length(64 * 1024);
  impl->server.set_read_timeout(5);
  impl->server.Get(".*", [handler](const httplib::Request& req, httplib::Response& res) {
    ToHttplib(handler(FromHttplib(req, HttpMethod::kGet)), res);
  });
  impl->server.Post(".*", [handler](const httplib::Request& req, httplib::Response& res) {
    ToHttplib(handler(FromHttplib(req, HttpMethod::kPost)), res);
  });
  const int bound = at.port == 0 ? impl->server.bind_to_any_port(at.host)
                                 : (impl->server.bind_to_port(at.host, at.port) ? at.port : -1);
  if (bound < 0) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{} {}:{}: cannot listen there (in use? not this machine's "
                                 "address?)",
                                 flag, at.host, at.port));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  const std::string host = at.host.find(':') != std::string::npos ? "[" + at.host + "]" : at.host;
  return std::unique_ptr<WebServer>(
      new WebServer(std::move(impl), fmt::format("{}:{}", host, bound)));
}

WebServer::WebServer(std::unique_ptr<Impl> impl, std::string address)
    : impl_(std::move(impl)), address_(std::move(address)) {}

WebServer::~WebServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace lab
