#include "static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mv::workloads::statics {
namespace fs = std::filesystem;

StaticFiles::StaticFiles(std::string root) : root_(std::move(root)) {}

std::string StaticFiles::contentType(const std::string& path) {
  const auto ext = fs::path(path).extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".ico") return "image/x-icon";
  return "application/octet-stream";
}

http::Response StaticFiles::handle(const http::Request& req) const {
  if (req.method != "GET" && req.method != "HEAD") {
    return http::Response::text(501, "method " + req.method + " not supported\n");
  }
  if (req.path == "/health") return http::Response::json(200, "{\"status\":\"ok\"}\n");

  const auto decoded = http::percentDecode(req.path, false);
  if (!decoded || decoded->find('\0') != std::string::npos) return http::Response::text(400, "bad path\n");
  fs::path rel;
  std::stringstream segments(*decoded);
  for (std::string seg; std::getline(segments, seg, '/');) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return http::Response::text(404, "not found\n");
    rel /= seg;
  }
  fs::path file = fs::path(root_) / rel;
  std::error_code ec;
  if (fs::is_directory(file, ec)) file /= "index.html";
  if (!fs::is_regular_file(file, ec)) return http::Response::text(404, "not found\n");
  std::ifstream in(file, std::ios::binary);
  if (!in) return http::Response::text(403, "cannot read\n");
  std::ostringstream body;
  body << in.rdbuf();
  return http::Response::text(200, body.str(), contentType(file.string()));
}

}  // namespace mv::workloads::statics
