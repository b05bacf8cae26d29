#include "core/session.h"

#include <gtest/gtest.h>

namespace pge {
namespace {

TEST(Quoting, IdentifiersAreAlwaysQuotedAndInnerQuotesDoubled) {
  EXPECT_EQ(quote_ident("context_events"), "\"context_events\"");
  EXPECT_EQ(quote_ident("My \"Table\""), "\"My \"\"Table\"\"\"");
  EXPECT_EQ(quote_qualified("public", "t"), "\"public\".\"t\"");
  EXPECT_EQ(quote_literal("O'Reilly"), "'O''Reilly'");
}

TEST(Dsn, ScrubRemovesEveryOccurrenceOfTheSecret) {
  EXPECT_EQ(scrub("failed for pw hunter2 (hunter2)", "hunter2"), "failed for pw ****** (******)");
  EXPECT_EQ(scrub("nothing here", ""), "nothing here");
}

TEST(Rows, NumbersBooleansAndNulls) {
  Rows rows({"a", "b", "c"}, {{Value{"1.5"}, Value{"t"}, std::nullopt}});
  EXPECT_DOUBLE_EQ(*rows.number(0, "a"), 1.5);
  EXPECT_TRUE(rows.flag(0, "b"));
  EXPECT_FALSE(rows.number(0, "c"));
  EXPECT_EQ(rows.text(0, "c"), "");
  EXPECT_THROW(rows.column("missing"), std::out_of_range);
}

}  // namespace
}  // namespace pge
