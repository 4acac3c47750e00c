/* finews: the service worker. Pages a reader has opened stay readable offline.
   Pages: the network first, the copy saved last time when there is no network.
   Versioned assets (?v=…, never changed under one URL): the saved copy first.
   Never saved: the event stream, the API, search, feeds, status and metrics. */
"use strict";

var CACHE = "finews-pages-v1";
var KEEP = 300; /* pages and assets kept, newest first */
var LIVE_ONLY = /^\/(events|api\/|search|status|metrics|healthz|readyz|feed|rss\.xml|feeds\/)/;

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("finews-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () {
      return self.clients.claim();
    }).then(function () {
      /* the pages open now were loaded before this worker: save them too */
      return self.clients.matchAll({ type: "window" });
    }).then(function (windows) {
      return Promise.all(windows.filter(function (client) {
        return kept(new URL(client.url));
      }).map(function (client) {
        var request = new Request(client.url);
        return fetch(request).then(function (response) {
          return save(request, response);
        }).catch(function () {});
      }));
    })
  );
});

function trim(cache) {
  return cache.keys().then(function (keys) {
    var extra = keys.length - KEEP;
    var removals = [];
    for (var i = 0; i < extra; i += 1) removals.push(cache.delete(keys[i]));
    return Promise.all(removals);
  });
}

function save(request, response) {
  if (!response || response.status !== 200 || response.type !== "basic") return response;
  var copy = response.clone();
  /* delete, then put: the newest page goes last, and trim drops the oldest first */
  caches.open(CACHE).then(function (cache) {
    return cache.delete(request).then(function () {
      return cache.put(request, copy);
    }).then(function () { return trim(cache); });
  });
  return response;
}

/* whether a URL is a page or asset of this site worth saving */
function kept(url) {
  if (url.origin !== self.location.origin) return false;
  var scope = new URL(self.registration.scope).pathname;
  if (url.pathname.indexOf(scope) !== 0) return false;
  return !LIVE_ONLY.test("/" + url.pathname.slice(scope.length));
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (!kept(url)) return;
  if (url.searchParams.has("v")) {
    event.respondWith(caches.match(request).then(function (saved) {
      return saved || fetch(request).then(function (response) { return save(request, response); });
    }));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      return save(request, response);
    }, function (error) {
      return caches.match(request).then(function (saved) {
        if (saved) return saved;
        throw error;
      });
    }));
  }
});
