#include "medivote/planner_parts.h"

namespace mv::medivote::planning {

std::string rollingUpgrade(const api::MediVoteService& mvs, const PodSet& pods, const std::string& updateRevision,
                           ShutdownChoices& choices) {
  const auto& spec = mvs.spec;
  const int replicas = spec.replicas;
  if (pods.slots != replicas) return "";  // scaling and upgrading do not fight
  int unavailable = 0;
  for (const auto& v : pods.all)
    if (v.ours && keepsSlot(v) && (v.shuttingDown || !v.ready)) ++unavailable;
  const int maxUnavailable = api::resolveMaxUnavailable(spec.updateStrategy.maxUnavailable, replicas);
  std::string progressing;
  for (auto it = pods.active.rbegin(); it != pods.active.rend(); ++it) {
    const PodView& v = **it;
    if (v.revision == updateRevision || choices.chosen(v.name)) continue;
    if (v.ordinal >= 0 && v.ordinal < spec.updateStrategy.partition) continue;
    progressing = "RollingUpdate";
    // Unavailable pods of the old revision are replaced first: replacing them costs no availability.
    if (!v.ready || unavailable < maxUnavailable) {
      if (!choices.start(v, shutdown::reasons::kUpgrade)) break;
      if (v.ready) ++unavailable;
    }
  }
  return progressing;
}

}  // namespace mv::medivote::planning
