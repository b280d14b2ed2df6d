#include "core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fraudops {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Status MakeDirectories(const std::string& path) {
  if (path.empty()) return Status::Ok();
  std::error_code error;
  fs::create_directories(path, error);
  if (error) return Status::IoError("cannot create directory '" + path + "': " + error.message());
  return Status::Ok();
}

bool FileExists(const std::string& path) {
  std::error_code error;
  return fs::exists(path, error);
}

std::string TempPathFor(const std::string& path) {
  // The process and a number of its own: two threads writing one path never share a temp file.
  static std::atomic<uint64_t> next{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(next.fetch_add(1, std::memory_order_relaxed));
}

void WriteBack(FILE* file) {
  if (std::fflush(file) != 0) return;
  ::sync_file_range(
      ::fileno(file), 0, 0,
      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}

Status CommitTempFile(const std::string& temp, const std::string& path) {
  int fd = ::open(temp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    return Status::IoError("cannot rename '" + temp + "' to '" + path + "': " + reason);
  }
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::span<const std::string_view> parts) {
  FOPS_RETURN_IF_ERROR(MakeDirectories(fs::path(path).parent_path().string()));
  std::string temp = TempPathFor(path);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("cannot write '" + temp + "': " + std::strerror(errno));
    for (std::string_view part : parts)
      out.write(part.data(), static_cast<std::streamsize>(part.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return Status::IoError("short write to '" + temp + "'");
    }
  }
  return CommitTempFile(temp, path);
}

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  return WriteFileAtomic(path, std::span<const std::string_view>(&content, 1));
}

void FaultPoint(const char* point) {
  const char* pause = std::getenv("FRAUDOPS_FAULT_PAUSE");
  if (!pause || std::string_view(pause) != point) return;
  if (const char* marker = std::getenv("FRAUDOPS_FAULT_MARKER"))
    (void)WriteFileAtomic(marker, point);
  std::this_thread::sleep_for(std::chrono::seconds(120));
}

}  // namespace fraudops
