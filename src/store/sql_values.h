#pragma once
/// Short constructors for SQL parameters, shared by the store's implementation files
/// (not part of the store's interface).

#include <cstdint>
#include <string>

#include "data/sql.h"

namespace fraudops::store_internal {

inline SqlValue Text(const std::string& s) { return SqlValue(s); }
inline SqlValue Int(int64_t i) { return SqlValue(i); }
inline SqlValue Real(double d) { return SqlValue(d); }
/// NULL for "", the text otherwise.
inline SqlValue OptionalText(const std::string& s) { return s.empty() ? SqlValue() : SqlValue(s); }

}  // namespace fraudops::store_internal
