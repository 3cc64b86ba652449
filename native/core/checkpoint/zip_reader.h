// Reader of the central directory of a zip archive whose entries are stored (method 0), as torch.save writes them:
// no decompression, only the location of each entry's bytes in the file. Zip64 records are read (files over 4 GiB).
// Every offset and size is checked against the file; entries may not overlap each other or the central directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace winnow::checkpoint {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // first byte of the entry's (stored) data in the file
  uint64_t size = 0;         // its length; data_offset + size <= the file's size
};

// The most entries an archive may list (a state dict holds one per storage, plus a few records).
inline constexpr uint64_t kMaxZipEntries = 1u << 20;

// Entries of the zip `data` [size] in central-directory order. Errors: codes::kCheckpointInvalid naming the record.
StatusOr<std::vector<ZipEntry>> ReadStoredZip(const uint8_t* data, size_t size);

}  // namespace winnow::checkpoint
