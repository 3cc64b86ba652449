#include "checkpoint/torch_checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "checkpoint/zip_reader.h"

namespace winnow::checkpoint {
namespace {

// Bounds of the pickle machine: a state dict's data.pkl takes a few hundred bytes and about twenty objects per tensor.
constexpr uint64_t kMaxPickleBytes = 64ull << 20;
constexpr size_t kMaxObjects = 1u << 22;
constexpr uint32_t kMaxMemoIndex = 1u << 22;  // a dense memo of 16 MiB at most
constexpr size_t kMaxMarkDepth = 64;
constexpr uint32_t kNoObject = ~uint32_t{0};
constexpr size_t kMaxDims = 64;  // torch's own limit on a tensor's dimensions
constexpr uint64_t kMaxNumel = uint64_t{1} << 62;

Status Invalid(const std::string& what) { return Status(codes::kCheckpointInvalid, "torch.save pickle: " + what); }
Status InvalidZip(const std::string& what) { return Status(codes::kCheckpointInvalid, "torch.save zip: " + what); }

// Printable ASCII for an error message, at most 80 characters.
std::string Shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 80) out += "...";
  return out;
}

enum class Role { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kStorageType };

struct Global {
  const char* module;
  const char* name;
  Role role;
  DType dtype;  // for kStorageType
};

// The only globals a state dict names.
constexpr Global kGlobals[] = {
    {"collections", "OrderedDict", Role::kOrderedDict, DType::kF32},
    {"torch._utils", "_rebuild_tensor_v2", Role::kRebuildTensorV2, DType::kF32},
    {"torch._utils", "_rebuild_parameter", Role::kRebuildParameter, DType::kF32},
    {"torch", "FloatStorage", Role::kStorageType, DType::kF32},
    {"torch", "HalfStorage", Role::kStorageType, DType::kF16},
    {"torch", "BFloat16Storage", Role::kStorageType, DType::kBF16},
    {"torch", "DoubleStorage", Role::kStorageType, DType::kF64},
    {"torch", "LongStorage", Role::kStorageType, DType::kI64},
    {"torch", "IntStorage", Role::kStorageType, DType::kI32},
    {"torch", "ShortStorage", Role::kStorageType, DType::kI16},
    {"torch", "CharStorage", Role::kStorageType, DType::kI8},
    {"torch", "ByteStorage", Role::kStorageType, DType::kU8},
    {"torch", "BoolStorage", Role::kStorageType, DType::kBool},
};

std::string GlobalName(const Global& g) { return std::string(g.module) + "." + g.name; }

enum class Kind : uint8_t { kNone, kBool, kInt, kStr, kTuple, kDict, kGlobal, kStorage, kTensor };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kStr: return "str";
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
  }
  return "?";
}

// One object of the pickle. Objects live in one arena and refer to each other by index, so shared and even cyclic
// references cost nothing and are freed together.
struct Obj {
  Kind kind = Kind::kNone;
  bool ordered = false;         // a dict made by collections.OrderedDict
  int64_t i = 0;                // bool / int value; index into kGlobals, storages or tensors
  std::string_view s;           // str, pointing into the pickle
  std::vector<uint32_t> items;  // tuple items; dict keys and values, alternating
};

struct Storage {
  DType dtype;
  uint64_t numel;
  uint64_t data_offset;  // of its zip entry
};

struct Tensor {
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t offset;
  size_t nbytes;
};

class Machine {
 public:
  Machine(const uint8_t* data, size_t size, const std::unordered_map<std::string, ZipEntry>& storage_entries)
      : p_(data), end_(data + size), entries_(storage_entries) {}

  StatusOr<std::vector<StoredTensor>> Run();

 private:
  Status Need(size_t n, const char* what) {
    if (static_cast<size_t>(end_ - p_) < n) return Invalid(std::string("truncated ") + what);
    return Status::Ok();
  }
  StatusOr<uint32_t> New(Kind kind) {
    if (objs_.size() >= kMaxObjects) {
      return Invalid("more than " + std::to_string(kMaxObjects) + " objects (a state dict holds far fewer)");
    }
    objs_.emplace_back();
    objs_.back().kind = kind;
    return static_cast<uint32_t>(objs_.size() - 1);
  }
  Status Push(Kind kind, int64_t i = 0, std::string_view s = {}) {
    WINNOW_ASSIGN_OR_RETURN(uint32_t id, New(kind));
    objs_[id].i = i;
    objs_[id].s = s;
    stack_.push_back(id);
    return Status::Ok();
  }
  StatusOr<uint32_t> Pop(const char* op) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) return Invalid(std::string(op) + " on an empty stack");
    const uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  // The items above the topmost mark, removed from the stack.
  StatusOr<std::vector<uint32_t>> PopMark(const char* op) {
    if (marks_.empty()) return Invalid(std::string(op) + " without a MARK");
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Status MakeTuple(std::vector<uint32_t> items) {
    WINNOW_ASSIGN_OR_RETURN(uint32_t id, New(Kind::kTuple));
    objs_[id].items = std::move(items);
    stack_.push_back(id);
    return Status::Ok();
  }
  Status SetItems(uint32_t dict, const std::vector<uint32_t>& kv);
  Status LoadGlobal(std::string_view module, std::string_view name);
  Status PersistentLoad(uint32_t pid);
  Status Reduce(uint32_t callable, uint32_t args);
  Status Build(uint32_t target, uint32_t state);
  StatusOr<uint32_t> RebuildTensor(const std::vector<uint32_t>& args);
  bool IsEmptyOrderedDict(uint32_t id) const {
    return objs_[id].kind == Kind::kDict && objs_[id].ordered && objs_[id].items.empty();
  }
  StatusOr<std::vector<StoredTensor>> Result(uint32_t top);

  const uint8_t* p_;
  const uint8_t* end_;
  const std::unordered_map<std::string, ZipEntry>& entries_;  // key -> data/<key>
  std::vector<Obj> objs_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::vector<uint32_t> memo_;  // index -> object, kNoObject where never stored
  uint32_t memo_count_ = 0;      // indices stored (MEMOIZE's next index)
  std::vector<Storage> storages_;
  std::unordered_map<std::string, uint32_t> storage_by_key_;
  std::vector<Tensor> tensors_;
};

Status Machine::SetItems(uint32_t dict, const std::vector<uint32_t>& kv) {
  if (objs_[dict].kind != Kind::kDict) return Invalid(std::string("SETITEM on a ") + KindName(objs_[dict].kind));
  if (kv.size() % 2 != 0) return Invalid("SETITEMS with an odd number of items");
  for (size_t k = 0; k < kv.size(); k += 2) {
    const Kind kind = objs_[kv[k]].kind;
    if (kind != Kind::kStr && kind != Kind::kInt) return Invalid(std::string("dict key of type ") + KindName(kind));
  }
  objs_[dict].items.insert(objs_[dict].items.end(), kv.begin(), kv.end());
  return Status::Ok();
}

Status Machine::LoadGlobal(std::string_view module, std::string_view name) {
  for (size_t g = 0; g < std::size(kGlobals); ++g) {
    if (module == kGlobals[g].module && name == kGlobals[g].name) return Push(Kind::kGlobal, static_cast<int64_t>(g));
  }
  return Invalid("global '" + Shown(module) + "." + Shown(name) +
                 "' is not allowed (a state dict names only collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                 "torch._utils._rebuild_parameter and torch.*Storage)");
}

// ('storage', torch.<T>Storage, key, location, numel) -> the storage in <archive>/data/<key>.
Status Machine::PersistentLoad(uint32_t pid) {
  const Obj& t = objs_[pid];
  auto is = [&](size_t i, Kind k) { return objs_[t.items[i]].kind == k; };
  if (t.kind != Kind::kTuple || t.items.size() != 5 || !is(0, Kind::kStr) || objs_[t.items[0]].s != "storage" ||
      !is(1, Kind::kGlobal) || !is(2, Kind::kStr) || !is(3, Kind::kStr) || !is(4, Kind::kInt)) {
    return Invalid("persistent id is not ('storage', type, key, location, numel)");
  }
  const Global& type = kGlobals[objs_[t.items[1]].i];
  if (type.role != Role::kStorageType) return Invalid("persistent id names '" + GlobalName(type) + "' as its storage type");
  const std::string key(objs_[t.items[2]].s);
  const int64_t numel = objs_[t.items[4]].i;
  auto entry = entries_.find(key);
  if (entry == entries_.end()) return Invalid("storage '" + Shown(key) + "' has no data/" + Shown(key) + " entry");
  const uint64_t elem = DTypeSize(type.dtype);
  if (numel < 0 || static_cast<uint64_t>(numel) > entry->second.size / elem ||
      static_cast<uint64_t>(numel) * elem != entry->second.size) {
    return Invalid("storage '" + Shown(key) + "' of " + std::to_string(numel) + " x " + DTypeName(type.dtype) +
                   " does not fill its entry of " + std::to_string(entry->second.size) + " bytes");
  }
  auto [it, fresh] = storage_by_key_.emplace(key, static_cast<uint32_t>(storages_.size()));
  if (fresh) {
    storages_.push_back(Storage{type.dtype, static_cast<uint64_t>(numel), entry->second.data_offset});
  } else if (storages_[it->second].dtype != type.dtype) {
    return Invalid("storage '" + Shown(key) + "' is read as two types");
  }
  return Push(Kind::kStorage, it->second);
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
StatusOr<uint32_t> Machine::RebuildTensor(const std::vector<uint32_t>& a) {
  auto kind = [&](size_t i) { return objs_[a[i]].kind; };
  if (a.size() < 6 || a.size() > 7 || kind(0) != Kind::kStorage || kind(1) != Kind::kInt || kind(2) != Kind::kTuple ||
      kind(3) != Kind::kTuple || kind(4) != Kind::kBool) {
    return Invalid("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, requires_grad, hooks)");
  }
  if (!IsEmptyOrderedDict(a[5])) return Invalid("_rebuild_tensor_v2 with backward hooks");
  if (a.size() == 7 && !(kind(6) == Kind::kDict && objs_[a[6]].items.empty())) {
    return Invalid("_rebuild_tensor_v2 with tensor metadata");
  }
  const Storage& storage = storages_[objs_[a[0]].i];
  const int64_t offset = objs_[a[1]].i;
  const std::vector<uint32_t>& size = objs_[a[2]].items;
  const std::vector<uint32_t>& stride = objs_[a[3]].items;
  if (size.size() != stride.size() || size.size() > kMaxDims) {
    return Invalid("tensor with " + std::to_string(size.size()) + " sizes and " + std::to_string(stride.size()) +
                   " strides (at most " + std::to_string(kMaxDims) + ")");
  }
  Tensor t{storage.dtype, {}, 0, 0};
  uint64_t numel = 1;
  for (size_t d = 0; d < size.size(); ++d) {
    const Obj& n = objs_[size[d]];
    const Obj& s = objs_[stride[d]];
    if (n.kind != Kind::kInt || s.kind != Kind::kInt || n.i < 0 || s.i < 0) {
      return Invalid("tensor size or stride is not a non-negative int (dimension " + std::to_string(d) + ")");
    }
    if (static_cast<uint64_t>(n.i) > kMaxNumel || (n.i != 0 && numel > kMaxNumel / static_cast<uint64_t>(n.i))) {
      return Invalid("tensor of more than 2^62 elements");
    }
    numel *= static_cast<uint64_t>(n.i);
    t.shape.push_back(n.i);
  }
  // Contiguous as torch defines it: row-major strides, where a dimension of size 1 may have any stride.
  if (numel != 0) {
    uint64_t expected = 1;
    for (size_t d = size.size(); d-- > 0;) {
      if (t.shape[d] != 1 && static_cast<uint64_t>(objs_[stride[d]].i) != expected) {
        return Invalid("non-contiguous tensor (stride " + std::to_string(objs_[stride[d]].i) + " in dimension " +
                       std::to_string(d) + ", row-major would be " + std::to_string(expected) + ")");
      }
      expected *= static_cast<uint64_t>(t.shape[d]);
    }
  }
  if (offset < 0 || static_cast<uint64_t>(offset) > storage.numel || numel > storage.numel - offset) {
    return Invalid("tensor [offset " + std::to_string(offset) + ", " + std::to_string(numel) +
                   " elements] lies outside its storage of " + std::to_string(storage.numel) + " elements");
  }
  const uint64_t elem = DTypeSize(storage.dtype);
  t.offset = storage.data_offset + static_cast<uint64_t>(offset) * elem;
  t.nbytes = static_cast<size_t>(numel * elem);
  tensors_.push_back(std::move(t));
  WINNOW_ASSIGN_OR_RETURN(uint32_t id, New(Kind::kTensor));
  objs_[id].i = static_cast<int64_t>(tensors_.size() - 1);
  return id;
}

Status Machine::Reduce(uint32_t callable, uint32_t args_id) {
  if (objs_[callable].kind != Kind::kGlobal) {
    return Invalid(std::string("REDUCE of a ") + KindName(objs_[callable].kind) + " (not an allowed callable)");
  }
  const Global& g = kGlobals[objs_[callable].i];
  if (objs_[args_id].kind != Kind::kTuple) return Invalid("REDUCE of " + GlobalName(g) + " with arguments not a tuple");
  const std::vector<uint32_t> args = objs_[args_id].items;
  switch (g.role) {
    case Role::kOrderedDict: {
      if (!args.empty()) return Invalid("collections.OrderedDict called with arguments");
      WINNOW_ASSIGN_OR_RETURN(uint32_t id, New(Kind::kDict));
      objs_[id].ordered = true;
      stack_.push_back(id);
      return Status::Ok();
    }
    case Role::kRebuildTensorV2: {
      WINNOW_ASSIGN_OR_RETURN(uint32_t id, RebuildTensor(args));
      stack_.push_back(id);
      return Status::Ok();
    }
    case Role::kRebuildParameter:
      // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself.
      if (args.size() != 3 || objs_[args[0]].kind != Kind::kTensor || objs_[args[1]].kind != Kind::kBool ||
          !IsEmptyOrderedDict(args[2])) {
        return Invalid("_rebuild_parameter arguments are not (tensor, requires_grad, empty hooks)");
      }
      stack_.push_back(args[0]);
      return Status::Ok();
    case Role::kStorageType:
      break;
  }
  return Invalid("REDUCE of " + GlobalName(g) + " (not an allowed callable)");
}

// BUILD sets an OrderedDict's attributes (a state dict's _metadata); they are not needed, and nothing else is built.
Status Machine::Build(uint32_t target, uint32_t state) {
  const Obj& t = objs_[target];
  if (t.kind != Kind::kDict || !t.ordered) {
    return Invalid(std::string("BUILD of a ") + (t.kind == Kind::kGlobal ? GlobalName(kGlobals[t.i]) : KindName(t.kind)) +
                   " (only an OrderedDict's attributes may be set)");
  }
  if (objs_[state].kind != Kind::kDict) return Invalid("BUILD of an OrderedDict with a state that is not a dict");
  return Status::Ok();
}

StatusOr<std::vector<StoredTensor>> Machine::Result(uint32_t top) {
  const Obj& dict = objs_[top];
  if (dict.kind != Kind::kDict) return Invalid(std::string("the pickle holds a ") + KindName(dict.kind) + ", not a state dict");
  std::vector<StoredTensor> out;
  out.reserve(dict.items.size() / 2);
  std::unordered_set<std::string_view> names;
  for (size_t i = 0; i < dict.items.size(); i += 2) {
    const Obj& key = objs_[dict.items[i]];
    const Obj& value = objs_[dict.items[i + 1]];
    if (key.kind != Kind::kStr) return Invalid("state dict key of type " + std::string(KindName(key.kind)));
    if (value.kind != Kind::kTensor) {
      return Invalid("state dict value '" + Shown(key.s) + "' is a " + KindName(value.kind) + ", not a tensor");
    }
    if (!names.insert(key.s).second) return Invalid("state dict names '" + Shown(key.s) + "' twice");
    const Tensor& t = tensors_[value.i];
    out.push_back(StoredTensor{std::string(key.s), t.dtype, t.shape, t.offset, t.nbytes});
  }
  return out;
}

StatusOr<std::vector<StoredTensor>> Machine::Run() {
  if (end_ - p_ > static_cast<std::ptrdiff_t>(kMaxPickleBytes)) {
    return Invalid("data.pkl of " + std::to_string(end_ - p_) + " bytes (at most " + std::to_string(kMaxPickleBytes) +
                   ")");
  }
  while (true) {
    WINNOW_RETURN_IF_ERROR(Need(1, "pickle (no STOP)"));
    const uint8_t op = *p_++;
    switch (op) {
      case 0x80: {  // PROTO
        WINNOW_RETURN_IF_ERROR(Need(1, "PROTO"));
        if (*p_++ > 5) return Invalid("pickle protocol above 5");
        break;
      }
      case 0x95: {  // FRAME (protocol 4): a length only
        WINNOW_RETURN_IF_ERROR(Need(8, "FRAME"));
        p_ += 8;
        break;
      }
      case '.': {  // STOP
        if (!marks_.empty() || stack_.size() != 1) return Invalid("STOP with " + std::to_string(stack_.size()) + " objects on the stack");
        if (p_ != end_) return Invalid("bytes after STOP");
        return Result(stack_.back());
      }
      case '(':  // MARK
        if (marks_.size() >= kMaxMarkDepth) {
          return Invalid("MARKs nested deeper than " + std::to_string(kMaxMarkDepth));
        }
        marks_.push_back(stack_.size());
        break;
      case ')':  // EMPTY_TUPLE
        WINNOW_RETURN_IF_ERROR(MakeTuple({}));
        break;
      case 't': {  // TUPLE
        WINNOW_ASSIGN_OR_RETURN(std::vector<uint32_t> items, PopMark("TUPLE"));
        WINNOW_RETURN_IF_ERROR(MakeTuple(std::move(items)));
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84u;
        std::vector<uint32_t> items(n);
        for (size_t i = n; i-- > 0;) {
          WINNOW_ASSIGN_OR_RETURN(items[i], Pop("TUPLEn"));
        }
        WINNOW_RETURN_IF_ERROR(MakeTuple(std::move(items)));
        break;
      }
      case '}':  // EMPTY_DICT
        WINNOW_RETURN_IF_ERROR(Push(Kind::kDict));
        break;
      case 's': {  // SETITEM
        WINNOW_ASSIGN_OR_RETURN(uint32_t value, Pop("SETITEM"));
        WINNOW_ASSIGN_OR_RETURN(uint32_t key, Pop("SETITEM"));
        WINNOW_ASSIGN_OR_RETURN(uint32_t dict, Pop("SETITEM"));
        WINNOW_RETURN_IF_ERROR(SetItems(dict, {key, value}));
        stack_.push_back(dict);
        break;
      }
      case 'u': {  // SETITEMS
        WINNOW_ASSIGN_OR_RETURN(std::vector<uint32_t> kv, PopMark("SETITEMS"));
        WINNOW_ASSIGN_OR_RETURN(uint32_t dict, Pop("SETITEMS"));
        WINNOW_RETURN_IF_ERROR(SetItems(dict, kv));
        stack_.push_back(dict);
        break;
      }
      case 'N':  // NONE
        WINNOW_RETURN_IF_ERROR(Push(Kind::kNone));
        break;
      case 0x88: case 0x89:  // NEWTRUE, NEWFALSE
        WINNOW_RETURN_IF_ERROR(Push(Kind::kBool, op == 0x88));
        break;
      case 'K':  // BININT1
        WINNOW_RETURN_IF_ERROR(Need(1, "BININT1"));
        WINNOW_RETURN_IF_ERROR(Push(Kind::kInt, *p_++));
        break;
      case 'M': {  // BININT2
        WINNOW_RETURN_IF_ERROR(Need(2, "BININT2"));
        const int64_t v = p_[0] | (p_[1] << 8);
        p_ += 2;
        WINNOW_RETURN_IF_ERROR(Push(Kind::kInt, v));
        break;
      }
      case 'J': {  // BININT: signed 32-bit
        WINNOW_RETURN_IF_ERROR(Need(4, "BININT"));
        uint32_t u = 0;
        for (int i = 3; i >= 0; --i) u = (u << 8) | p_[i];
        p_ += 4;
        WINNOW_RETURN_IF_ERROR(Push(Kind::kInt, static_cast<int32_t>(u)));
        break;
      }
      case 0x8a: {  // LONG1: n bytes, two's complement little-endian
        WINNOW_RETURN_IF_ERROR(Need(1, "LONG1"));
        const size_t n = *p_++;
        if (n > 8) return Invalid("LONG1 integer of " + std::to_string(n) + " bytes (at most 8)");
        WINNOW_RETURN_IF_ERROR(Need(n, "LONG1"));
        uint64_t u = 0;
        for (size_t i = n; i-- > 0;) u = (u << 8) | p_[i];
        if (n > 0 && n < 8 && (p_[n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);  // sign-extend
        p_ += n;
        WINNOW_RETURN_IF_ERROR(Push(Kind::kInt, static_cast<int64_t>(u)));
        break;
      }
      case 'X': case 0x8c: {  // BINUNICODE (u32 length), SHORT_BINUNICODE (u8 length)
        size_t n = 0;
        if (op == 'X') {
          WINNOW_RETURN_IF_ERROR(Need(4, "BINUNICODE"));
          n = static_cast<size_t>(p_[0]) | (static_cast<size_t>(p_[1]) << 8) | (static_cast<size_t>(p_[2]) << 16) |
              (static_cast<size_t>(p_[3]) << 24);
          p_ += 4;
        } else {
          WINNOW_RETURN_IF_ERROR(Need(1, "SHORT_BINUNICODE"));
          n = *p_++;
        }
        WINNOW_RETURN_IF_ERROR(Need(n, "string"));
        WINNOW_RETURN_IF_ERROR(Push(Kind::kStr, 0, std::string_view(reinterpret_cast<const char*>(p_), n)));
        p_ += n;
        break;
      }
      case 'q': case 'r': case 0x94: {  // BINPUT (u8), LONG_BINPUT (u32), MEMOIZE (next index)
        uint32_t index = memo_count_;
        if (op == 'q') {
          WINNOW_RETURN_IF_ERROR(Need(1, "BINPUT"));
          index = *p_++;
        } else if (op == 'r') {
          WINNOW_RETURN_IF_ERROR(Need(4, "LONG_BINPUT"));
          index = static_cast<uint32_t>(p_[0] | (p_[1] << 8) | (p_[2] << 16)) | (static_cast<uint32_t>(p_[3]) << 24);
          p_ += 4;
        }
        if (index >= kMaxMemoIndex) return Invalid("memo index " + std::to_string(index) + " out of range");
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) return Invalid("BINPUT on an empty stack");
        if (index >= memo_.size()) memo_.resize(index + 1, kNoObject);
        if (memo_[index] == kNoObject) ++memo_count_;
        memo_[index] = stack_.back();
        break;
      }
      case 'h': case 'j': {  // BINGET (u8), LONG_BINGET (u32)
        uint32_t index = 0;
        if (op == 'h') {
          WINNOW_RETURN_IF_ERROR(Need(1, "BINGET"));
          index = *p_++;
        } else {
          WINNOW_RETURN_IF_ERROR(Need(4, "LONG_BINGET"));
          index = static_cast<uint32_t>(p_[0] | (p_[1] << 8) | (p_[2] << 16)) | (static_cast<uint32_t>(p_[3]) << 24);
          p_ += 4;
        }
        if (index >= memo_.size() || memo_[index] == kNoObject) {
          return Invalid("memo index " + std::to_string(index) + " was never stored");
        }
        if (stack_.size() >= kMaxObjects) return Invalid("stack deeper than " + std::to_string(kMaxObjects));
        stack_.push_back(memo_[index]);
        break;
      }
      case 'c': {  // GLOBAL: "module\nname\n"
        const uint8_t* nl1 = static_cast<const uint8_t*>(std::memchr(p_, '\n', std::min<size_t>(end_ - p_, 256)));
        if (nl1 == nullptr) return Invalid("GLOBAL without its module line");
        const uint8_t* nl2 =
            static_cast<const uint8_t*>(std::memchr(nl1 + 1, '\n', std::min<size_t>(end_ - nl1 - 1, 256)));
        if (nl2 == nullptr) return Invalid("GLOBAL without its name line");
        const std::string_view module(reinterpret_cast<const char*>(p_), nl1 - p_);
        const std::string_view name(reinterpret_cast<const char*>(nl1 + 1), nl2 - nl1 - 1);
        p_ = nl2 + 1;
        WINNOW_RETURN_IF_ERROR(LoadGlobal(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL (protocol 4): module and name strings on the stack
        WINNOW_ASSIGN_OR_RETURN(uint32_t name, Pop("STACK_GLOBAL"));
        WINNOW_ASSIGN_OR_RETURN(uint32_t module, Pop("STACK_GLOBAL"));
        if (objs_[name].kind != Kind::kStr || objs_[module].kind != Kind::kStr) {
          return Invalid("STACK_GLOBAL of something not a string");
        }
        WINNOW_RETURN_IF_ERROR(LoadGlobal(objs_[module].s, objs_[name].s));
        break;
      }
      case 'Q': {  // BINPERSID
        WINNOW_ASSIGN_OR_RETURN(uint32_t pid, Pop("BINPERSID"));
        WINNOW_RETURN_IF_ERROR(PersistentLoad(pid));
        break;
      }
      case 'R': {  // REDUCE
        WINNOW_ASSIGN_OR_RETURN(uint32_t args, Pop("REDUCE"));
        WINNOW_ASSIGN_OR_RETURN(uint32_t callable, Pop("REDUCE"));
        WINNOW_RETURN_IF_ERROR(Reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD
        WINNOW_ASSIGN_OR_RETURN(uint32_t state, Pop("BUILD"));
        WINNOW_ASSIGN_OR_RETURN(uint32_t target, Pop("BUILD"));
        WINNOW_RETURN_IF_ERROR(Build(target, state));
        stack_.push_back(target);
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        return Invalid(std::string("opcode ") + hex + " is not allowed (a state dict does not use it)");
      }
    }
  }
}

}  // namespace

StatusOr<std::vector<StoredTensor>> ReadTorchStateDict(const uint8_t* data, size_t size) {
  // The format before torch 1.6 is a bare pickle (it begins with PROTO), not a zip.
  if (size >= 2 && data[0] == 0x80) {
    return Status(codes::kCheckpointInvalid,
                  "legacy torch.save format (before torch 1.6) is not supported: re-save it with torch.save in a "
                  "newer torch, or save the weights as safetensors");
  }
  WINNOW_ASSIGN_OR_RETURN(std::vector<ZipEntry> entries, ReadStoredZip(data, size));
  if (entries.empty()) return InvalidZip("archive is empty");
  // Every record lies in one top-level folder: <archive>/data.pkl, <archive>/data/<key>, <archive>/version, ...
  const std::string& first = entries.front().name;
  const size_t slash = first.find('/');
  if (slash == 0 || slash == std::string::npos) return InvalidZip("entry '" + Shown(first) + "' is not in a folder");
  const std::string prefix = first.substr(0, slash + 1);
  const ZipEntry* pickle = nullptr;
  std::unordered_map<std::string, ZipEntry> storage_entries;
  for (const ZipEntry& e : entries) {
    if (e.name.compare(0, prefix.size(), prefix) != 0 || e.name.size() == prefix.size()) {
      return InvalidZip("entry '" + Shown(e.name) + "' is not in the folder '" + Shown(prefix) + "' of the others");
    }
    const std::string_view rest = std::string_view(e.name).substr(prefix.size());
    if (rest == "data.pkl") {
      pickle = &e;
    } else if (rest.substr(0, 5) == "data/") {
      storage_entries.emplace(std::string(rest.substr(5)), e);
    } else if (rest == "byteorder") {
      const std::string_view order(reinterpret_cast<const char*>(data + e.data_offset), e.size);
      if (order != "little") {
        return InvalidZip("byteorder is '" + Shown(order) + "'; only little-endian checkpoints are read");
      }
    }
  }
  if (pickle == nullptr) return InvalidZip("no " + Shown(prefix) + "data.pkl entry");
  Machine machine(data + pickle->data_offset, pickle->size, storage_entries);
  return machine.Run();
}

}  // namespace winnow::checkpoint
