// libFuzzer target: any config.yml (and .env) content gives a Config or an error, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    char name[] = "/tmp/fraudops-config-fuzz-XXXXXX";
    return std::string(mkdtemp(name));
  }();
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t split = text.find('\x01');  // bytes after \x01 become the .env file
  {
    std::ofstream(dir + "/config.yml", std::ios::binary | std::ios::trunc) << text.substr(0, split);
    std::ofstream env(dir + "/.env", std::ios::binary | std::ios::trunc);
    if (split != std::string::npos) env << text.substr(split + 1);
  }
  fraudops::LoadOptions options;
  options.config_path = dir + "/config.yml";
  options.use_process_environment = false;
  auto config = fraudops::LoadConfig(options);
  (void)config;
  return 0;
}
