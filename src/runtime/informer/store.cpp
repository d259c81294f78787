#include "runtime/informer/store.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "runtime/informer/object_key.h"

namespace mv::runtime::informer {

void Store::Snapshot::add(const json& object) {
  Pending pending;
  pending.data = encodeObject(object);
  for (std::size_t i = 0; i < store_->indexers_.size(); ++i) {
    for (auto& value : store_->indexers_[i].second(object)) pending.indexValues.emplace_back(i, std::move(value));
  }
  entries_.insert_or_assign(objectKey(object), std::move(pending));
}

Store::Store(const Indexers& indexers) : indexers_(indexers.begin(), indexers.end()), indices_(indexers_.size()) {}

std::size_t Store::indexPosition(const std::string& indexName) const {
  for (std::size_t i = 0; i < indexers_.size(); ++i) {
    if (indexers_[i].first == indexName) return i;
  }
  throw std::invalid_argument("unknown index \"" + indexName + "\"");
}

std::optional<json> Store::get(const std::string& key) const {
  EncodedObject data;
  {
    std::shared_lock lock(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    data = it->second;
  }
  return decodeObject(data);
}

std::vector<json> Store::list() const {
  std::vector<EncodedObject> all;
  {
    std::shared_lock lock(mu_);
    std::vector<const std::pair<const std::string, EncodedObject>*> entries;
    entries.reserve(items_.size());
    for (const auto& entry : items_) entries.push_back(&entry);
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
    all.reserve(entries.size());
    for (const auto* entry : entries) all.push_back(entry->second);
  }
  std::vector<json> out;
  out.reserve(all.size());
  for (const auto& data : all) out.push_back(decodeObject(data));
  return out;
}

std::vector<std::string> Store::listKeys() const {
  std::vector<std::string> keys;
  {
    std::shared_lock lock(mu_);
    keys.reserve(items_.size());
    for (const auto& entry : items_) keys.push_back(entry.first);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<std::string> Store::indexKeysLocked(std::size_t position, const std::string& value) const {
  std::vector<std::string> keys;
  const Index& index = indices_[position];
  auto it = index.find(value);
  if (it == index.end()) return keys;
  keys.reserve(it->second.size());
  for (const std::string* key : it->second) keys.push_back(*key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<std::string> Store::indexKeys(const std::string& indexName, const std::string& value) const {
  const std::size_t position = indexPosition(indexName);
  std::shared_lock lock(mu_);
  return indexKeysLocked(position, value);
}

std::vector<json> Store::byIndex(const std::string& indexName, const std::string& value) const {
  const std::size_t position = indexPosition(indexName);
  std::vector<EncodedObject> found;
  {
    std::shared_lock lock(mu_);
    for (const auto& key : indexKeysLocked(position, value)) found.push_back(items_.at(key));
  }
  std::vector<json> out;
  out.reserve(found.size());
  for (const auto& data : found) out.push_back(decodeObject(data));
  return out;
}

std::size_t Store::size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

std::size_t Store::encodedBytes() const {
  std::shared_lock lock(mu_);
  return encodedBytes_;
}

void Store::indexLocked(const std::string* key, const json& object) {
  for (std::size_t i = 0; i < indexers_.size(); ++i) {
    for (auto& value : indexers_[i].second(object)) {
      KeySet& keys = indices_[i][std::move(value)];
      auto at = std::lower_bound(keys.begin(), keys.end(), key);
      if (at == keys.end() || *at != key) keys.insert(at, key);
    }
  }
}

void Store::unindexLocked(const std::string* key, const json& object) {
  for (std::size_t i = 0; i < indexers_.size(); ++i) {
    for (const auto& value : indexers_[i].second(object)) {
      auto it = indices_[i].find(value);
      if (it == indices_[i].end()) continue;
      KeySet& keys = it->second;
      auto at = std::lower_bound(keys.begin(), keys.end(), key);
      if (at != keys.end() && *at == key) keys.erase(at);
      if (keys.empty()) indices_[i].erase(it);
    }
  }
}

std::optional<json> Store::upsert(const json& object) {
  std::string key = objectKey(object);
  EncodedObject data = encodeObject(object);
  std::unique_lock lock(mu_);
  auto [it, inserted] = items_.try_emplace(std::move(key));
  std::optional<json> previous;
  if (!inserted) {
    previous = decodeObject(it->second);
    unindexLocked(&it->first, *previous);
    encodedBytes_ -= it->second.size();
  }
  encodedBytes_ += data.size();
  it->second = std::move(data);
  indexLocked(&it->first, object);
  return previous;
}

std::optional<json> Store::erase(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  json last = decodeObject(it->second);
  unindexLocked(&it->first, last);
  encodedBytes_ -= it->second.size();
  items_.erase(it);
  return last;
}

void Store::compact() {
  std::unique_lock lock(mu_);
  std::unordered_map<std::string, EncodedObject> items;
  items.reserve(items_.size());
  for (const auto& [key, data] : items_) items.emplace(key, EncodedObject::copyOf(data.bytes()));
  std::vector<Index> indices(indices_.size());
  for (std::size_t i = 0; i < indices_.size(); ++i) {
    indices[i].reserve(indices_[i].size());
    for (const auto& [value, keys] : indices_[i]) {
      KeySet moved;
      moved.reserve(keys.size());
      for (const std::string* key : keys) moved.push_back(&items.find(*key)->first);
      std::sort(moved.begin(), moved.end());
      indices[i].emplace(value, std::move(moved));
    }
  }
  items_.swap(items);
  indices_.swap(indices);
  lock.unlock();
}

std::vector<Store::Change> Store::replace(Snapshot&& snapshot) {
  if (snapshot.store_ != this) throw std::invalid_argument("snapshot belongs to another store");
  std::unordered_map<std::string, EncodedObject> items;
  items.reserve(snapshot.entries_.size());
  std::vector<Index> indices(indexers_.size());
  std::size_t bytes = 0;
  for (auto& [key, pending] : snapshot.entries_) {
    auto [it, inserted] = items.emplace(key, pending.data);
    (void)inserted;
    bytes += pending.data.size();
    for (auto& [position, value] : pending.indexValues) indices[position][std::move(value)].push_back(&it->first);
  }
  snapshot.entries_.clear();
  for (auto& index : indices) {
    for (auto& [value, keys] : index) {
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());  // an indexer may repeat a value
      keys.shrink_to_fit();
    }
  }

  std::vector<Change> changes;
  std::unique_lock lock(mu_);
  for (const auto& [key, data] : items) {
    auto old = items_.find(key);
    if (old == items_.end()) {
      changes.push_back({key, nullptr, data});
    } else if (old->second != data) {
      changes.push_back({key, old->second, data});
    }
  }
  for (const auto& [key, data] : items_) {
    if (!items.count(key)) changes.push_back({key, data, nullptr});
  }
  items_.swap(items);
  indices_.swap(indices);
  encodedBytes_ = bytes;
  lock.unlock();
  return changes;  // the old content (now in `items`) is freed here, outside the lock
}

}  // namespace mv::runtime::informer
