#pragma once
// The agent's log: one line per event on stderr, "<UTC time> medivote-agent: <message>". No iostreams (they cost
// resident memory the agent does not have to spare). Callers never pass the token.

namespace mv::agent {

[[gnu::format(printf, 1, 2)]] void logLine(const char* format, ...);

}  // namespace mv::agent
