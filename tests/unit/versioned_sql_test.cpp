// VersionedSql picks a collector's statement for the connected server's version (issue 15:
// PostgreSQL 15 and 17 name some statistics columns differently).
#include <gtest/gtest.h>

#include <stdexcept>

#include "collectors/collector.h"

namespace pge {
namespace {

const VersionedSql kSql({{150000, "fifteen"}, {170000, "seventeen"}});

TEST(VersionedSql, PicksTheNewestVariantNotAboveTheServerVersion) {
  EXPECT_EQ(kSql.for_server(150020), "fifteen");
  EXPECT_EQ(kSql.for_server(160008), "fifteen");
  EXPECT_EQ(kSql.for_server(170000), "seventeen");
  EXPECT_EQ(kSql.for_server(170006), "seventeen");
  EXPECT_EQ(kSql.for_server(180001), "seventeen");
}

TEST(VersionedSql, GivesTheOldestVariantToAnOlderServer) {
  EXPECT_EQ(kSql.for_server(140011), "fifteen");
}

TEST(VersionedSql, RejectsNoVariantsOrVariantsOutOfOrder) {
  EXPECT_THROW(VersionedSql({}), std::logic_error);
  EXPECT_THROW(VersionedSql({{170000, "b"}, {150000, "a"}}), std::logic_error);
}

TEST(VersionedSql, APlainStatementServesEveryVersion) {
  const VersionedSql plain("SELECT 1");
  EXPECT_EQ(plain.for_server(90600), "SELECT 1");
  EXPECT_EQ(plain.for_server(170000), "SELECT 1");
}

// A view a version lacks (pg_stat_io before 16): its variant is empty, and nothing is read.
TEST(VersionedSql, AnEmptyVariantStandsForAViewTheVersionLacks) {
  const VersionedSql io({{0, ""}, {160000, "SELECT * FROM pg_stat_io"}});
  EXPECT_EQ(io.for_server(150020), "");
  EXPECT_EQ(io.for_server(160004), "SELECT * FROM pg_stat_io");
}

}  // namespace
}  // namespace pge
