#pragma once
/// The real servers the tests use (scripts/test-servers.sh starts them and exports their
/// addresses): a scratch PostgreSQL or MariaDB database, or S3 bucket, per test, dropped
/// afterwards. Without the variables a test is skipped, except under CI, where it fails.

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "core/s3.h"
#include "data/sql.h"

namespace fraudops::testing {

inline std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

inline std::string RandomSuffix() {
  std::random_device device;
  return std::to_string(device()) + std::to_string(device() % 1000);
}

/// Declares `name` as the value of the environment variable `var`, or skips the test.
#define FOPS_NEED_SERVER(name, var)                                                       \
  const std::string name = ::fraudops::testing::Env(var);                                 \
  if (name.empty()) {                                                                     \
    if (!::fraudops::testing::Env("CI").empty()) FAIL() << var << " is not set under CI"; \
    GTEST_SKIP() << var << " is not set: run the tests through scripts/test.sh";          \
  }

/// A database created for one test on the server at `admin_url` (postgresql:// or mysql://),
/// dropped when the object goes away.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& admin_url) : admin_url_(admin_url) {
    name_ = "fraudops_t" + RandomSuffix();
    bool postgres = admin_url.rfind("postgres", 0) == 0;
    auto admin = postgres ? OpenPostgres(admin_url) : OpenMysql(admin_url);
    if (!admin.ok()) {
      error_ = admin.status().ToString();
      return;
    }
    Status created = (*admin)->Exec("CREATE DATABASE " + name_);
    if (!created.ok()) error_ = created.ToString();
    url_ = admin_url.substr(0, admin_url.rfind('/') + 1) + name_;
  }
  ~ScratchDatabase() {
    bool postgres = admin_url_.rfind("postgres", 0) == 0;
    auto admin = postgres ? OpenPostgres(admin_url_) : OpenMysql(admin_url_);
    if (admin.ok())
      (void)(*admin)->Exec("DROP DATABASE IF EXISTS " + name_ + (postgres ? " WITH (FORCE)" : ""));
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }

 private:
  std::string admin_url_, name_, url_, error_;
};

/// S3 settings for the test server, as the AWS_* variables would give them.
inline S3Settings TestS3Settings(const std::string& endpoint) {
  S3Settings settings;
  settings.endpoint = endpoint;
  settings.access_key = Env("FOPS_TEST_S3_ACCESS_KEY");
  settings.secret_key = Env("FOPS_TEST_S3_SECRET_KEY");
  return settings;
}

/// The AWS_* variables for a child process using the test S3 server.
inline std::string TestS3Environment(const std::string& endpoint) {
  return "AWS_ENDPOINT_URL=" + endpoint + " AWS_ACCESS_KEY_ID=" + Env("FOPS_TEST_S3_ACCESS_KEY") +
         " AWS_SECRET_ACCESS_KEY=" + Env("FOPS_TEST_S3_SECRET_KEY") + " AWS_REGION=us-east-1";
}

}  // namespace fraudops::testing
