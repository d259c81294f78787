#pragma once
// The API server's rules for object names and label values (k8s.io/apimachinery/pkg/util/validation: IsDNS1123Label,
// IsDNS1123Subdomain, IsDNS1035Label, IsValidLabelValue), so that a name the server would refuse is refused before
// anything is sent. Each returns nullopt for a valid value, else a sentence saying why it is not.

#include <optional>
#include <string>
#include <string_view>

namespace mv::api {

// Pod volume names, among others: at most 63 characters, lower case alphanumerics or '-', alphanumeric at both ends.
std::optional<std::string> dns1123LabelError(std::string_view value);
// Most object names (pods, claims, Secrets): at most 253 characters, DNS-1123 labels joined by '.'.
std::optional<std::string> dns1123SubdomainError(std::string_view value);
// Service names: a DNS-1123 label that starts with a letter (no dots, no leading digit).
std::optional<std::string> dns1035LabelError(std::string_view value);
// Label values: empty, or at most 63 characters of alphanumerics, '-', '_' or '.', alphanumeric at both ends.
std::optional<std::string> labelValueError(std::string_view value);

}  // namespace mv::api
