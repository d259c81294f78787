#pragma once
// Files of one directory over HTTP, as the MediVote frontend serves its pages: GET and HEAD only (any other method
// answers 501, as Python's http.server does), a directory answers its index.html, and a path that would leave the
// root ("..", a NUL, a malformed escape) is refused. Symbolic links inside the root are followed (a Kubernetes
// volume mount, and the kubelet simulator's, is one).

#include <string>

#include "http/message.h"

namespace mv::workloads::statics {

class StaticFiles {
 public:
  explicit StaticFiles(std::string root);
  http::Response handle(const http::Request& req) const;

  // The Content-Type for a file name, by its extension.
  static std::string contentType(const std::string& path);

 private:
  std::string root_;
};

}  // namespace mv::workloads::statics
