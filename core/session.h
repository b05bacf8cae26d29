// Database access for collectors. `Session` is the small query interface a collector sees (unit
// tests hand collectors a fake one with canned rows); `Database` is what the scheduler needs of a
// target's connection. `Connection` implements it with the target's one libpqxx connection: opens
// it with back-off and runs each collector inside its own read-only transaction with SET LOCAL
// timeouts (works through transaction-mode poolers; no named prepared statements, no session SET).
// A Connection and the Sessions it hands out belong to one thread: the target's worker.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/query_watchdog.h"

namespace pge {

using Value = std::optional<std::string>;  // one field as text; nullopt is SQL NULL

// A query result held as text, detached from libpq.
class Rows {
 public:
  Rows() = default;
  Rows(std::vector<std::string> columns, std::vector<std::vector<Value>> rows);

  std::size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  const std::vector<std::string>& columns() const { return columns_; }
  // Column index by name; throws std::out_of_range naming the column when absent.
  std::size_t column(const std::string& name) const;
  bool has_column(const std::string& name) const;

  const Value& at(std::size_t row, std::size_t col) const { return rows_[row][col]; }
  const Value& at(std::size_t row, const std::string& col) const { return rows_[row][column(col)]; }
  // The field as a string ("" for NULL), a number (nullopt for NULL), or a boolean (false for
  // NULL).
  std::string text(std::size_t row, const std::string& col) const;
  std::optional<double> number(std::size_t row, const std::string& col) const;
  bool flag(std::size_t row, const std::string& col) const;
  // The rows for which keep(row index) is true.
  Rows filter(const std::function<bool(std::size_t)>& keep) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<Value>> rows_;
};

// Carries the SQLSTATE of a failed statement so that callers can tell a lock timeout (55P03), a
// statement timeout (57014), a missing object (42P01/42883) or a privilege problem (42501) apart.
class QueryError : public std::runtime_error {
 public:
  QueryError(const std::string& message, std::string sqlstate)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool is_lock_timeout() const { return sqlstate_ == "55P03"; }
  bool is_statement_timeout() const { return sqlstate_ == "57014"; }

 private:
  std::string sqlstate_;
};

// The connection broke (server down, restarted, network); the worker reconnects with back-off.
class ConnectionLost : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Session {
 public:
  virtual ~Session() = default;
  // Runs one statement with $1.. parameters (unnamed statement; values sent as text).
  // Throws QueryError or ConnectionLost.
  virtual Rows query(const std::string& sql, const std::vector<Value>& params = {}) = 0;
  // Like query, but inside a savepoint: a failure (missing extension, privilege, lock timeout)
  // returns nullopt with `error` set, and the transaction stays usable for the next statement.
  virtual std::optional<Rows> try_query(const std::string& sql, std::string* error = nullptr,
                                        const std::vector<Value>& params = {}) = 0;
  virtual int server_version() const = 0;  // e.g. 150020
};

// Every statement the exporter sends opens with this comment, transaction control included.
// pg_stat_statements keeps it in the entry's text (and, for utility statements, in the queryid), so
// the statements collector leaves the exporter's own statements out by what they are, not by role:
// an application may well run as the exporter's role (`postgres` on Supabase).
inline constexpr const char* kStatementMarker = "/* pg_evolution_exporter */";
// `sql` with the marker in front (a multi-statement string needs it in front of each statement).
std::string marked(const std::string& sql);
// Whether a pg_stat_statements text (leading white space trimmed by the server) is one of ours.
bool is_marked(const std::string& text);

// Quotes an identifier for SQL: always double-quoted, inner quotes doubled.
std::string quote_ident(const std::string& name);
// Quotes "schema.table" as "schema"."table" (a name without a dot is taken as one identifier).
std::string quote_qualified(const std::string& schema, const std::string& name);
// Quotes a string literal: single-quoted, inner quotes doubled, backslashes safe
// (standard_conforming_strings is on in every supported version).
std::string quote_literal(const std::string& value);

// `text` with every occurrence of `secret` replaced by "******".
std::string scrub(std::string text, const std::string& secret);

struct TransactionLimits {
  Seconds statement_timeout{5};
  Seconds lock_timeout{0.5};
  bool read_only = true;
};

// A target's database as the scheduler and `run_once` use it: open with back-off, run one
// transaction at a time. `Connection` is the real one; tests hand the scheduler fakes. Not
// thread-safe: owned by the target's worker thread.
class Database {
 public:
  virtual ~Database() = default;
  // Opens the connection unless it is open or the back-off delay has not passed yet, and checks
  // that it answers (SELECT 1 within connect_timeout). Returns whether it is open; on failure
  // `error` holds the (password-free) reason.
  virtual bool ensure_open(std::chrono::steady_clock::time_point now, std::string* error) = 0;
  virtual bool is_open() const = 0;
  // Drops a broken connection and doubles the back-off (capped).
  virtual void drop(std::chrono::steady_clock::time_point now) = 0;
  // Runs `fn` in one transaction with SET LOCAL statement_timeout / lock_timeout; rolls back
  // read-only transactions, commits write ones. Exceptions from `fn` propagate (as QueryError or
  // ConnectionLost for database errors) after the transaction is closed.
  virtual void run(const TransactionLimits& limits, const std::function<void(Session&)>& fn) = 0;
  virtual int server_version() const = 0;
  virtual std::chrono::steady_clock::time_point next_attempt() const = 0;
  // The longest back-off from now on: a reload may change it without reconnecting.
  virtual void set_max_backoff(Seconds cap) = 0;
};

// The one libpqxx connection of a target. It sends BEGIN, SAVEPOINT and the end of each transaction
// itself (a libpqxx transaction would send them without the marker); once a statement finds the
// connection broken, the transaction sends nothing more, so that libpqxx 6 never reconnects behind
// its back and runs the rest outside the read-only transaction and its timeouts. Only its watchdog
// is shared (the scheduler interrupts it on shutdown). Every statement, the transaction's own
// BEGIN/SET/COMMIT and the connection check included, runs under a client deadline of
// statement_timeout (connect_timeout for the check) + margin.
class Connection final : public Database {
 public:
  // `watchdog` (one per target) enforces the client deadlines; `deadline_margin` is added to each
  // statement_timeout. Without a watchdog the connection makes its own (tests, benchmarks).
  Connection(std::string dsn, Seconds connect_timeout, Seconds max_backoff,
             std::shared_ptr<QueryWatchdog> watchdog = nullptr,
             Seconds deadline_margin = Seconds{1});
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ensure_open(std::chrono::steady_clock::time_point now, std::string* error) override;
  bool is_open() const override;
  void drop(std::chrono::steady_clock::time_point now) override;
  void run(const TransactionLimits& limits, const std::function<void(Session&)>& fn) override;
  int server_version() const override;
  std::chrono::steady_clock::time_point next_attempt() const override { return next_attempt_; }
  void set_max_backoff(Seconds cap) override;

 private:
  // Opens the libpq connection and hands its socket and cancel handle to the watchdog.
  void open();
  std::string dsn_;
  std::string password_;
  Seconds connect_timeout_;
  Seconds max_backoff_;
  Seconds margin_;
  std::shared_ptr<QueryWatchdog> watchdog_;
  Seconds backoff_{1};
  std::chrono::steady_clock::time_point next_attempt_{};
  struct Handle;  // the pqxx::connection, kept out of this header
  std::unique_ptr<Handle> conn_;
};

}  // namespace pge
