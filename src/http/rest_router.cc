#include "http/rest_router.h"

#include <algorithm>
#include <cctype>

namespace riffle::http {
namespace {

bool IsParam(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// "{name+}": API Gateway's greedy path variable, the last segment of its
// pattern.
bool IsGreedy(const std::string& segment) {
  return segment.size() >= 4 && IsParam(segment) &&
         segment[segment.size() - 2] == '+';
}

// How specific a pattern segment is: a literal, then a parameter, then a
// greedy parameter.
int SegmentRank(const std::string& segment) {
  return IsGreedy(segment) ? 2 : IsParam(segment) ? 1 : 0;
}

void DefaultNotFound(Request, Responder respond) {
  Response r;
  r.status = 404;
  r.SetHeader("content-type", "text/plain");
  r.body = "Not Found";
  respond(std::move(r));
}

void DefaultMethodNotAllowed(Request, std::vector<std::string> allowed,
                             Responder respond) {
  Response r;
  r.status = 405;
  std::string allow;
  for (const std::string& m : allowed) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  r.SetHeader("allow", allow);
  r.SetHeader("content-type", "text/plain");
  r.body = "Method Not Allowed";
  respond(std::move(r));
}

}  // namespace

const std::string& RouteMatch::Param(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return kEmpty;
}

std::optional<std::string> RouteMatch::Query(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [k, v] : query) {
    if (k == name) found = v;
  }
  return found;
}

bool RouteMatch::QueryBool(std::string_view name, bool fallback) const {
  std::optional<std::string> v = Query(name);
  if (!v) return fallback;
  std::string lower = *v;
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lower == "true";
}

bool SplitPath(std::string_view target, std::vector<std::string>* segments) {
  segments->clear();
  std::string_view path = target.substr(0, target.find('?'));
  if (size_t hash = path.find('#'); hash != std::string_view::npos) {
    path = path.substr(0, hash);
  }
  // An absolute-form target ("http://host/path") keeps only its path.
  if (size_t scheme = path.find("://"); scheme != std::string_view::npos) {
    size_t slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/")
                                           : path.substr(slash);
  }
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t end = path.find('/');
    std::string decoded;
    if (!PercentDecode(path.substr(0, end), &decoded)) return false;
    segments->push_back(std::move(decoded));
    path =
        end == std::string_view::npos ? std::string_view() : path.substr(end);
  }
  return true;
}

RestRouter::RestRouter() : routes_(std::make_shared<Routes>()) {
  routes_->not_found = DefaultNotFound;
  routes_->method_not_allowed = DefaultMethodNotAllowed;
}

void RestRouter::Add(std::string method, std::string_view pattern,
                     RestHandler handler) {
  Route route;
  route.method = std::move(method);
  std::string_view p = pattern;
  while (!p.empty()) {
    if (p.front() == '/') {
      p.remove_prefix(1);
      continue;
    }
    size_t end = p.find('/');
    route.segments.emplace_back(p.substr(0, end));
    p = end == std::string_view::npos ? std::string_view() : p.substr(end);
  }
  route.handler = std::move(handler);
  routes_->routes.push_back(std::move(route));
}

void RestRouter::SetNotFound(Handler handler) {
  routes_->not_found = std::move(handler);
}

void RestRouter::SetMethodNotAllowed(MethodNotAllowedHandler handler) {
  routes_->method_not_allowed = std::move(handler);
}

void RestRouter::Dispatch(Request request, Responder respond) const {
  DispatchTo(*routes_, std::move(request), std::move(respond));
}

Handler RestRouter::AsHandler() const {
  std::shared_ptr<const Routes> routes = routes_;
  return [routes](Request request, Responder respond) {
    DispatchTo(*routes, std::move(request), std::move(respond));
  };
}

void RestRouter::DispatchTo(const Routes& routes, Request request,
                            Responder respond) {
  std::vector<std::string> segments;
  if (!SplitPath(request.target, &segments)) {
    routes.not_found(std::move(request), std::move(respond));
    return;
  }
  // The best route for the path: a pattern without a greedy parameter
  // beats one with (API Gateway's order); then, at the first segment where
  // two matching patterns differ, a literal beats a parameter, which beats
  // a greedy one (so the longer of two greedy patterns wins).
  auto more_specific = [](const Route& a, const Route& b) {
    bool ga = !a.segments.empty() && IsGreedy(a.segments.back());
    bool gb = !b.segments.empty() && IsGreedy(b.segments.back());
    if (ga != gb) return !ga;
    for (size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
      int ra = SegmentRank(a.segments[i]), rb = SegmentRank(b.segments[i]);
      if (ra != rb) return ra < rb;
    }
    return false;
  };
  const Route* best = nullptr;
  const Route* best_any_method = nullptr;
  bool wildcard_matched = false;
  std::vector<std::string> allowed;
  for (const Route& route : routes.routes) {
    // A greedy parameter takes one segment or more.
    bool greedy = !route.segments.empty() && IsGreedy(route.segments.back());
    if (greedy ? segments.size() < route.segments.size()
               : route.segments.size() != segments.size()) {
      continue;
    }
    bool match = true;
    for (size_t i = 0; i < route.segments.size() && match; ++i) {
      match = IsParam(route.segments[i]) || route.segments[i] == segments[i];
    }
    if (!match) continue;
    if (!best_any_method || more_specific(route, *best_any_method)) {
      best_any_method = &route;
    }
    bool wildcard = route.method == kAnyMethod;
    wildcard_matched |= wildcard;
    if (!wildcard && route.method != request.method) continue;
    // Two matching patterns that are not more specific than each other
    // are the same pattern: there the request's own method wins.
    if (!best || more_specific(route, *best) ||
        (!more_specific(*best, route) && best->method == kAnyMethod &&
         !wildcard)) {
      best = &route;
    }
  }
  if (best && !wildcard_matched && best_any_method &&
      more_specific(*best_any_method, *best)) {
    // A more specific pattern exists under other methods: that pattern is
    // the resource the client addressed. Not where a route of any method
    // matches the path: every method is served there, and the best match
    // by method and path answers, as in API Gateway.
    best = nullptr;
  }
  if (!best) {
    if (!best_any_method) {
      routes.not_found(std::move(request), std::move(respond));
      return;
    }
    for (const Route& route : routes.routes) {
      if (route.segments == best_any_method->segments &&
          std::find(allowed.begin(), allowed.end(), route.method) ==
              allowed.end()) {
        allowed.push_back(route.method);
      }
    }
    routes.method_not_allowed(std::move(request), std::move(allowed),
                              std::move(respond));
    return;
  }
  RouteMatch match;
  for (size_t i = 0; i < best->segments.size(); ++i) {
    const std::string& p = best->segments[i];
    if (IsGreedy(p)) {
      // The rest of the path, its decoded segments joined by slashes.
      std::string rest = std::move(segments[i]);
      for (size_t j = i + 1; j < segments.size(); ++j) {
        rest += '/';
        rest += segments[j];
      }
      match.params.emplace_back(p.substr(1, p.size() - 3), std::move(rest));
    } else if (IsParam(p)) {
      match.params.emplace_back(p.substr(1, p.size() - 2),
                                std::move(segments[i]));
    }
  }
  match.query = ParseQuery(request.query);
  best->handler(std::move(request), std::move(match), std::move(respond));
}

}  // namespace riffle::http
