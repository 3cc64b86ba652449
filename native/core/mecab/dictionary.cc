#include "mecab/dictionary.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace winnow::mecab {
namespace {

constexpr uint32_t kMagic = 0xef718f77u;  // sys.dic's first field is this XOR the file size
constexpr uint32_t kVersion = 102;
constexpr size_t kCategoryNameSize = 32;
constexpr size_t kCharMapEntries = 0xFFFF;  // char.bin holds U+0000..U+FFFE

Status Invalid(const std::string& path, const std::string& what) {
  return Status(codes::kTokenizerInvalid, "MeCab dictionary file '" + path + "': " + what);
}

uint32_t ReadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A NUL-terminated name inside a fixed-size field, or nullopt-like empty flag when it has no NUL.
bool FixedString(const uint8_t* p, size_t size, std::string* out) {
  const void* nul = std::memchr(p, 0, size);
  if (nul == nullptr) return false;
  out->assign(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
  return true;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string Join(const std::string& dir, const char* name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace

StatusOr<LexiconFile> LexiconFile::Open(const std::string& path, int expected_type) {
  LexiconFile f;
  WINNOW_ASSIGN_OR_RETURN(f.file_, MappedFile::Open(path));
  const uint8_t* data = f.file_.data();
  const uint64_t size = f.file_.size();
  if (size < kHeaderSize) {
    return Invalid(path, "has " + std::to_string(size) + " bytes, less than the " + std::to_string(kHeaderSize) +
                             "-byte header");
  }
  if (size > UINT32_MAX || (ReadU32(data) ^ kMagic) != size) {
    return Invalid(path, "bad magic number or wrong size (the file is truncated, padded or not a MeCab dictionary)");
  }
  const uint32_t version = ReadU32(data + 4);
  if (version != kVersion) {
    return Invalid(path, "version " + std::to_string(version) + ", expected " + std::to_string(kVersion));
  }
  f.type_ = ReadU32(data + 8);
  if (expected_type >= 0 && f.type_ != static_cast<uint32_t>(expected_type)) {
    return Invalid(path, "dictionary type " + std::to_string(f.type_) + ", expected " + std::to_string(expected_type) +
                             (expected_type == 0 ? " (a system dictionary)" : " (an unknown-word dictionary)"));
  }
  f.lexsize_ = ReadU32(data + 12);
  f.lsize_ = ReadU32(data + 16);
  f.rsize_ = ReadU32(data + 20);
  const uint64_t dsize = ReadU32(data + 24);
  const uint64_t tsize = ReadU32(data + 28);
  const uint64_t fsize = ReadU32(data + 32);
  if (!FixedString(data + 40, 32, &f.charset_)) return Invalid(path, "the charset name is not NUL-terminated");
  const std::string cs = Lower(f.charset_);
  if (cs != "utf-8" && cs != "utf8" && cs != "utf_8") {
    return Status(codes::kTokenizerUnsupported, "MeCab dictionary file '" + path + "' is in charset '" + f.charset_ +
                                                    "'; only UTF-8 dictionaries are supported");
  }
  if (kHeaderSize + dsize + tsize + fsize != size) {
    return Invalid(path, "section sizes (double array " + std::to_string(dsize) + ", tokens " + std::to_string(tsize) +
                             ", features " + std::to_string(fsize) + ") do not add up to the file size " +
                             std::to_string(size));
  }
  if (dsize == 0 || dsize % kUnitSize != 0) {
    return Invalid(path, "double-array size " + std::to_string(dsize) + " is not a positive multiple of 8");
  }
  if (tsize % kTokenSize != 0) {
    return Invalid(path, "token section size " + std::to_string(tsize) + " is not a multiple of 16");
  }
  f.units_ = data + kHeaderSize;
  f.num_units_ = static_cast<uint32_t>(dsize / kUnitSize);
  f.tokens_ = f.units_ + dsize;
  f.num_tokens_ = tsize / kTokenSize;
  f.features_ = reinterpret_cast<const char*>(f.tokens_ + tsize);
  f.fsize_ = fsize;
  if (fsize > 0 && f.features_[fsize - 1] != '\0') return Invalid(path, "the feature block does not end with a NUL");

  for (size_t i = 0; i < f.num_tokens_; ++i) {
    const Token t = f.token(i);
    if (t.feature >= fsize) {
      return Invalid(path, "token " + std::to_string(i) + " has feature offset " + std::to_string(t.feature) +
                               " past the " + std::to_string(fsize) + "-byte feature block");
    }
  }
  // Every leaf (a unit that is its own check with a negative base) must name tokens inside the token table.
  for (uint32_t i = 0; i < f.num_units_; ++i) {
    const int32_t b = f.base(i);
    if (b >= 0 || f.check(i) != i) continue;
    const uint32_t value = static_cast<uint32_t>(~b);
    const uint64_t first = value >> 8, count = value & 0xFF;
    if (first + count > f.num_tokens_) {
      return Invalid(path, "double-array entry " + std::to_string(i) + " points at tokens " + std::to_string(first) +
                               ".." + std::to_string(first + count) + " past the " + std::to_string(f.num_tokens_) +
                               " tokens");
    }
  }
  return f;
}

Status LexiconFile::CheckContextIds(uint32_t lsize, uint32_t rsize) const {
  for (size_t i = 0; i < num_tokens_; ++i) {
    const Token t = token(i);
    if (t.left_id >= rsize || t.right_id >= lsize) {
      return Invalid(path(), "token " + std::to_string(i) + " has context ids (" + std::to_string(t.left_id) + ", " +
                                 std::to_string(t.right_id) + ") outside the " + std::to_string(lsize) + "x" +
                                 std::to_string(rsize) + " connection matrix");
    }
  }
  return Status::Ok();
}

int32_t LexiconFile::ExactMatch(std::string_view key) const {
  uint32_t b = static_cast<uint32_t>(base(0));
  for (unsigned char c : key) {
    const uint32_t p = b + c + 1;
    if (p >= num_units_ || check(p) != b) return -1;
    b = static_cast<uint32_t>(base(p));
  }
  if (b >= num_units_ || check(b) != b) return -1;
  const int32_t n = base(b);
  return n < 0 ? ~n : -1;
}

StatusOr<std::shared_ptr<const Dictionary>> Dictionary::Open(const std::string& dir) {
  auto d = std::make_shared<Dictionary>();

  // matrix.bin: uint16 lsize, uint16 rsize, then int16 costs [rsize][lsize].
  const std::string matrix_path = Join(dir, "matrix.bin");
  WINNOW_ASSIGN_OR_RETURN(d->matrix_file_, MappedFile::Open(matrix_path));
  {
    const uint8_t* p = d->matrix_file_.data();
    const uint64_t size = d->matrix_file_.size();
    if (size < 4) return Invalid(matrix_path, "has " + std::to_string(size) + " bytes, less than its 4-byte header");
    uint16_t l, r;
    std::memcpy(&l, p, 2);
    std::memcpy(&r, p + 2, 2);
    d->lsize_ = l;
    d->rsize_ = r;
    // Context id 0 (BOS / EOS) must have a cell: an empty matrix connects nothing.
    if (l == 0 || r == 0) {
      return Invalid(matrix_path, "is an empty " + std::to_string(l) + "x" + std::to_string(r) + " matrix");
    }
    const uint64_t expected = 4 + uint64_t{l} * r * 2;
    if (size != expected) {
      return Invalid(matrix_path, "a " + std::to_string(l) + "x" + std::to_string(r) + " matrix needs " +
                                      std::to_string(expected) + " bytes, the file has " + std::to_string(size));
    }
    d->matrix_ = p + 4;
  }

  WINNOW_ASSIGN_OR_RETURN(d->sys_, LexiconFile::Open(Join(dir, "sys.dic"), 0));
  if (d->sys_.lsize() != d->lsize_ || d->sys_.rsize() != d->rsize_) {
    return Invalid(d->sys_.path(), "context sizes " + std::to_string(d->sys_.lsize()) + "x" +
                                       std::to_string(d->sys_.rsize()) + " differ from matrix.bin's " +
                                       std::to_string(d->lsize_) + "x" + std::to_string(d->rsize_));
  }
  WINNOW_RETURN_IF_ERROR(d->sys_.CheckContextIds(d->lsize_, d->rsize_));
  WINNOW_ASSIGN_OR_RETURN(d->unk_, LexiconFile::Open(Join(dir, "unk.dic"), -1));
  WINNOW_RETURN_IF_ERROR(d->unk_.CheckContextIds(d->lsize_, d->rsize_));

  // char.bin: uint32 category count, 32-byte names, then one uint32 CharInfo per code point U+0000..U+FFFE.
  const std::string char_path = Join(dir, "char.bin");
  {
    WINNOW_ASSIGN_OR_RETURN(MappedFile cf, MappedFile::Open(char_path));
    const uint64_t size = cf.size();
    if (size < 4) return Invalid(char_path, "has " + std::to_string(size) + " bytes, less than its 4-byte header");
    const uint64_t count = ReadU32(cf.data());
    const uint64_t expected = 4 + kCategoryNameSize * count + 4 * kCharMapEntries;
    if (size != expected) {
      return Invalid(char_path, std::to_string(count) + " categories need " + std::to_string(expected) +
                                    " bytes, the file has " + std::to_string(size));
    }
    for (uint64_t i = 0; i < count; ++i) {
      std::string name;
      if (!FixedString(cf.data() + 4 + kCategoryNameSize * i, kCategoryNameSize, &name)) {
        return Invalid(char_path, "category name " + std::to_string(i) + " is not NUL-terminated");
      }
      d->category_names_.push_back(std::move(name));
    }
    const uint8_t* map = cf.data() + 4 + kCategoryNameSize * count;
    d->char_map_.assign(0x10000, 0);
    std::memcpy(d->char_map_.data(), map, 4 * kCharMapEntries);
    for (size_t c = 0; c < kCharMapEntries; ++c) {
      const uint32_t category = (d->char_map_[c] >> 18) & 0xFF;  // CharInfo::default_type
      if (category >= count) {
        return Invalid(char_path, "code point " + std::to_string(c) + " has category " + std::to_string(category) +
                                      " of " + std::to_string(count));
      }
    }
  }
  for (const std::string& name : d->category_names_) {
    const int32_t value = d->unk_.ExactMatch(name);
    if (value < 0) return Invalid(d->unk_.path(), "has no entry for character category '" + name + "' of char.bin");
    d->unk_tokens_.emplace_back(static_cast<uint32_t>(value) >> 8, static_cast<uint32_t>(value) & 0xFF);
  }

  // dicrc: optional here (nothing in it changes the segmentation); "key = value" lines, ';' or '#' comments.
  const std::string rc_path = Join(dir, "dicrc");
  if (FileExists(rc_path)) {
    WINNOW_ASSIGN_OR_RETURN(MappedFile rc, MappedFile::Open(rc_path));
    const std::string_view text(reinterpret_cast<const char*>(rc.data()), rc.size());
    size_t line_no = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (line.empty() || line[0] == ';' || line[0] == '#') continue;
      const size_t eq = line.find('=');
      if (eq == std::string_view::npos) return Invalid(rc_path, "line " + std::to_string(line_no) + " has no '='");
      auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
      std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
      while (!key.empty() && space(key.back())) key.remove_suffix(1);
      while (!value.empty() && space(value.front())) value.remove_prefix(1);
      d->settings_.emplace(std::string(key), std::string(value));  // the first setting of a key wins, as in MeCab
    }
  }
  if (auto it = d->settings_.find("unk-feature"); it != d->settings_.end()) d->unknown_feature_ = it->second;
  return std::shared_ptr<const Dictionary>(std::move(d));
}

}  // namespace winnow::mecab
