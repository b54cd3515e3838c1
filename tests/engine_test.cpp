#include <doctest/doctest.h>

#include <set>
#include <tuple>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/engine/random.hpp"

using namespace foresight;

namespace {
class Recorder : public EventHandler {
 public:
  std::vector<std::uint64_t> tags;
  std::vector<Time> times;
  void handle_event(Engine& engine, std::uint64_t tag) override {
    tags.push_back(tag);
    times.push_back(engine.now());
  }
};
}  // namespace

TEST_CASE("events fire in time order, then priority, then insertion order") {
  Engine engine;
  Recorder r;
  engine.schedule_at(30, r, 1);
  engine.schedule_at(10, r, 2);
  engine.schedule_at(20, r, 3, /*priority=*/1);
  engine.schedule_at(20, r, 4, /*priority=*/-1);  // same time, lower priority value first
  engine.schedule_at(20, r, 5, 1);                // same time and priority: after tag 3
  engine.schedule_at(10, r, 6);                   // same time and priority: after tag 2
  engine.run();
  CHECK(r.tags == std::vector<std::uint64_t>{2, 6, 4, 3, 5, 1});
  CHECK(r.times == std::vector<Time>{10, 10, 20, 20, 20, 30});
  CHECK(engine.events_processed() == 6);
  CHECK(engine.now() == 30);
}

TEST_CASE("an event scheduled in the past is a model bug and throws") {
  Engine engine;
  Recorder r;
  engine.schedule_at(100, r, 0);
  engine.run();
  CHECK_THROWS_AS(engine.schedule_at(99, r, 0), std::logic_error);
  CHECK_NOTHROW(engine.schedule_at(100, r, 0));  // now itself is allowed
}

TEST_CASE("run stops at the horizon and resumes") {
  Engine engine;
  Recorder r;
  for (Time t : {5, 10, 15, 20}) engine.schedule_at(t, r, static_cast<std::uint64_t>(t));
  engine.run(12);
  CHECK(r.tags.size() == 2);
  CHECK(engine.pending() == 2);
  engine.run();
  CHECK(r.tags.size() == 4);
}

TEST_CASE("closures scheduled with call_at run at their time and may schedule more") {
  Engine engine;
  std::vector<std::string> log;
  engine.call_at(10, [&] {
    log.push_back("a@" + std::to_string(engine.now()));
    engine.call_at(engine.now() + 5, [&] { log.push_back("c@" + std::to_string(engine.now())); });
  });
  engine.call_at(12, [&] { log.push_back("b@" + std::to_string(engine.now())); });
  engine.run();
  CHECK(log == std::vector<std::string>{"a@10", "b@12", "c@15"});
}

TEST_CASE("many events with random times come out sorted and stable for ties") {
  // 20,000 events on 50 distinct times: the order must be by time, then by insertion.
  Engine engine;
  Recorder r;
  RandomStream rng(42, "engine_test");
  std::vector<Time> when(20000);
  for (std::size_t i = 0; i < when.size(); ++i) {
    when[i] = static_cast<Time>(rng.next_u64() % 50);
    engine.schedule_at(when[i], r, i);
  }
  engine.run();
  REQUIRE(r.tags.size() == when.size());
  for (std::size_t i = 1; i < r.tags.size(); ++i) {
    const Time a = when[r.tags[i - 1]], b = when[r.tags[i]];
    CHECK((a < b || (a == b && r.tags[i - 1] < r.tags[i])));
  }
}

TEST_CASE("random streams are reproducible per seed and component, and differ between them") {
  RandomStream a(7, "arrivals"), b(7, "arrivals"), c(7, "lengths"), d(8, "arrivals");
  const std::uint64_t first = a.next_u64();
  CHECK(first == b.next_u64());
  CHECK(first != c.next_u64());
  CHECK(first != d.next_u64());
  // Mean of an exponential stream: within 3% of 2.0 for 100k draws (std error 0.3%).
  RandomStream e(1, "exp");
  double sum = 0;
  for (int i = 0; i < 100000; ++i) sum += e.exponential(2.0);
  CHECK(sum / 100000 == doctest::Approx(2.0).epsilon(0.03));
}

namespace {
// The obvious correct queue: a std::set ordered by (time, priority, insertion).
class ReferenceQueue {
 public:
  Time now() const { return now_; }
  void schedule_in(Time delay, std::uint64_t tag, int priority) {
    events_.insert({now_ + delay, priority, sequence_++, tag});
  }
  bool pop(std::uint64_t& tag) {
    if (events_.empty()) return false;
    const Event e = *events_.begin();
    events_.erase(events_.begin());
    now_ = e.when;
    tag = e.tag;
    return true;
  }

 private:
  struct Event {
    Time when;
    int priority;
    std::uint64_t sequence;
    std::uint64_t tag;
    bool operator<(const Event& o) const {
      return std::tie(when, priority, sequence) < std::tie(o.when, o.priority, o.sequence);
    }
  };
  std::set<Event> events_;
  Time now_ = 0;
  std::uint64_t sequence_ = 0;
};

// Each fired event schedules up to two more with random delays (a quarter of them zero,
// so ties at `now` are common) and random priorities in [-2, 2].
struct ChurnPlan {
  RandomStream rng{9, "churn"};
  std::uint64_t budget = 60000;
  std::uint64_t next_tag = 1000;
  template <class Schedule>
  void on_fire(Schedule schedule) {
    for (int i = 0; i < 2 && budget > 0; ++i, --budget) {
      const std::uint64_t r = rng.next_u64();
      const Time delay = (r & 3) == 0 ? 0 : static_cast<Time>((r >> 8) % 5000);
      schedule(delay, next_tag++, static_cast<int>((r >> 40) % 5) - 2);
    }
  }
};

class ChurnHandler : public EventHandler {
 public:
  ChurnPlan plan;
  std::vector<std::pair<Time, std::uint64_t>> fired;
  void handle_event(Engine& engine, std::uint64_t tag) override {
    fired.emplace_back(engine.now(), tag);
    plan.on_fire([&](Time delay, std::uint64_t t, int priority) {
      engine.schedule_in(delay, *this, t, static_cast<Priority>(priority));
    });
  }
};
}  // namespace

TEST_CASE("the event queue fires exactly as a brute-force ordered set does") {
  ChurnHandler handler;
  Engine engine;
  ReferenceQueue reference;
  ChurnPlan reference_plan;
  for (std::uint64_t i = 0; i < 100; ++i) {
    const Time when = static_cast<Time>(i * 37 % 101);
    engine.schedule_at(when, handler, i);
    reference.schedule_in(when, i, 0);
  }
  engine.run();
  std::vector<std::pair<Time, std::uint64_t>> expected;
  for (std::uint64_t tag; reference.pop(tag);) {
    expected.emplace_back(reference.now(), tag);
    reference_plan.on_fire([&](Time delay, std::uint64_t t, int priority) { reference.schedule_in(delay, t, priority); });
  }
  REQUIRE(expected.size() == 60100);
  CHECK(handler.fired == expected);
}
