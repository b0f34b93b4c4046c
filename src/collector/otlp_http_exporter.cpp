// OTLP/HTTP exporter: protobuf bodies (libprotobuf), optionally gzip (zlib),
// POSTed with libcurl from one worker thread. A bounded queue (in spans)
// absorbs a backend that is briefly down: the head request is retried with
// exponential backoff (honouring Retry-After) on 429, 5xx and connection
// errors, so nothing is lost while the queue has room; when it is full, new
// batches are dropped and counted. On shutdown the queue is sent until the
// drain deadline; what remains then is dropped and counted.
#include <curl/curl.h>
#include <zlib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "collector/exporter.hpp"
#include "collector/log.hpp"
#include "collector/otlp_proto.hpp"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace agent_run::collector {

namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      out.push_back(char(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// OTEL_EXPORTER_OTLP_HEADERS format: comma-separated key=value, values
// URL-encoded; or (from the launcher's resolved list) one raw key=value per line.
std::vector<std::string> parse_headers(const std::string& spec) {
  std::vector<std::string> out;
  bool lines = spec.find('\n') != std::string::npos;
  char sep = lines ? '\n' : ',';
  size_t start = 0;
  while (start < spec.size()) {
    size_t comma = spec.find(sep, start);
    if (comma == std::string::npos) comma = spec.size();
    std::string item = spec.substr(start, comma - start);
    size_t eq = item.find('=');
    if (eq != std::string::npos) {
      std::string key = trim(item.substr(0, eq));
      std::string value = lines ? trim(item.substr(eq + 1)) : url_decode(trim(item.substr(eq + 1)));
      if (!key.empty() && key.find_first_of("\r\n:") == std::string::npos && value.find_first_of("\r\n") == std::string::npos)
        out.push_back(key + ": " + value);
    }
    start = comma + 1;
  }
  return out;
}

bool gzip_compress(const std::string& in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&zs, uLong(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = uInt(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

size_t collect_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t n = size * nmemb;
  if (body->size() < (64u << 10)) body->append(data, std::min(n, (64u << 10) - body->size()));
  return n;
}

// Appends `b`'s spans to `a`, remapping resource indexes.
void merge_into(SpanBatch& a, SpanBatch&& b) {
  std::vector<uint32_t> remap(b.resources.size());
  for (size_t r = 0; r < b.resources.size(); ++r) {
    uint32_t idx = uint32_t(a.resources.size());
    for (uint32_t j = 0; j < a.resources.size(); ++j)
      if (a.resources[j] == b.resources[r]) idx = j;
    if (idx == a.resources.size()) a.resources.push_back(b.resources[r]);
    remap[r] = idx;
  }
  for (size_t i = 0; i < b.size(); ++i) a.add_from(remap[b.resource_of(i)], b, i);
}

class OtlpHttpExporter : public Exporter {
 public:
  explicit OtlpHttpExporter(const Options& o) : o_(o) {
    if (!o.otlp_traces_endpoint.empty()) {
      url_ = o.otlp_traces_endpoint;
    } else {
      std::string base = o.otlp_endpoint.empty() ? "http://localhost:4318" : o.otlp_endpoint;
      while (!base.empty() && base.back() == '/') base.pop_back();
      url_ = base + "/v1/traces";
    }
    gzip_ = o.otlp_compression == "gzip";
    headers_ = curl_slist_append(headers_, "Content-Type: application/x-protobuf");
    if (gzip_) headers_ = curl_slist_append(headers_, "Content-Encoding: gzip");
    for (const auto& h : parse_headers(o.otlp_headers)) headers_ = curl_slist_append(headers_, h.c_str());
  }

  ~OtlpHttpExporter() override {
    if (worker_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        deadline_ = 0;
      }
      cv_.notify_all();
      worker_.join();
    }
    if (headers_) curl_slist_free_all(headers_);
  }

  bool start(std::string& error) {
    curl_ = curl_easy_init();
    if (!curl_) {
      error = "otlp exporter: curl_easy_init failed";
      return false;
    }
    worker_ = std::thread([this] { run(); });
    Log::get().info("otlp: exporting to " + url_ + (gzip_ ? " (gzip)" : ""));
    return true;
  }

  const char* name() const override { return "otlp"; }

  void export_batch(SpanBatch&& batch) override {
    if (batch.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queued_spans_ + batch.size() > o_.otlp_queue_spans) {
      stats_.dropped_spans += batch.size();
      if (!queue_full_logged_) {
        queue_full_logged_ = true;
        Log::get().warn("otlp: queue full (" + std::to_string(o_.otlp_queue_spans) + " spans): dropping spans");
      }
      return;
    }
    queue_full_logged_ = false;
    queued_spans_ += batch.size();
    queue_.push_back(std::move(batch));
    cv_.notify_all();
  }

  void shutdown(uint64_t deadline_ms) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      deadline_ = deadline_ms;
    }
    cv_.notify_all();
    std::unique_lock<std::mutex> lock(mu_);
    auto until = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(deadline_ms > monotonic_ms() ? deadline_ms - monotonic_ms() : 0) +
                 std::chrono::milliseconds(200);
    done_cv_.wait_until(lock, until, [&] { return worker_done_; });
    bool done = worker_done_;
    lock.unlock();
    if (done)
      worker_.join();
    else
      worker_.detach();  // stuck in the network past the deadline: the process exits anyway
  }

  ExporterStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
      if (queue_.empty()) break;  // stopping and everything sent
      if (monotonic_ms() >= deadline_) {
        for (auto& b : queue_) stats_.dropped_spans += b.size();
        queue_.clear();
        queued_spans_ = 0;
        break;
      }
      SpanBatch req = std::move(queue_.front());
      queue_.pop_front();
      while (!queue_.empty() && req.size() + queue_.front().size() <= o_.otlp_max_request_spans) {
        merge_into(req, std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_spans_ -= req.size();
      lock.unlock();
      send_with_retry(req, lock);
      // send_with_retry returns with the lock held.
    }
    worker_done_ = true;
    done_cv_.notify_all();
  }

  // Called unlocked; returns with `lock` held.
  void send_with_retry(const SpanBatch& batch, std::unique_lock<std::mutex>& lock) {
    std::string body = encode_otlp_request(batch);
    if (gzip_) {
      std::string z;
      if (gzip_compress(body, z)) body.swap(z);
    }
    uint32_t backoff = o_.otlp_retry_initial_ms ? o_.otlp_retry_initial_ms : 1;
    std::minstd_rand rng{uint32_t(monotonic_ms())};
    uint64_t first_attempt = monotonic_ms();
    for (int attempt = 0;; ++attempt) {
      uint64_t now = monotonic_ms();
      uint64_t deadline;
      {
        std::lock_guard<std::mutex> g(mu_);
        deadline = deadline_;
      }
      if (now >= deadline) {
        lock.lock();
        stats_.dropped_spans += batch.size();
        return;
      }
      long timeout = long(std::min<uint64_t>(o_.otlp_timeout_ms ? o_.otlp_timeout_ms : 10000, deadline - now));
      long status = 0;
      long retry_after_ms = -1;
      std::string response;
      CURLcode rc = post(body, timeout, status, retry_after_ms, response);
      bool ok = rc == CURLE_OK && status >= 200 && status < 300;
      bool retryable = rc != CURLE_OK || status == 429 || (status >= 500 && status <= 599);
      if (ok) {
        int64_t rejected = 0;
        opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse resp;
        if (!response.empty() && resp.ParseFromString(response) && resp.has_partial_success()) {
          rejected = resp.partial_success().rejected_spans();
          if (rejected < 0 || uint64_t(rejected) > batch.size()) rejected = 0;
          if (rejected > 0)
            Log::get().warn("otlp: backend rejected " + std::to_string(rejected) +
                            " spans: " + resp.partial_success().error_message());
        }
        if (failing_) {
          failing_ = false;
          Log::get().info("otlp: backend accepts again");
        }
        lock.lock();
        stats_.requests++;
        stats_.exported_spans += batch.size() - uint64_t(rejected);
        stats_.dropped_spans += uint64_t(rejected);
        return;
      }
      std::string what = rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP " + std::to_string(status);
      if (!retryable) {
        Log::get().error("otlp: " + url_ + " answered " + what + ": " + std::to_string(batch.size()) +
                         " spans dropped (not retryable)");
        lock.lock();
        stats_.requests++;
        stats_.dropped_spans += batch.size();
        return;
      }
      if (monotonic_ms() - first_attempt >= o_.otlp_max_retry_ms) {
        Log::get().error("otlp: " + url_ + ": " + what + " for " + std::to_string(o_.otlp_max_retry_ms) +
                         " ms: " + std::to_string(batch.size()) + " spans dropped");
        lock.lock();
        stats_.requests++;
        stats_.dropped_spans += batch.size();
        return;
      }
      if (!failing_) {
        failing_ = true;
        Log::get().warn("otlp: " + url_ + ": " + what + "; retrying with backoff");
      }
      uint64_t delay = retry_after_ms >= 0 ? uint64_t(retry_after_ms) : backoff / 2 + rng() % (backoff / 2 + 1);
      backoff = std::min<uint32_t>(backoff * 2, o_.otlp_backoff_max_ms ? o_.otlp_backoff_max_ms : 1);
      lock.lock();
      stats_.requests++;
      stats_.retries++;
      uint64_t wake = monotonic_ms() + delay;
      // Wait for the backoff, or for a deadline set (or moved) by shutdown.
      while (monotonic_ms() < std::min(wake, deadline_)) {
        uint64_t until = std::min(wake, deadline_);
        uint64_t left = until - monotonic_ms();
        uint64_t before = deadline_;
        cv_.wait_for(lock, std::chrono::milliseconds(std::min<uint64_t>(left, 1000)));
        if (deadline_ != before) break;
      }
      lock.unlock();
    }
  }

  CURLcode post(const std::string& body, long timeout_ms, long& status, long& retry_after_ms, std::string& response) {
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "agent-run-collector");
    CURLcode rc = curl_easy_perform(curl_);
    status = 0;
    retry_after_ms = -1;
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
      curl_header* h = nullptr;
      if (curl_easy_header(curl_, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value) {
        char* end = nullptr;
        long secs = std::strtol(h->value, &end, 10);
        if (end != h->value && secs >= 0) retry_after_ms = std::min(secs, 300L) * 1000;
      }
    }
    return rc;
  }

  Options o_;
  std::string url_;
  bool gzip_ = false;
  curl_slist* headers_ = nullptr;
  CURL* curl_ = nullptr;
  std::thread worker_;

  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<SpanBatch> queue_;
  uint64_t queued_spans_ = 0;
  bool stop_ = false;
  bool worker_done_ = false;
  uint64_t deadline_ = UINT64_MAX;
  ExporterStats stats_;
  bool queue_full_logged_ = false;
  bool failing_ = false;  // worker thread only
};

}  // namespace

std::unique_ptr<Exporter> make_otlp_http_exporter(const Options& o, std::string& error) {
  auto e = std::make_unique<OtlpHttpExporter>(o);
  if (!e->start(error)) return nullptr;
  return e;
}

}  // namespace agent_run::collector
