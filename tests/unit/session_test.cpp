#include <gtest/gtest.h>

#include "core/session.h"

namespace pge {
namespace {

TEST(Quoting, IdentifiersAreAlwaysQuotedAndInnerQuotesDoubled) {
  EXPECT_EQ(quote_ident("context_events"), "\"context_events\"");
  EXPECT_EQ(quote_ident("My \"Table\""), "\"My \"\"Table\"\"\"");
  EXPECT_EQ(quote_qualified("public", "t"), "\"public\".\"t\"");
  EXPECT_EQ(quote_literal("O'Reilly"), "'O''Reilly'");
}

constexpr const char* kTcp =
    "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=30000";
constexpr const char* kTcpUri =
    "&keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=30000";

TEST(Dsn, ApplicationNameConnectTimeoutAndTcpLivenessAreAddedUnlessSet) {
  EXPECT_EQ(augment_dsn("host=x", Seconds{5}),
            std::string("host=x application_name=pg_evolution_exporter connect_timeout=5 ") + kTcp);
  EXPECT_EQ(augment_dsn(std::string("host=x application_name=mine connect_timeout=2 ") + kTcp, Seconds{5}),
            std::string("host=x application_name=mine connect_timeout=2 ") + kTcp);
  EXPECT_EQ(augment_dsn("host=x keepalives_idle=60 tcp_user_timeout=0", Seconds{5}),
            "host=x keepalives_idle=60 tcp_user_timeout=0 application_name=pg_evolution_exporter "
            "connect_timeout=5 keepalives=1 keepalives_interval=5 keepalives_count=3");
  EXPECT_EQ(augment_dsn("postgresql://h/db", Seconds{3}),
            std::string("postgresql://h/db?application_name=pg_evolution_exporter&connect_timeout=3") + kTcpUri);
  EXPECT_EQ(augment_dsn("postgresql://h/db?sslmode=disable", Seconds{3}),
            std::string("postgresql://h/db?sslmode=disable&application_name=pg_evolution_exporter&connect_timeout=3") +
                kTcpUri);
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
