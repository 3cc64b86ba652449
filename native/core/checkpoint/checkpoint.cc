#include "checkpoint/checkpoint.h"

#include <cstring>
#include <set>

#include "checkpoint/torch_checkpoint.h"
#include "common/half.h"
#include "loaders/model_folder.h"

namespace winnow::checkpoint {

namespace {

std::vector<std::string> Candidates(Kind kind) {
  if (kind == Kind::kAdapter)
    return {"adapter_model.safetensors", "adapter_model.bin"};
  return {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"};
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::optional<std::string> Checkpoint::Find(const std::string& dir, Kind kind) {
  for (const std::string& name : Candidates(kind))
    if (loaders::FileExists(loaders::JoinPath(dir, name))) return name;
  return std::nullopt;
}

StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir, Kind kind) {
  auto found = Find(dir, kind);
  if (!found) {
    std::string tried;
    for (const std::string& name : Candidates(kind)) tried += (tried.empty() ? "" : ", ") + loaders::JoinPath(dir, name);
    return Status(codes::kModelNotFound, "no weights in " + dir + " (tried " + tried + ")");
  }
  std::unique_ptr<Checkpoint> c(new Checkpoint());
  c->dir_ = dir;
  c->source_ = *found;
  if (!EndsWith(*found, ".index.json")) {
    WINNOW_RETURN_IF_ERROR(c->AddFile(*found, std::nullopt));
    return c;
  }
  // A sharded checkpoint: {"weight_map": {tensor name: shard file}}; each shard is opened once.
  const std::string index_path = loaders::JoinPath(dir, *found);
  WINNOW_ASSIGN_OR_RETURN(auto index, loaders::ReadJson(index_path, codes::kCheckpointInvalid));
  auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object() || map->empty())
    return Status(codes::kCheckpointInvalid, index_path + ": weight_map must be an object naming each tensor's file");
  std::map<std::string, std::vector<std::string>> shards;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it->is_string())
      return Status(codes::kCheckpointInvalid, index_path + ": weight_map[\"" + it.key() + "\"] must be a file name");
    shards[it->get<std::string>()].push_back(it.key());
  }
  for (const auto& [shard, names] : shards) {
    // The index comes with the folder: its shard names must stay inside it.
    WINNOW_ASSIGN_OR_RETURN(std::string path, loaders::ConfigPath(dir, shard, found->c_str() + std::string(" weight_map")));
    (void)path;
    if (shard.find('/') != std::string::npos)
      return Status(codes::kCheckpointInvalid, index_path + ": shard " + shard + " is not a file of the folder itself");
    WINNOW_RETURN_IF_ERROR(c->AddFile(shard, names));
  }
  return c;
}

Status Checkpoint::AddFile(const std::string& name, const std::optional<std::vector<std::string>>& only) {
  const std::string path = loaders::JoinPath(dir_, name);
  if (!loaders::FileExists(path)) return Status(codes::kModelNotFound, "missing " + path + " (named by " + source_ + ")");
  WINNOW_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  auto file = std::make_unique<MappedFile>(std::move(mapped));
  const uint8_t* base = file->data();
  std::vector<Tensor> found;
  std::vector<std::string> names;
  if (EndsWith(name, ".safetensors")) {
    WINNOW_ASSIGN_OR_RETURN(SafeTensors st, SafeTensors::FromMapped(std::move(*file)));
    for (const TensorView& v : st.tensors()) {
      names.push_back(v.name);
      found.push_back(Tensor{v.dtype, v.shape, v.data, v.nbytes, name, static_cast<uint64_t>(v.data - base)});
    }
    file = std::make_unique<MappedFile>(st.ReleaseFile());
  } else {
    WINNOW_ASSIGN_OR_RETURN(auto stored, ReadTorchStateDict(base, file->size()));
    for (const StoredTensor& t : stored) {
      names.push_back(t.name);
      found.push_back(Tensor{t.dtype, t.shape, base + t.offset, t.nbytes, name, t.offset});
    }
  }
  std::set<std::string_view> wanted;
  if (only) wanted.insert(only->begin(), only->end());
  for (size_t i = 0; i < found.size(); ++i) {
    if (only && !wanted.count(names[i])) continue;
    if (!tensors_.emplace(names[i], std::move(found[i])).second)
      return Status(codes::kCheckpointInvalid, path + ": tensor " + names[i] + " is stored twice");
    wanted.erase(names[i]);
  }
  if (only && !wanted.empty())
    return Status(codes::kCheckpointInvalid,
                  path + " lacks " + std::string(*wanted.begin()) + ", which " + source_ + " says it holds");
  files_[name] = std::string_view(reinterpret_cast<const char*>(file->data()), file->size());
  maps_.push_back(std::move(file));
  return Status::Ok();
}

void Checkpoint::DropResidentPages() const {
  for (const auto& m : maps_) m->DropResidentPages();
}

bool Checkpoint::IsMappedFile(std::string_view file, const std::string& path) const {
  auto it = files_.find(file);
  if (it == files_.end()) return false;
  for (const auto& m : maps_)
    if (reinterpret_cast<const char*>(m->data()) == it->second.data()) return m->IsFile(path);
  return false;
}

const Tensor* Checkpoint::Get(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

StatusOr<std::vector<float>> ToFloat(const Tensor& t, const std::string& name) {
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  const uint8_t* p = t.data;
  switch (t.dtype) {
    case DType::kF32:
      std::memcpy(out.data(), p, n * 4);
      break;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = HalfToFloat(h);
      }
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = BitsToFloat(static_cast<uint32_t>(h) << 16);
      }
      break;
    case DType::kF64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    default:
      return Status(codes::kCheckpointInvalid,
                    "tensor " + name + " is stored as " + DTypeName(t.dtype) + ", not a floating-point type");
  }
  return out;
}

}  // namespace winnow::checkpoint
