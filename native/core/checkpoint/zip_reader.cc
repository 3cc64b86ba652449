#include "checkpoint/zip_reader.h"

#include <algorithm>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace winnow::checkpoint {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kSat32 = 0xffffffffu;
constexpr uint16_t kSat16 = 0xffff;

Status Invalid(const std::string& what) { return Status(codes::kCheckpointInvalid, "torch.save zip: " + what); }

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t Le64(const uint8_t* p) { return static_cast<uint64_t>(Le32(p)) | (static_cast<uint64_t>(Le32(p + 4)) << 32); }

// A name fit for an error message: printable ASCII, at most 80 characters.
std::string Printable(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && s.size() < 80; ++i) s.push_back(p[i] >= 0x20 && p[i] < 0x7f ? static_cast<char>(p[i]) : '?');
  if (n > 80) s += "...";
  return s;
}

struct Directory {
  uint64_t entries = 0;
  uint64_t offset = 0;   // of the central directory
  uint64_t size = 0;     // of the central directory
  uint64_t records = 0;  // where the end records begin (nothing of the directory may lie past it)
};

// The end of central directory record (and its zip64 form where a locator precedes it).
StatusOr<Directory> FindDirectory(const uint8_t* data, size_t size) {
  if (size < kEndSize) return Invalid("file of " + std::to_string(size) + " bytes has no end of central directory");
  const size_t lowest = size - kEndSize > 0xffff ? size - kEndSize - 0xffff : 0;
  size_t end = size;  // not found
  for (size_t p = size - kEndSize + 1; p-- > lowest;) {
    if (Le32(data + p) == kEndSig && p + kEndSize + Le16(data + p + 20) == size) {
      end = p;
      break;
    }
  }
  if (end == size) return Invalid("no end of central directory record (not a zip archive, or truncated)");
  const uint8_t* e = data + end;
  const uint16_t disk = Le16(e + 4), cd_disk = Le16(e + 6), disk_entries = Le16(e + 8), entries = Le16(e + 10);
  const uint32_t cd_size = Le32(e + 12), cd_offset = Le32(e + 16);
  Directory dir{entries, cd_offset, cd_size, end};
  const bool has_locator = end >= kZip64LocatorSize && Le32(e - kZip64LocatorSize) == kZip64LocatorSig;
  if (!has_locator) {
    if (entries == kSat16 || cd_size == kSat32 || cd_offset == kSat32) {
      return Invalid("end of central directory defers to a zip64 record that is missing");
    }
    if (disk != 0 || cd_disk != 0 || disk_entries != entries) return Invalid("multi-disk archives are not supported");
    return dir;
  }
  const uint8_t* loc = e - kZip64LocatorSize;
  const uint64_t z_offset = Le64(loc + 8);
  const uint32_t total_disks = Le32(loc + 16);
  const uint64_t locator_at = end - kZip64LocatorSize;
  if (Le32(loc + 4) != 0 || total_disks > 1) return Invalid("multi-disk archives are not supported");
  if (z_offset > locator_at || locator_at - z_offset < kZip64EndSize) {
    return Invalid("zip64 end of central directory offset " + std::to_string(z_offset) + " lies outside the file");
  }
  const uint8_t* z = data + z_offset;
  if (Le32(z) != kZip64EndSig) return Invalid("no zip64 end of central directory record where the locator points");
  const uint64_t record_size = Le64(z + 4);
  if (record_size < kZip64EndSize - 12 || record_size > locator_at - z_offset - 12) {
    return Invalid("zip64 end of central directory record size " + std::to_string(record_size) + " is out of range");
  }
  const uint32_t z_disk = Le32(z + 16), z_cd_disk = Le32(z + 20);
  const uint64_t z_disk_entries = Le64(z + 24), z_entries = Le64(z + 32), z_cd_size = Le64(z + 40),
                 z_cd_offset = Le64(z + 48);
  if (z_disk != 0 || z_cd_disk != 0 || z_disk_entries != z_entries) {
    return Invalid("multi-disk archives are not supported");
  }
  // Fields the 32-bit record does not defer to the zip64 one must agree with it.
  if ((entries != kSat16 && entries != z_entries) || (cd_size != kSat32 && cd_size != z_cd_size) ||
      (cd_offset != kSat32 && cd_offset != z_cd_offset)) {
    return Invalid("zip64 end of central directory record disagrees with the end of central directory record");
  }
  return Directory{z_entries, z_cd_offset, z_cd_size, z_offset};
}

// Reads the fields a zip64 extra field (id 1) holds for the saturated values, in the order the format sets.
Status ReadZip64Extra(const uint8_t* extra, size_t n, const std::string& name, uint64_t* usize, uint64_t* csize,
                      uint64_t* local_offset, bool disk_saturated) {
  const bool need[3] = {*usize == kSat32, *csize == kSat32, *local_offset == kSat32};
  uint64_t* fields[3] = {usize, csize, local_offset};
  bool seen = false;
  size_t p = 0;
  while (p + 4 <= n) {
    const uint16_t id = Le16(extra + p), len = Le16(extra + p + 2);
    if (len > n - p - 4) return Invalid("entry '" + name + "' has an extra field past its end");
    if (id == kZip64ExtraId) {
      if (seen) return Invalid("entry '" + name + "' has two zip64 extra fields");
      seen = true;
      size_t q = p + 4;
      const size_t field_end = q + len;
      for (int i = 0; i < 3; ++i) {
        if (!need[i]) continue;
        if (field_end - q < 8) return Invalid("entry '" + name + "' has a short zip64 extra field");
        *fields[i] = Le64(extra + q);
        q += 8;
      }
      if (disk_saturated) {
        if (field_end - q < 4) return Invalid("entry '" + name + "' has a short zip64 extra field");
        if (Le32(extra + q) != 0) return Invalid("entry '" + name + "' lies on another disk");
      }
    }
    p += 4 + static_cast<size_t>(len);
  }
  if (p != n) return Invalid("entry '" + name + "' has a truncated extra field");
  if (!seen && (need[0] || need[1] || need[2] || disk_saturated)) {
    return Invalid("entry '" + name + "' defers to a zip64 extra field that is missing");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<ZipEntry>> ReadStoredZip(const uint8_t* data, size_t size) {
  WINNOW_ASSIGN_OR_RETURN(const Directory dir, FindDirectory(data, size));
  if (dir.offset > dir.records || dir.size > dir.records - dir.offset) {
    return Invalid("central directory [" + std::to_string(dir.offset) + ", +" + std::to_string(dir.size) +
                   ") lies outside the file");
  }
  if (dir.entries > kMaxZipEntries) {
    return Invalid(std::to_string(dir.entries) + " entries (at most " + std::to_string(kMaxZipEntries) + ")");
  }
  if (dir.entries > dir.size / kCentralHeaderSize) {
    return Invalid(std::to_string(dir.entries) + " entries do not fit a central directory of " +
                   std::to_string(dir.size) + " bytes");
  }
  std::vector<ZipEntry> entries;
  entries.reserve(dir.entries);
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // [local header, end of data) of each entry
  std::unordered_set<std::string> names;
  const uint64_t cd_end = dir.offset + dir.size;
  uint64_t p = dir.offset;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    const std::string at = "central directory entry " + std::to_string(i);
    if (cd_end - p < kCentralHeaderSize) return Invalid(at + " runs past the central directory");
    const uint8_t* c = data + p;
    if (Le32(c) != kCentralHeaderSig) return Invalid(at + " has no central header signature");
    const uint16_t flags = Le16(c + 8), method = Le16(c + 10), name_len = Le16(c + 28), extra_len = Le16(c + 30),
                   comment_len = Le16(c + 32), disk = Le16(c + 34);
    uint64_t csize = Le32(c + 20), usize = Le32(c + 24), local = Le32(c + 42);
    const uint64_t record = kCentralHeaderSize + uint64_t{name_len} + extra_len + comment_len;
    if (cd_end - p < record) return Invalid(at + " runs past the central directory");
    const std::string name(reinterpret_cast<const char*>(c + kCentralHeaderSize), name_len);
    const std::string shown = Printable(c + kCentralHeaderSize, name_len);
    if (name.empty() || name.find('\0') != std::string::npos) return Invalid(at + " has an empty or NUL-holding name");
    if (!names.insert(name).second) return Invalid("entry '" + shown + "' is listed twice");
    if (flags & 1) return Invalid("entry '" + shown + "' is encrypted");
    if (method != 0) {
      return Invalid("entry '" + shown + "' is compressed (method " + std::to_string(method) +
                     "); torch.save stores entries uncompressed: re-save the file with torch.save");
    }
    if (disk != 0 && disk != kSat16) return Invalid("entry '" + shown + "' lies on another disk");
    WINNOW_RETURN_IF_ERROR(ReadZip64Extra(c + kCentralHeaderSize + name_len, extra_len, shown, &usize, &csize, &local,
                                          disk == kSat16));
    if (csize != usize) return Invalid("entry '" + shown + "' is stored with compressed size != size");
    // The local header, then the data, all before the central directory.
    if (local > dir.offset || dir.offset - local < kLocalHeaderSize) {
      return Invalid("entry '" + shown + "' local header offset " + std::to_string(local) + " lies outside the data");
    }
    const uint8_t* l = data + local;
    if (Le32(l) != kLocalHeaderSig) return Invalid("entry '" + shown + "' has no local header signature");
    const uint16_t l_flags = Le16(l + 6), l_method = Le16(l + 8), l_name_len = Le16(l + 26), l_extra_len = Le16(l + 28);
    const uint32_t l_csize = Le32(l + 18), l_usize = Le32(l + 22);
    const uint64_t data_offset = local + kLocalHeaderSize + l_name_len + l_extra_len;
    if (data_offset > dir.offset) return Invalid("entry '" + shown + "' local header runs past the data");
    if (l_method != 0 || (l_flags & 1)) return Invalid("entry '" + shown + "' local header disagrees (method, flags)");
    if (l_name_len != name_len || std::char_traits<char>::compare(reinterpret_cast<const char*>(l + kLocalHeaderSize),
                                                                   name.data(), name_len) != 0) {
      return Invalid("entry '" + shown + "' local header names another file");
    }
    if (!(l_flags & 8) && ((l_csize != kSat32 && l_csize != csize) || (l_usize != kSat32 && l_usize != usize))) {
      return Invalid("entry '" + shown + "' local header sizes disagree with the central directory");
    }
    if (usize > dir.offset - data_offset) {
      return Invalid("entry '" + shown + "' data [" + std::to_string(data_offset) + ", +" + std::to_string(usize) +
                     ") runs past the data");
    }
    spans.emplace_back(local, data_offset + usize);
    entries.push_back(ZipEntry{name, data_offset, usize});
    p += record;
  }
  if (p != cd_end) return Invalid("central directory holds bytes after its last entry");
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) return Invalid("entries overlap at offset " + std::to_string(spans[i].first));
  }
  return entries;
}

}  // namespace winnow::checkpoint
