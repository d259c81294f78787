// The parser's own speed on a list reply (bench/sync_vs_peer.py, issue 16): how long the operator's JSON path takes on
// the bytes alone, with no network and no cache, as the floor of its cache-sync CPU.
//
// Usage: medivote-json-parse-speed FILE [ROUNDS]
// Prints one JSON line: the file's size, and the best of ROUNDS (default 5) for
// - validate: simdjson's parse of the whole text (its index, no tree);
// - listStream: kube::ListStream fed in 64 KiB pieces, items built with the pod informer's filter (what the operator
//   does with a list reply before its transform);
// - listStreamWhole: the same without a filter (every member built).
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kube/list_stream.h"
#include "runtime/informer/transforms.h"

namespace {

template <typename F>
double bestOf(int rounds, F&& f) {
  double best = 1e9;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::size_t streamed(const std::string& text, const mv::kube::JsonFieldFilter* fields) {
  std::size_t items = 0;
  mv::kube::ListStream list([](const nlohmann::json&) { return true; }, [&](nlohmann::json&&) { ++items; }, fields);
  for (std::size_t i = 0; i < text.size(); i += 64 << 10) list.feed(std::string_view(text).substr(i, 64 << 10));
  list.finish();
  return items;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [ROUNDS]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;

  simdjson::dom::parser parser;
  const double validate = bestOf(rounds, [&] {
    simdjson::dom::element root;
    if (parser.parse(text).get(root) != simdjson::SUCCESS) throw std::runtime_error("not valid JSON");
  });
  std::size_t items = 0;
  const auto fields = mv::runtime::informer::podOperatorFields();
  const double filtered = bestOf(rounds, [&] { items = streamed(text, fields.get()); });
  const double whole = bestOf(rounds, [&] { streamed(text, nullptr); });
  std::printf("{\"bytes\":%zu,\"items\":%zu,\"validateSeconds\":%.4f,\"listStreamSeconds\":%.4f,"
              "\"listStreamWholeSeconds\":%.4f}\n",
              text.size(), items, validate, filtered, whole);
  return 0;
}
