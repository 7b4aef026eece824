// A request and its answer, as the lab's web pages see them: what the HTTP
// server (web_server.h) hands a page and sends back. Plain data, so a page
// can be tested without a socket.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lab {

enum class HttpMethod { kGet, kPost };

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string path;                            // "/job/7", without the query.
  std::map<std::string, std::string> params;   // The query's and a form's fields.
  std::map<std::string, std::string> headers;  // Names in lower case.
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Location, Set-Cookie, ...
};

}  // namespace lab
