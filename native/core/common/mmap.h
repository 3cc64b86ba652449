// Read-only memory-mapped file. RAII and move-only; the mapping's address never changes while the
// object (or whatever it was moved into) lives, so pointers into it survive moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace winnow {

class MappedFile {
 public:
  // codes::kIo with the path and strerror(errno) when the file cannot be opened, stat'ed or
  // mapped, or is not a regular file. An empty file maps to data() == nullptr, size() == 0.
  static StatusOr<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // [size()]
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Whether `path` is still the file this maps (same device and inode as when it was opened).
  bool IsFile(const std::string& path) const;
  // Drops the pages this process has read from its page tables (madvise MADV_DONTNEED; best effort): the file's
  // contents stay where they are and the next read faults them in again from the page cache, so pointers into the
  // mapping keep reading the same bytes. For a mapping read once at load (weights copied or packed elsewhere).
  void DropResidentPages() const;

 private:
  void Reset();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  uint64_t dev_ = 0, ino_ = 0;
};

}  // namespace winnow
