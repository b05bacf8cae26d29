#include "core/session.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <pqxx/pqxx>

#include "core/dsn.h"

namespace pge {

Rows::Rows(std::vector<std::string> columns, std::vector<std::vector<Value>> rows)
    : columns_(std::move(columns)), rows_(std::move(rows)) {}

std::size_t Rows::column(const std::string& name) const {
  auto it = std::find(columns_.begin(), columns_.end(), name);
  if (it == columns_.end()) throw std::out_of_range("result has no column '" + name + "'");
  return static_cast<std::size_t>(it - columns_.begin());
}

bool Rows::has_column(const std::string& name) const {
  return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
}

std::string Rows::text(std::size_t row, const std::string& col) const {
  const Value& v = at(row, col);
  return v ? *v : std::string{};
}

std::optional<double> Rows::number(std::size_t row, const std::string& col) const {
  const Value& v = at(row, col);
  if (!v) return std::nullopt;
  if (*v == "t" || *v == "true") return 1.0;
  if (*v == "f" || *v == "false") return 0.0;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str()) {
    throw std::invalid_argument("column '" + col + "' is not numeric: '" + *v + "'");
  }
  return d;
}

bool Rows::flag(std::size_t row, const std::string& col) const {
  const Value& v = at(row, col);
  return v && (*v == "t" || *v == "true");
}

Rows Rows::filter(const std::function<bool(std::size_t)>& keep) const {
  std::vector<std::vector<Value>> kept;
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    if (keep(r)) kept.push_back(rows_[r]);
  }
  return Rows(columns_, std::move(kept));
}

namespace {

// `text` between two `quote` characters, each inner one doubled: the SQL rule for identifiers (")
// and for string literals (').
std::string quote_doubling(const std::string& text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out += quote;
    out += c;
  }
  return out + quote;
}

}  // namespace

std::string marked(const std::string& sql) { return std::string(kStatementMarker) + " " + sql; }

bool is_marked(const std::string& text) { return text.rfind(kStatementMarker, 0) == 0; }

std::string quote_ident(const std::string& name) { return quote_doubling(name, '"'); }

std::string quote_qualified(const std::string& schema, const std::string& name) {
  return schema.empty() ? quote_ident(name) : quote_ident(schema) + "." + quote_ident(name);
}

std::string quote_literal(const std::string& value) { return quote_doubling(value, '\''); }

namespace {

std::string sqlstate_of(const pqxx::sql_error& e) { return e.sqlstate(); }

std::string ms(Seconds s) {
  return std::to_string(static_cast<long long>(s.count() * 1000.0 + 0.5)) + "ms";
}

}  // namespace

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t pos = text.find(secret); pos != std::string::npos;
       pos = text.find(secret, pos + 6)) {
    text.replace(pos, secret.size(), "******");
  }
  return text;
}

namespace {

Rows to_rows(const pqxx::result& r) {
  std::vector<std::string> cols;
  const auto ncols = r.columns();
  cols.reserve(ncols);
  for (pqxx::row::size_type c = 0; c < ncols; ++c) cols.emplace_back(r.column_name(c));
  std::vector<std::vector<Value>> rows;
  rows.reserve(r.size());
  for (const auto& row : r) {
    std::vector<Value> values;
    values.reserve(ncols);
    for (const auto& f : row) {
      if (f.is_null()) {
        values.emplace_back(std::nullopt);
      } else {
        values.emplace_back(std::string(f.c_str(), f.size()));
      }
    }
    rows.push_back(std::move(values));
  }
  return Rows(std::move(cols), std::move(rows));
}

// A client deadline for the statements run while it lives.
class Deadline {
 public:
  Deadline(QueryWatchdog& watchdog, Seconds timeout, Seconds margin) : watchdog_(watchdog) {
    if (watchdog.interrupted()) throw ConnectionLost("shutting down");
    using D = QueryWatchdog::Clock::duration;
    watchdog.arm(std::chrono::duration_cast<D>(timeout + margin),
                 std::chrono::duration_cast<D>(margin));
  }
  ~Deadline() { watchdog_.disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  QueryWatchdog& watchdog_;
};

// The Session handed to a collector: a thin view of the transaction the Connection opened on a
// nontransaction (statements sent as they are). After a broken connection it refuses to send more.
// Every statement it sends, BEGIN, SET, savepoints and the end included, runs under a client
// deadline of statement_timeout + margin: a server that hangs hangs on those as well.
class TransactionSession final : public Session {
 public:
  TransactionSession(pqxx::nontransaction& tx, int version, const std::string& password,
                     QueryWatchdog& watchdog, Seconds timeout, Seconds margin)
      : tx_(tx),
        version_(version),
        password_(password),
        watchdog_(watchdog),
        timeout_(timeout),
        margin_(margin) {}

  Rows query(const std::string& sql, const std::vector<Value>& params) override {
    try {
      return to_rows(send(marked(sql), params));
    } catch (const pqxx::sql_error& e) {
      throw QueryError(scrub(e.what(), password_), sqlstate_of(e));
    }
  }

  std::optional<Rows> try_query(const std::string& sql, std::string* error,
                                const std::vector<Value>& params) override {
    // A savepoint: on failure only it rolls back and the transaction stays usable.
    send(marked("SAVEPOINT pge_try"));
    try {
      Rows rows = to_rows(send(marked(sql), params));
      send(marked("RELEASE SAVEPOINT pge_try"));
      return rows;
    } catch (const pqxx::sql_error& e) {
      if (error) *error = scrub(first_line(e.what()), password_);
      send(marked("ROLLBACK TO SAVEPOINT pge_try"));
      return std::nullopt;
    }
  }

  int server_version() const override { return version_; }

  // Sends one marked statement outside any collector (BEGIN, the limits, the end).
  void control(const std::string& sql) { send(sql); }
  bool broken() const { return broken_; }

 private:
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  // Every statement goes through here: a broken connection becomes ConnectionLost, once and for
  // all.
  pqxx::result send(const std::string& sql, const std::vector<Value>& params = {}) {
    if (broken_) throw ConnectionLost("connection lost earlier in this transaction");
    Deadline deadline(watchdog_, timeout_, margin_);
    try {
      if (params.empty()) return tx_.exec(sql);
      std::vector<const char*> raw;
      raw.reserve(params.size());
      for (const auto& p : params) raw.push_back(p ? p->c_str() : nullptr);
      return tx_.exec_params(sql, pqxx::prepare::make_dynamic_params(raw));
    } catch (const pqxx::broken_connection& e) {
      broken_ = true;
      throw ConnectionLost(scrub(e.what(), password_));
    }
  }

  pqxx::nontransaction& tx_;
  int version_;
  const std::string& password_;
  bool broken_ = false;
  QueryWatchdog& watchdog_;
  Seconds timeout_;
  Seconds margin_;
};

// libpqxx 6.4 keeps its PGconn private; a connection policy sees it when it connects. The policy
// runs in the constructor, on the worker thread that reads this right afterwards.
thread_local pqxx::internal::pq::PGconn* t_connected = nullptr;

class CapturingConnect : public pqxx::connect_direct {
 public:
  using pqxx::connect_direct::connect_direct;
  handle do_startconnect(handle orig) override {
    handle h = pqxx::connect_direct::do_startconnect(orig);
    t_connected = h;
    return h;
  }
};

}  // namespace

struct Connection::Handle {
  explicit Handle(const std::string& dsn) : conn(dsn) {}
  pqxx::basic_connection_base<CapturingConnect> conn;
};

Connection::Connection(std::string dsn, Seconds connect_timeout, Seconds max_backoff,
                       std::shared_ptr<QueryWatchdog> watchdog, Seconds deadline_margin)
    : dsn_(augment_dsn(dsn, connect_timeout)),
      password_(dsn_password(dsn)),
      connect_timeout_(connect_timeout),
      max_backoff_(max_backoff),
      margin_(deadline_margin),
      watchdog_(watchdog ? std::move(watchdog) : std::make_shared<QueryWatchdog>()) {}

Connection::~Connection() {
  watchdog_->detach();
  conn_.reset();
}

bool Connection::is_open() const { return conn_ && conn_->conn.is_open(); }

void Connection::open() {
  t_connected = nullptr;
  conn_ = std::make_unique<Handle>(dsn_);
  // A broken connection is dropped and replaced by a new Handle (with back-off), never reused, so
  // the watchdog's socket and cancel handle always belong to the connection in use.
  watchdog_->attach(conn_->conn.sock(), t_connected ? PQgetCancel(t_connected) : nullptr);
  pqxx::nontransaction tx(conn_->conn);
  Deadline deadline(*watchdog_, connect_timeout_, margin_);
  tx.exec(marked("SELECT 1"));
}

bool Connection::ensure_open(std::chrono::steady_clock::time_point now, std::string* error) {
  if (is_open()) return true;
  if (now < next_attempt_) {
    if (error) *error = "waiting to reconnect (back-off)";
    return false;
  }
  try {
    open();
    backoff_ = Seconds{1};
    return true;
  } catch (const std::exception& e) {
    if (error) *error = scrub(e.what(), password_);
    drop(now);
    return false;
  }
}

void Connection::drop(std::chrono::steady_clock::time_point now) {
  watchdog_->detach();
  conn_.reset();
  next_attempt_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(backoff_);
  backoff_ = std::min(backoff_ * 2, max_backoff_);
}

void Connection::set_max_backoff(Seconds cap) {
  max_backoff_ = cap;
  backoff_ = std::min(backoff_, cap);
}

int Connection::server_version() const { return conn_ ? conn_->conn.server_version() : 0; }

void Connection::run(const TransactionLimits& limits, const std::function<void(Session&)>& fn) {
  if (!conn_) throw ConnectionLost("not connected");
  // One round trip: BEGIN, both limits and no JIT, each statement marked. Catalog and statistics
  // reads gain nothing from JIT, but the planner overrates the per-table sub-selects of the
  // pg_statio views and compiles: at 10,000 tables 2.5 s of the tables query's 4.6 s.
  const std::string begin =
      marked(limits.read_only ? "BEGIN READ ONLY" : "BEGIN") + "; " +
      marked("SET LOCAL statement_timeout = '" + ms(limits.statement_timeout) + "'") + "; " +
      marked("SET LOCAL lock_timeout = '" + ms(limits.lock_timeout) + "'") + "; " +
      marked("SET LOCAL jit = off");
  try {
    pqxx::nontransaction tx(conn_->conn);
    TransactionSession session(tx, conn_->conn.server_version(), password_, *watchdog_,
                               limits.statement_timeout, margin_);
    try {
      session.control(begin);
      fn(session);
    } catch (...) {
      try {
        if (!session.broken()) session.control(marked("ROLLBACK"));
      } catch (...) {
        // The collector's own error is the one to report; a failed ROLLBACK adds nothing.
      }
      throw;
    }
    session.control(marked(limits.read_only ? "ROLLBACK" : "COMMIT"));
  } catch (const pqxx::broken_connection& e) {
    throw ConnectionLost(scrub(e.what(), password_));
  } catch (const pqxx::sql_error& e) {
    throw QueryError(scrub(e.what(), password_), sqlstate_of(e));
  }
}

}  // namespace pge
