#pragma once
// The plugin's reports (reports.h) as text: aligned tables like kubectl's, with colours when asked for (stages and
// outcomes by how they went), or as JSON. Pure: no I/O.

#include <string>

#include <nlohmann/json.hpp>

namespace mv::cli {

struct RenderOptions {
  bool color = false;
};

std::string renderStatus(const nlohmann::json& report, const RenderOptions& options);
std::string renderHistory(const nlohmann::json& report, const RenderOptions& options);
std::string renderPlan(const nlohmann::json& report, const RenderOptions& options);
// `-o json`: the report, indented, with a final newline.
std::string renderJson(const nlohmann::json& report);

// A duration as kubectl prints ages, to the tenth of a second below a minute: "0.4s", "12.0s", "1m20s", "2h5m".
// Negative values read as 0.
std::string formatDuration(double seconds);

}  // namespace mv::cli
