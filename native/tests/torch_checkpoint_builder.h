// Builders of torch.save-shaped files for torch_checkpoint_test.cc and fuzz/torch_checkpoint_fuzzer.cc: a stored zip
// (optionally with zip64 records) and the opcodes of a state dict pickle, so each hostile case differs from a good
// file by one thing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace winnow::testing {

inline void PutLe(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Stored zip of `files` [(name, bytes)]. zip64: the end records in their zip64 form with the 32-bit fields saturated,
// and every central entry's sizes and offset in a zip64 extra field.
inline std::string Zip(const std::vector<std::pair<std::string, std::string>>& files, bool zip64 = false) {
  std::string out, central;
  for (const auto& [name, bytes] : files) {
    const uint64_t local = out.size();
    PutLe(out, 0x04034b50, 4);
    PutLe(out, 20, 2);  // version needed
    PutLe(out, 0, 2);   // flags
    PutLe(out, 0, 2);   // method: stored
    PutLe(out, 0, 4);   // time, date
    PutLe(out, 0, 4);   // crc-32 (not checked)
    PutLe(out, zip64 ? 0xffffffffu : bytes.size(), 4);
    PutLe(out, zip64 ? 0xffffffffu : bytes.size(), 4);
    PutLe(out, name.size(), 2);
    PutLe(out, 0, 2);  // extra length
    out += name;
    out += bytes;
    PutLe(central, 0x02014b50, 4);
    PutLe(central, 45, 2);  // made by
    PutLe(central, 45, 2);  // needed
    PutLe(central, 0, 2);
    PutLe(central, 0, 2);
    PutLe(central, 0, 4);
    PutLe(central, 0, 4);
    PutLe(central, zip64 ? 0xffffffffu : bytes.size(), 4);
    PutLe(central, zip64 ? 0xffffffffu : bytes.size(), 4);
    PutLe(central, name.size(), 2);
    PutLe(central, zip64 ? 28 : 0, 2);
    PutLe(central, 0, 2);  // comment
    PutLe(central, 0, 2);  // disk
    PutLe(central, 0, 2);
    PutLe(central, 0, 4);
    PutLe(central, zip64 ? 0xffffffffu : local, 4);
    central += name;
    if (zip64) {
      PutLe(central, 1, 2);
      PutLe(central, 24, 2);
      PutLe(central, bytes.size(), 8);
      PutLe(central, bytes.size(), 8);
      PutLe(central, local, 8);
    }
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const uint64_t z = out.size();
    PutLe(out, 0x06064b50, 4);
    PutLe(out, 44, 8);
    PutLe(out, 45, 2);
    PutLe(out, 45, 2);
    PutLe(out, 0, 4);
    PutLe(out, 0, 4);
    PutLe(out, files.size(), 8);
    PutLe(out, files.size(), 8);
    PutLe(out, central.size(), 8);
    PutLe(out, cd_offset, 8);
    PutLe(out, 0x07064b50, 4);
    PutLe(out, 0, 4);
    PutLe(out, z, 8);
    PutLe(out, 1, 4);
  }
  PutLe(out, 0x06054b50, 4);
  PutLe(out, 0, 4);
  PutLe(out, zip64 ? 0xffff : files.size(), 2);
  PutLe(out, zip64 ? 0xffff : files.size(), 2);
  PutLe(out, zip64 ? 0xffffffffu : central.size(), 4);
  PutLe(out, zip64 ? 0xffffffffu : cd_offset, 4);
  PutLe(out, 0, 2);
  return out;
}

// Pickle opcodes, protocol 2 as torch.save writes them.
struct Pickle {
  std::string s = std::string("\x80\x02", 2);
  Pickle& Op(char c) { s.push_back(c); return *this; }
  Pickle& Raw(std::string_view b) { s += b; return *this; }
  Pickle& Mark() { return Op('('); }
  Pickle& Str(std::string_view v) { Op('X'); PutLe(s, v.size(), 4); s += v; return *this; }
  Pickle& Int(int64_t v) {
    if (v >= 0 && v < 256) { Op('K'); PutLe(s, static_cast<uint64_t>(v), 1); return *this; }
    Op('\x8a');
    PutLe(s, 8, 1);
    PutLe(s, static_cast<uint64_t>(v), 8);
    return *this;
  }
  Pickle& Bool(bool v) { return Op(v ? '\x88' : '\x89'); }
  Pickle& Global(std::string_view module, std::string_view name) {
    Op('c');
    s += module;
    s += '\n';
    s += name;
    s += '\n';
    return *this;
  }
  Pickle& Ints(const std::vector<int64_t>& v) {  // a tuple
    Mark();
    for (int64_t x : v) Int(x);
    return Op('t');
  }
  Pickle& EmptyOrderedDict() { return Global("collections", "OrderedDict").Op(')').Op('R'); }
  Pickle& Stop() { return Op('.'); }
};

struct TensorSpec {
  std::string name = "w";
  std::string storage_type = "FloatStorage";
  std::string key = "0";
  int64_t numel = 6;  // of the storage
  int64_t offset = 0;
  std::vector<int64_t> size = {2, 3};
  std::vector<int64_t> stride = {3, 1};
};

// _rebuild_tensor_v2(('storage', torch.<T>, key, 'cpu', numel), offset, size, stride, False, OrderedDict()).
inline Pickle& RebuildTensor(Pickle& p, const TensorSpec& t) {
  p.Global("torch._utils", "_rebuild_tensor_v2").Mark();
  p.Mark().Str("storage").Global("torch", t.storage_type).Str(t.key).Str("cpu").Int(t.numel).Op('t').Op('Q');
  p.Int(t.offset).Ints(t.size).Ints(t.stride).Bool(false).EmptyOrderedDict().Op('t').Op('R');
  return p;
}

// OrderedDict name -> tensor, as state_dict() pickles.
inline std::string StateDictPickle(const std::vector<TensorSpec>& tensors) {
  Pickle p;
  p.Global("collections", "OrderedDict").Op(')').Op('R').Mark();
  for (const TensorSpec& t : tensors) RebuildTensor(p.Str(t.name), t);
  p.Op('u').Stop();
  return p.s;
}

// archive/data.pkl + archive/data/<key> for each storage + archive/version.
inline std::string Checkpoint(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                              bool zip64 = false) {
  std::vector<std::pair<std::string, std::string>> files{{"archive/data.pkl", pickle}};
  for (const auto& [key, bytes] : storages) files.emplace_back("archive/data/" + key, bytes);
  files.emplace_back("archive/version", "3\n");
  return Zip(files, zip64);
}

}  // namespace winnow::testing
