#pragma once
// The saved votes: DATA_DIR/votes.json, written atomically (temp file, fsync, rename, fsync of the directory), so a
// crash leaves either the previous file or the new one, never a torn one.
//
// Format (stable; the end-to-end tests read it):
//   {"format": "medivote-vote-service/v1", "savedAtMs": <unix ms>, "count": N, "votes": {"<id>": "<choice>", ...}}

#include <map>
#include <optional>
#include <string>

namespace mv::workloads::vote {

using VoteMap = std::map<std::string, std::string>;  // id -> choice

inline constexpr const char* kStateFileName = "votes.json";
inline constexpr const char* kStateFormat = "medivote-vote-service/v1";

// Reads DATA_DIR/votes.json. No file: an empty map. A file that cannot be read or parsed: nullopt and `error`
// (the service then refuses to start rather than overwrite votes it could not read). Leftover temp files of an
// interrupted save are removed.
std::optional<VoteMap> loadState(const std::string& dataDir, std::string* error);

// Writes the votes atomically. False (with `error`) when any step failed; the previous file is then intact.
bool saveState(const std::string& dataDir, const VoteMap& votes, std::string* error);

}  // namespace mv::workloads::vote
