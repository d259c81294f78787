#pragma once
// Recognising an API server whose history went backwards: kube-apiserver restarted on a restored or wiped etcd,
// whose resourceVersions start again from a lower revision (observed: from ~7300 back to ~200, issue 14). A client
// that resumes its watch from its last resourceVersion then gets 200 and an empty stream forever. Pure functions.
//
// Why comparing resourceVersions is allowed here: by API convention they are opaque (api-conventions.md,
// "Concurrency Control and Consistency": clients must not assume they are numeric or ordered). But every
// etcd-backed server (kube-apiserver, and any server on k8s.io/apiserver's etcd3 storage) writes etcd's revision
// in decimal (storage.APIObjectVersioner), and one revision counter orders every write. So two resourceVersions
// are compared only when both parse as unsigned decimal integers; when either does not, nothing is concluded.

#include <optional>
#include <string>
#include <string_view>

#include "kube/errors.h"

namespace mv::runtime::informer {

// Why `observed` shows that the server's history went back from `lastSeen`: nullopt when observed is equal or
// higher, when either is empty, and when either is not an unsigned decimal integer.
std::optional<std::string> historyWentBack(std::string_view lastSeen, std::string_view observed);

// True for the errors a server answers when asked for a resourceVersion beyond its current revision:
// - etcd's "etcdserver: mvcc: required revision is a future revision", which kube-apiserver passes through as a
//   500 with no reason (storage.InterpretListError leaves etcd's error alone; ErrorToAPIStatus makes it a 500);
// - the watch cache's 504 Timeout "Too large resource version" (cause ResourceVersionTooLarge), which client-go's
//   reflector also answers by listing afresh.
bool isFutureRevision(const kube::ApiError& error);

}  // namespace mv::runtime::informer
