#include "checkpoint/torch_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/zip_reader.h"
#include "loaders/safetensors.h"
#include "torch_checkpoint_builder.h"

namespace winnow::checkpoint {
namespace {

using winnow::testing::Checkpoint;
using winnow::testing::Pickle;
using winnow::testing::RebuildTensor;
using winnow::testing::StateDictPickle;
using winnow::testing::TensorSpec;
using winnow::testing::Zip;

const std::string kData = std::string(WINNOW_SOURCE_DIR) + "/native/tests/data/torch/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << path;
  return ss.str();
}

// Reads from a heap copy of exactly `bytes.size()` bytes, so ASan sees any read past the end.
StatusOr<std::vector<StoredTensor>> Read(const std::string& bytes) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size() + (bytes.empty() ? 1 : 0)]);
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  return ReadTorchStateDict(copy.get(), bytes.size());
}

void ExpectInvalid(const std::string& bytes, const std::string& fragment) {
  auto r = Read(bytes);
  ASSERT_FALSE(r.ok()) << "accepted; expected an error with '" << fragment << "'";
  EXPECT_EQ(r.status().code(), codes::kCheckpointInvalid) << r.status().ToString();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos)
      << "message '" << r.status().message() << "' lacks '" << fragment << "'";
}

// The .bin's tensors equal the .safetensors' (written by the fixture script from the same state dict): same names in
// the same order, dtypes, shapes and bytes.
std::vector<StoredTensor> ExpectSameAs(const std::string& bin, const std::string& safetensors) {
  const std::string bytes = ReadFile(bin);
  auto r = ReadTorchStateDict(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  auto st = SafeTensors::Open(safetensors);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  if (!st.ok()) return {};
  const std::vector<TensorView>& want = st->tensors();
  EXPECT_EQ(r->size(), want.size());
  for (size_t i = 0; i < std::min(r->size(), want.size()); ++i) {
    const StoredTensor& got = (*r)[i];
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(got.name, want[i].name);
    EXPECT_EQ(DTypeName(got.dtype), std::string(DTypeName(want[i].dtype)));
    EXPECT_EQ(got.shape, want[i].shape);
    EXPECT_EQ(got.nbytes, want[i].nbytes);
    EXPECT_LE(got.offset + got.nbytes, bytes.size());
    if (got.nbytes != want[i].nbytes || got.offset + got.nbytes > bytes.size()) continue;
    EXPECT_EQ(std::memcmp(bytes.data() + got.offset, want[i].data, got.nbytes), 0) << "bytes differ";
  }
  return std::move(r).value();
}

const StoredTensor* Find(const std::vector<StoredTensor>& ts, const std::string& name) {
  for (const StoredTensor& t : ts) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// ---- files torch.save wrote (scripts/fixtures/make_torch_checkpoints.py) ----

TEST(TorchCheckpoint, EveryStorageTypeMatchesItsSafetensors) {
  auto ts = ExpectSameAs(kData + "dtypes.bin", kData + "dtypes.safetensors");
  ASSERT_EQ(ts.size(), 10u);
  const DType want[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kF64, DType::kI64,
                        DType::kI32, DType::kI16, DType::kI8,   DType::kU8,  DType::kBool};
  for (size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(ts[i].dtype, want[i]) << ts[i].name;
}

TEST(TorchCheckpoint, TiedWeightsViewsScalarsAndParameters) {
  auto ts = ExpectSameAs(kData + "views.bin", kData + "views.safetensors");
  const StoredTensor* emb = Find(ts, "emb.weight");
  const StoredTensor* head = Find(ts, "head.weight");
  const StoredTensor* slice = Find(ts, "slice");
  const StoredTensor* row = Find(ts, "row");
  const StoredTensor* scalar = Find(ts, "scalar");
  const StoredTensor* empty = Find(ts, "empty");
  const StoredTensor* param = Find(ts, "param");
  ASSERT_TRUE(emb && head && slice && row && scalar && empty && param);
  EXPECT_EQ(emb->offset, head->offset);  // one storage, two names
  EXPECT_EQ(row->offset, slice->offset + 5 * 4);  // big[5:11] and big.view(4, 5)[2] (elements 5 and 10) share `big`
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->nbytes, 4u);
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(empty->nbytes, 0u);
  EXPECT_EQ(param->shape, (std::vector<int64_t>{3, 2}));
}

TEST(TorchCheckpoint, FuzzSeedStorages) {
  auto ts = ExpectSameAs(kData + "fuzz_seed.bin", kData + "fuzz_seed.safetensors");
  EXPECT_EQ(ts.size(), 6u);
}

TEST(TorchCheckpoint, BertModelStateDict) {
  auto ts = ExpectSameAs(kData + "bert/pytorch_model.bin", kData + "bert/model.safetensors");
  const StoredTensor* q = Find(ts, "encoder.layer.0.attention.self.query.weight");
  const StoredTensor* ids = Find(ts, "embeddings.position_ids");
  ASSERT_TRUE(q && ids);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(ids->dtype, DType::kI64);
  EXPECT_EQ(ids->shape, (std::vector<int64_t>{1, 16}));
  EXPECT_NE(Find(ts, "pooler.dense.bias"), nullptr);
}

TEST(TorchCheckpoint, ArchiveFolderByteorderAndAnotherZipWriter) {
  ExpectSameAs(kData + "newer.bin", kData + "newer.safetensors");
}

TEST(TorchCheckpoint, RefusesWhatTorchOrPythonCanWriteButIsNotAStateDictWeRead) {
  ExpectInvalid(ReadFile(kData + "big_endian.bin"), "byteorder is 'big'");
  ExpectInvalid(ReadFile(kData + "deflated.bin"), "compressed (method 8)");
  ExpectInvalid(ReadFile(kData + "two_folders.bin"), "not in the folder 'archive/'");
  ExpectInvalid(ReadFile(kData + "legacy.bin"), "legacy torch.save format");
  ExpectInvalid(ReadFile(kData + "legacy.bin"), "re-save");
}

TEST(TorchCheckpoint, RefusesPicklesThatWouldRunCode) {
  ExpectInvalid(ReadFile(kData + "evil_system.bin"), "global 'posix.system' is not allowed");
  ExpectInvalid(ReadFile(kData + "evil_eval.bin"), "global '__builtin__.eval' is not allowed");
  Pickle os;
  os.Global("os", "system").Str("touch /tmp/pwned").Op('\x85').Op('R').Stop();
  ExpectInvalid(Checkpoint(os.s, {}), "global 'os.system' is not allowed");
  // Protocol 4 names globals from the stack.
  Pickle eval;
  eval.Str("builtins").Str("eval").Op('\x93').Str("1").Op('\x85').Op('R').Stop();
  ExpectInvalid(Checkpoint(eval.s, {}), "global 'builtins.eval' is not allowed");
  // Old-style instantiation opcodes are not interpreted at all.
  Pickle inst;
  inst.Mark().Raw("iposix\nsystem\n").Stop();
  ExpectInvalid(Checkpoint(inst.s, {}), "opcode 0x69 is not allowed");
}

// ---- hand-built files: a good one, and each hostile case one change away from it ----

std::string Floats(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const float f = static_cast<float>(i);
    s.append(reinterpret_cast<const char*>(&f), 4);
  }
  return s;
}

std::string One(const TensorSpec& t, const std::string& storage = Floats(6), bool zip64 = false) {
  return Checkpoint(StateDictPickle({t}), {{t.key, storage}}, zip64);
}

TEST(TorchCheckpoint, BuiltFilesAreRead) {
  for (bool zip64 : {false, true}) {
    TensorSpec t;
    t.offset = 2;
    t.size = {2, 2};
    t.stride = {2, 1};
    const std::string file = One(t, Floats(6), zip64);
    auto r = Read(file);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), 1u);
    const StoredTensor& w = (*r)[0];
    EXPECT_EQ(w.name, "w");
    EXPECT_EQ(w.dtype, DType::kF32);
    EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(w.nbytes, 16u);
    float first;
    std::memcpy(&first, file.data() + w.offset, 4);
    EXPECT_EQ(first, 2.0f);
  }
  // A dimension of size 1 may have any stride (torch calls that contiguous).
  TensorSpec t;
  t.size = {1, 6};
  t.stride = {99, 1};
  EXPECT_TRUE(Read(One(t)).ok());
}

TEST(TorchCheckpoint, RefusesReduceAndBuildOfAnythingElse) {
  Pickle storage_call;
  storage_call.Global("torch", "FloatStorage").Op(')').Op('R').Stop();
  ExpectInvalid(Checkpoint(storage_call.s, {}), "REDUCE of torch.FloatStorage (not an allowed callable)");
  Pickle str_call;
  str_call.Str("x").Op(')').Op('R').Stop();
  ExpectInvalid(Checkpoint(str_call.s, {}), "REDUCE of a str");
  Pickle build_global;
  build_global.Global("torch._utils", "_rebuild_tensor_v2").Op('}').Op('b').Stop();
  ExpectInvalid(Checkpoint(build_global.s, {}), "BUILD of a torch._utils._rebuild_tensor_v2");
  Pickle build_tensor;
  RebuildTensor(build_tensor, TensorSpec{}).Op('}').Op('b').Stop();
  ExpectInvalid(Checkpoint(build_tensor.s, {{"0", Floats(6)}}), "BUILD of a tensor");
  Pickle ordered_args;
  ordered_args.Global("collections", "OrderedDict").Op(']').Op('\x85').Op('R').Stop();
  ExpectInvalid(Checkpoint(ordered_args.s, {}), "opcode 0x5d");
  Pickle ordered_args2;
  ordered_args2.Global("collections", "OrderedDict").Int(1).Op('\x85').Op('R').Stop();
  ExpectInvalid(Checkpoint(ordered_args2.s, {}), "collections.OrderedDict called with arguments");
  // Backward hooks hold callables.
  Pickle hooks;
  hooks.Op('}').Str("w").Global("torch._utils", "_rebuild_tensor_v2").Mark();
  hooks.Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(6).Op('t').Op('Q');
  hooks.Int(0).Ints({6}).Ints({1}).Bool(false).EmptyOrderedDict().Str("k").Int(1).Op('s').Op('t').Op('R');
  hooks.Op('s').Stop();
  ExpectInvalid(Checkpoint(hooks.s, {{"0", Floats(6)}}), "_rebuild_tensor_v2 with backward hooks");
}

TEST(TorchCheckpoint, RefusesTensorsOutsideTheirStorage) {
  TensorSpec past;
  past.offset = 4;
  past.size = {3};
  past.stride = {1};
  ExpectInvalid(One(past), "lies outside its storage of 6 elements");
  TensorSpec far;
  far.offset = 7;
  far.size = {0};
  far.stride = {1};
  ExpectInvalid(One(far), "lies outside its storage");
  TensorSpec big;
  big.size = {7};
  big.stride = {1};
  ExpectInvalid(One(big), "lies outside its storage");
  TensorSpec huge;
  huge.size = {int64_t{1} << 31, int64_t{1} << 31, int64_t{1} << 31};
  huge.stride = {int64_t{1} << 62, int64_t{1} << 31, 1};
  ExpectInvalid(One(huge), "more than 2^62 elements");
  TensorSpec wrap;  // size * stride products that would wrap a 64-bit count
  wrap.size = {int64_t{1} << 62};
  wrap.stride = {1};
  wrap.offset = int64_t{1} << 62;
  ExpectInvalid(One(wrap), "lies outside its storage");
  TensorSpec offset_max;
  offset_max.offset = INT64_MAX;
  offset_max.size = {1};
  offset_max.stride = {1};
  ExpectInvalid(One(offset_max), "lies outside its storage");
}

TEST(TorchCheckpoint, RefusesStoragesThatDoNotFillTheirEntry) {
  TensorSpec declared;
  declared.numel = int64_t{1} << 62;
  ExpectInvalid(One(declared), "does not fill its entry of 24 bytes");
  TensorSpec negative;
  negative.numel = -1;
  ExpectInvalid(One(negative), "does not fill its entry");
  TensorSpec half;
  half.storage_type = "HalfStorage";  // 6 halves are 12 bytes, the entry holds 24
  ExpectInvalid(One(half), "6 x F16 does not fill its entry of 24 bytes");
  TensorSpec missing;
  missing.key = "7";
  ExpectInvalid(Checkpoint(StateDictPickle({missing}), {{"0", Floats(6)}}), "storage '7' has no data/7 entry");
  TensorSpec a, b;
  b.name = "b";
  b.storage_type = "IntStorage";
  ExpectInvalid(Checkpoint(StateDictPickle({a, b}), {{"0", Floats(6)}}), "storage '0' is read as two types");
  TensorSpec untyped;
  untyped.storage_type = "UntypedStorage";
  ExpectInvalid(One(untyped), "global 'torch.UntypedStorage' is not allowed");
}

TEST(TorchCheckpoint, RefusesNegativeOrMismatchedSizesAndStrides) {
  TensorSpec neg_size;
  neg_size.size = {-2, 3};
  ExpectInvalid(One(neg_size), "not a non-negative int (dimension 0)");
  TensorSpec neg_stride;
  neg_stride.stride = {3, -1};
  ExpectInvalid(One(neg_stride), "not a non-negative int (dimension 1)");
  TensorSpec ranks;
  ranks.stride = {1};
  ExpectInvalid(One(ranks), "2 sizes and 1 strides");
}

TEST(TorchCheckpoint, RefusesNonContiguousTensors) {
  TensorSpec transposed;
  transposed.size = {3, 2};
  transposed.stride = {1, 3};
  ExpectInvalid(One(transposed), "non-contiguous tensor");
  TensorSpec expanded;
  expanded.size = {2, 3};
  expanded.stride = {0, 1};
  ExpectInvalid(One(expanded), "non-contiguous tensor (stride 0 in dimension 0");
  TensorSpec gaps;
  gaps.numel = 12;
  gaps.size = {2, 3};
  gaps.stride = {6, 1};
  ExpectInvalid(One(gaps, Floats(12)), "non-contiguous tensor");
}

TEST(TorchCheckpoint, RefusesWhatIsNotADictOfTensors) {
  Pickle number;
  number.Op('}').Str("w").Int(1).Op('s').Stop();
  ExpectInvalid(Checkpoint(number.s, {}), "state dict value 'w' is a int, not a tensor");
  Pickle nested;
  nested.Op('}').Str("model").Op('}').Op('s').Stop();
  ExpectInvalid(Checkpoint(nested.s, {}), "state dict value 'model' is a dict");
  TensorSpec a, b;
  b.name = "w";
  ExpectInvalid(Checkpoint(StateDictPickle({a, b}), {{"0", Floats(6)}}), "names 'w' twice");
  Pickle tuple;
  tuple.Op(')').Stop();
  ExpectInvalid(Checkpoint(tuple.s, {}), "the pickle holds a tuple, not a state dict");
  Pickle trailing;
  trailing.Op('}').Stop().Op('N');
  ExpectInvalid(Checkpoint(trailing.s, {}), "bytes after STOP");
  Pickle unfinished;
  unfinished.Op('}');
  ExpectInvalid(Checkpoint(unfinished.s, {}), "no STOP");
  ExpectInvalid(Zip({{"archive/version", "3\n"}}), "no archive/data.pkl entry");
}

TEST(TorchCheckpoint, RefusesDeepNestingAndBadMemoIndices) {
  Pickle marks;
  for (int i = 0; i < 65; ++i) marks.Mark();
  ExpectInvalid(Checkpoint(marks.s, {}), "MARKs nested deeper than 64");
  // Tuples nested 100,000 deep are objects like any other (nothing recurses), then not a state dict.
  Pickle tuples;
  tuples.Op(')');
  for (int i = 0; i < 100000; ++i) tuples.Op('\x85');
  tuples.Stop();
  ExpectInvalid(Checkpoint(tuples.s, {}), "not a state dict");
  Pickle get;
  get.Op('}').Op('j').Raw(std::string("\xff\xff\xff\xff", 4)).Stop();
  ExpectInvalid(Checkpoint(get.s, {}), "memo index 4294967295 was never stored");
  Pickle get_small;
  get_small.Op('}').Op('h').Raw(std::string(1, '\0')).Stop();
  ExpectInvalid(Checkpoint(get_small.s, {}), "memo index 0 was never stored");
  Pickle put;
  put.Op('}').Op('r').Raw(std::string("\xff\xff\xff\xff", 4)).Stop();
  ExpectInvalid(Checkpoint(put.s, {}), "memo index 4294967295 out of range");
  // A cycle through the memo (a dict holding itself) is refused as a value, and frees cleanly.
  Pickle cycle;
  cycle.Op('}').Op('q').Raw(std::string(1, '\0')).Str("self").Op('h').Raw(std::string(1, '\0')).Op('s').Stop();
  ExpectInvalid(Checkpoint(cycle.s, {}), "state dict value 'self' is a dict");
  Pickle underflow;
  underflow.Mark().Op('R');
  ExpectInvalid(Checkpoint(underflow.s, {}), "REDUCE on an empty stack");
  Pickle long1;
  long1.Op('\x8a').Raw(std::string(1, '\x09')).Raw(std::string(9, '\x01')).Stop();
  ExpectInvalid(Checkpoint(long1.s, {}), "LONG1 integer of 9 bytes");
  Pickle binunicode;
  binunicode.Op('X').Raw(std::string("\xff\xff\xff\x7f", 4)).Raw("abc");
  ExpectInvalid(Checkpoint(binunicode.s, {}), "truncated string");
}

// Every prefix of a real file, and of a zip64 one, fails with the code and reads nothing past its end.
TEST(TorchCheckpoint, EveryTruncationIsAnError) {
  TensorSpec t;
  for (const std::string& file : {ReadFile(kData + "views.bin"), ReadFile(kData + "newer.bin"), One(t, Floats(6), true)}) {
    ASSERT_TRUE(Read(file).ok());
    for (size_t n = 0; n < file.size(); ++n) {
      auto r = Read(file.substr(0, n));
      ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes accepted";
      ASSERT_EQ(r.status().code(), codes::kCheckpointInvalid) << r.status().ToString();
    }
  }
}

// Offsets in the 22-byte end of central directory record (no comment).
constexpr size_t kEocdEntries = 10, kEocdCdSize = 12, kEocdCdOffset = 16;

void Poke(std::string& s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

TEST(TorchCheckpoint, RefusesZipRecordsPointingOutside) {
  const std::string good = One(TensorSpec{});
  const size_t eocd = good.size() - 22;
  std::string s = good;
  Poke(s, eocd + kEocdCdOffset, good.size() + 100, 4);
  ExpectInvalid(s, "central directory [");
  s = good;
  Poke(s, eocd + kEocdCdSize, 0xfffffff0u, 4);
  ExpectInvalid(s, "lies outside the file");
  s = good;
  Poke(s, eocd + kEocdEntries, 0xfff0, 2);
  Poke(s, eocd + kEocdEntries - 2, 0xfff0, 2);
  ExpectInvalid(s, "entries do not fit a central directory");
  s = good;
  Poke(s, eocd + kEocdEntries, 0xffff, 2);
  ExpectInvalid(s, "defers to a zip64 record that is missing");
  // A central entry whose local header offset lies past the data.
  const size_t cd = static_cast<uint8_t>(good[eocd + 16]) | (static_cast<uint8_t>(good[eocd + 17]) << 8);
  s = good;
  Poke(s, cd + 42, cd + 10, 4);
  ExpectInvalid(s, "local header offset");
  s = good;
  Poke(s, cd + 20, 1u << 30, 4);  // compressed size
  Poke(s, cd + 24, 1u << 30, 4);  // size
  Poke(s, 18, 1u << 30, 4);       // and the same in the local header (data.pkl's, at 0)
  Poke(s, 22, 1u << 30, 4);
  ExpectInvalid(s, "runs past the data");
  s = good;
  Poke(s, cd + 10, 8, 2);  // method: deflate
  ExpectInvalid(s, "compressed (method 8)");
  ExpectInvalid("PK\x05\x06", "no end of central directory");
  ExpectInvalid(std::string(100, '\0'), "no end of central directory");
  ExpectInvalid("", "no end of central directory");
}

TEST(TorchCheckpoint, RefusesOverlappingEntries) {
  // Entry "archive/data/0"'s data holds a whole local header + data for "archive/data/1", which the central directory
  // lists too: both would share bytes.
  const std::string inner = Zip({{"archive/data/1", Floats(6)}});
  const std::string inner_entry = inner.substr(0, 30 + 14 + 24);
  std::string file = Zip({{"archive/data.pkl", StateDictPickle({TensorSpec{}})}, {"archive/data/0", inner_entry}});
  // Append a central entry for data/1 at its offset inside data/0: rebuild the central directory by hand.
  const size_t eocd = file.size() - 22;
  const size_t cd = static_cast<uint8_t>(file[eocd + 16]) | (static_cast<uint8_t>(file[eocd + 17]) << 8);
  std::string central = file.substr(cd, eocd - cd);
  const size_t data0_local = file.find("PK\x03\x04", 1);
  std::string extra_entry = central.substr(central.rfind("PK\x01\x02"));
  extra_entry.resize(46);
  Poke(extra_entry, 20, 24, 4);
  Poke(extra_entry, 24, 24, 4);
  Poke(extra_entry, 28, 14, 2);
  Poke(extra_entry, 42, data0_local + 30 + 14, 4);
  extra_entry += "archive/data/1";
  central += extra_entry;
  std::string out = file.substr(0, cd) + central;
  std::string end = file.substr(eocd);
  Poke(end, 8, 3, 2);
  Poke(end, 10, 3, 2);
  Poke(end, 12, central.size(), 4);
  out += end;
  ExpectInvalid(out, "entries overlap");
}

TEST(TorchCheckpoint, RefusesZip64Lies) {
  const std::string good = One(TensorSpec{}, Floats(6), true);
  ASSERT_TRUE(Read(good).ok());
  const size_t eocd = good.size() - 22, locator = eocd - 20, z = locator - 56;
  std::string s = good;
  Poke(s, locator + 8, good.size() * 4, 8);  // zip64 record offset outside the file
  ExpectInvalid(s, "lies outside the file");
  s = good;
  Poke(s, z + 48, 0, 8);  // zip64 central directory offset moved
  ExpectInvalid(s, "no central header signature");
  s = good;
  Poke(s, z + 32, uint64_t{1} << 40, 8);  // entries
  Poke(s, z + 24, uint64_t{1} << 40, 8);
  ExpectInvalid(s, "entries (at most 1048576)");
  s = good;
  Poke(s, z + 40, ~uint64_t{0} - 5, 8);  // central directory size near 2^64: offset + size wraps
  ExpectInvalid(s, "lies outside the file");
  s = good;
  Poke(s, z + 4, ~uint64_t{0}, 8);  // record size
  ExpectInvalid(s, "record size");
  s = good;
  Poke(s, eocd + kEocdEntries, 2, 2);  // a 32-bit value that is not deferred must agree (3 entries)
  Poke(s, eocd + kEocdEntries - 2, 2, 2);
  ExpectInvalid(s, "disagrees with the end of central directory record");
  // A zip64 extra field whose local header offset points past the data, or which is missing.
  const uint64_t cd = static_cast<uint64_t>(static_cast<uint8_t>(good[z + 48])) |
                      (static_cast<uint64_t>(static_cast<uint8_t>(good[z + 49])) << 8);
  const size_t extra = cd + 46 + std::string("archive/data.pkl").size();
  s = good;
  Poke(s, extra + 4 + 16, uint64_t{1} << 60, 8);
  ExpectInvalid(s, "local header offset 1152921504606846976 lies outside the data");
  s = good;
  Poke(s, extra + 4 + 0, uint64_t{1} << 60, 8);  // size
  ExpectInvalid(s, "compressed size != size");
  s = good;
  Poke(s, extra, 0x9999, 2);  // no zip64 extra field now
  ExpectInvalid(s, "defers to a zip64 extra field that is missing");
  s = good;
  Poke(s, extra + 2, 0xff00, 2);  // extra field length past the extra area
  ExpectInvalid(s, "extra field past its end");
}

TEST(TorchCheckpoint, ReadsStoredZipEntries) {
  const std::string file = Zip({{"a/x", "hello"}, {"a/y", ""}});
  auto r = ReadStoredZip(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "a/x");
  EXPECT_EQ(file.substr((*r)[0].data_offset, (*r)[0].size), "hello");
  EXPECT_EQ((*r)[1].size, 0u);
  const std::string dup = Zip({{"a/x", "1"}, {"a/x", "2"}});
  auto d = ReadStoredZip(reinterpret_cast<const uint8_t*>(dup.data()), dup.size());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("listed twice"), std::string::npos);
}

}  // namespace
}  // namespace winnow::checkpoint
