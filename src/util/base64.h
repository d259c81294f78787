#pragma once
// Standard base64 (RFC 4648, with padding), as kubeconfig *-data fields and Secret data use it.

#include <optional>
#include <string>
#include <string_view>

namespace mv::util {

std::string base64Encode(std::string_view data);
// Decodes; whitespace (line breaks) is ignored. Returns nullopt on any other character or bad padding.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace mv::util
