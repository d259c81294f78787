#pragma once
// The names the operator derives from a MediVoteService, checked against the API server's rules before anything is
// sent: a resource whose name cannot make valid objects is refused by validation (Degraded InvalidSpec, nothing
// created), instead of failing create after create. Pure.
//
// Checked: the name as the value of the medivote.io/service label (every pod, claim and Secret carries it, and the
// Service selects on it: at most 63 characters); the Service `<name>` (a DNS-1035 label), when the template declares
// ports; the pods `<name>-<ordinal>` (DNS-1123 subdomains) up to ordinal replicas-1; each claim template's name (the
// pod volume's: a DNS-1123 label) and its claims `<claim>-<name>-<ordinal>` (subdomains); and the operator's token
// Secret `<name>-agent-token` (a subdomain) when the resource uses it.

#include <vector>

#include "api/medivoteservice.h"

namespace mv::medivote {

// One FieldError per derived name that the server would refuse, saying which name and why.
std::vector<api::FieldError> derivedNameErrors(const api::MediVoteService& mvs);

}  // namespace mv::medivote
