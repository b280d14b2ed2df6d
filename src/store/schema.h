#pragma once
/// The metadata store's schema as forward-only migrations, in SQL that SQLite and
/// PostgreSQL both run unchanged. A migration, once released, is never edited: changes
/// are new migrations appended to the list. docs/formats/metadata-schema.md describes it.

#include <cstdint>
#include <vector>

namespace fraudops {

struct Migration {
  int64_t version;
  const char* description;
  const char* sql;  ///< statements separated by ';'
};

const std::vector<Migration>& Migrations();

}  // namespace fraudops
