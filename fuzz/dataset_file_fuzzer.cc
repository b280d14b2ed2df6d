// libFuzzer target: any bytes read as a dataset file give a Dataset or an error, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "data/dataset_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/fraudops-dataset-fuzz-" + std::to_string(getpid()) + ".fds";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  auto dataset = fraudops::ReadDatasetFile(path);
  (void)dataset;
  return 0;
}
