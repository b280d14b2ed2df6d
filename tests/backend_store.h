#pragma once
/// The fixture of the store tests that run on both metadata backends: a store on SQLite in a
/// temporary directory, or on a scratch PostgreSQL database (skipped without one, failed
/// under CI; see server_util.h). Subclasses call BackendStoreTest::SetUp() first and return
/// when it skipped or failed.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server_util.h"
#include "store/metadata_store.h"
#include "test_util.h"

namespace fraudops::testing {

class BackendStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    url_ = "sqlite:" + dir_.File("fraudops.db");
    if (GetParam() == "postgresql") {
      FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
      database_ = std::make_unique<ScratchDatabase>(admin);
      ASSERT_TRUE(database_->error().empty()) << database_->error();
      url_ = database_->url();
    }
    auto opened = MetadataStore::Open(url_, "");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  /// True when SetUp skipped the test or failed: the subclass's SetUp stops there.
  bool NotSetUp() const { return IsSkipped() || HasFatalFailure(); }

  TempDir dir_;
  std::unique_ptr<ScratchDatabase> database_;
  std::string url_;  ///< the store's URL, to open it again
  std::unique_ptr<MetadataStore> store_;
};

}  // namespace fraudops::testing
